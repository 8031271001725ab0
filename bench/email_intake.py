"""Email intake benchmark: generated mail over SMTP to the real listener, processed by real Celery workers.

    .venv/bin/python bench/run.py --only email                 # 10,000 messages, 100k-ticket database
    .venv/bin/python bench/run.py --only email --messages 1000 # a quick run

What it does, in its own database (`helpdesk_bench_email`, seeded with 100k demo tickets once):

1. Generates N messages: two thirds open tickets, a third are replies to earlier generated messages
   (most by In-Reply-To/References, some only by the `[#n]` tag in the subject, from the ticket's
   requester), a tenth carry attachments (a PNG and a CSV), a fifth are Chinese (GB2312, Big5 or
   UTF-8 subjects and bodies), half of the new ones multipart/alternative with HTML.
2. Baselines in the same run: the same rows INSERTed into `channels_intake_rawinbound` by one client
   (one commit each), and the SMTP listener alone (no worker) storing a sample: where the time goes.
3. Starts the web (gunicorn, 2 sync workers), the SMTP listener (`manage.py run_smtp_intake`) and the
   Celery worker(s) as separate processes, as `make run` does, delivers the messages over several
   SMTP connections, and probes /healthz and the queue page while the mail is processed.
4. Per message: from the start of DATA (client clock) to `RawInbound.processed_at` (set in the
   transaction that commits the ticket message); throughput end to end; p50/p95.
5. Checks that every message became a ticket message (or is failed/suspended, counted) and that the
   replies landed on their parent's ticket (tickets opened == messages that are not replies).
6. In process: SQL queries and milliseconds per mail of `raw_inbound_process` (cProfile with --profile).

Reply order is kept as a mail client would: a reply is only sent once its parent was accepted (250),
and a subject-tag reply once its parent's ticket number exists (the sender saw the ticket's mail).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import random
import smtplib
import statistics
import struct
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path

from bench import database, loadgen, report, servers

BASE_DIR = Path(__file__).resolve().parent.parent
LOG_DIR = BASE_DIR / ".data" / "bench"
EMAIL_DATABASE = "helpdesk_bench_email"
EMAIL_TICKETS = 100_000
EMAIL_REDIS_DB = 61  # the bench's own Redis database: flushed before each run (queued tasks of a crashed run)
SENDER_DOMAIN = "mail-bench.example"
TEAM_ADDRESS = "support@intake-bench.example"
TARGET_RATE = 150.0
MAX_REPLIES_PER_TICKET = 4
TARGET_P95_SECONDS = 2.0

CHINESE_SIMPLIFIED = [
    ("打印机无法连接网络", "您好，我们办公室的打印机从今天早上开始无法连接网络，重启后仍然不行。请尽快帮忙处理，谢谢！"),
    ("发票金额有误", "上个月的发票金额与合同不符，请核对后重新开具。附件是合同的相关页面。"),
    ("无法登录账户", "我输入正确的密码后仍然提示错误，已经尝试重置密码三次，请帮忙查看。"),
]
CHINESE_TRADITIONAL = [
    ("印表機無法連線", "您好，我們辦公室的印表機從今天早上開始無法連線，重新開機後仍然不行。請盡快協助處理，謝謝！"),
    ("帳單金額有誤", "上個月的帳單金額與合約不符，請核對後重新開立。"),
    ("無法登入帳戶", "我輸入正確的密碼後仍然顯示錯誤，已經嘗試重設密碼三次，請幫忙查看。"),
]
ENGLISH = [
    ("Printer offline since this morning", "Hello,\n\nthe printer on the second floor stopped printing this morning. "
     "We restarted it twice and it still shows as offline.\n\nCould you have a look?\n\nThanks,\n"),
    ("Invoice amount looks wrong", "Hi,\n\nthe invoice for November charges 12 seats but we only have 10. "
     "Please send a corrected invoice.\n\nBest regards,\n"),
    ("Cannot log in to the portal", "Hello,\n\nsince yesterday I cannot log in: the page says my password is wrong "
     "although I reset it twice.\n\nRegards,\n"),
]


@dataclass
class Planned:
    index: int
    message_id: str  # without angle brackets
    sender: str
    name: str
    subject: str
    body: str
    charset: str  # utf-8, gb2312, big5
    html: bool
    attachments: bool
    parent: int | None = None  # index of the message replied to
    root: int | None = None  # index of the message that opened the ticket
    by_subject: bool = False  # a reply threaded only by the [#n] tag of its subject
    references: list[str] = field(default_factory=list)


def _png(rng: random.Random, size: int = 64) -> bytes:
    """A valid PNG of noise (incompressible, so its size is what a photo of that many pixels costs)."""
    raw = b"".join(b"\x00" + rng.randbytes(size * 3) for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def plan_messages(count: int, *, run_id: str, seed: int = 7) -> list[Planned]:
    """The messages of one run (deterministic for a seed), in the order they are delivered."""
    rng = random.Random(seed)
    senders = max(count // 3, 5)
    planned: list[Planned] = []
    replies_to = [0] * count  # per opener
    for index in range(count):
        message_id = f"{run_id}.{index}@{SENDER_DOMAIN}"
        is_reply = index >= 20 and rng.random() < 1 / 3
        chinese = rng.random() < 1 / 5
        charset = rng.choice(("gb2312", "big5", "utf-8")) if chinese else "utf-8"
        if is_reply:
            # Most replies answer recent mail (a conversation going on), some older mail.
            window = 40 if rng.random() < 0.5 else index
            parent = planned[rng.randrange(max(0, index - window), index)]
            root = parent.root if parent.root is not None else parent.index
            if replies_to[root] >= MAX_REPLIES_PER_TICKET:
                # A long conversation would be one sender mailing dozens of times a minute here (the
                # run squeezes hours of mail into minutes): the sender rate limit would suspend it.
                parent = planned[root]
                while replies_to[parent.index] >= MAX_REPLIES_PER_TICKET or parent.parent is not None:
                    parent = planned[rng.randrange(0, index)]
                    parent = planned[parent.root] if parent.root is not None else parent
                root = parent.index
            replies_to[root] += 1
            opener = planned[root]
            by_subject = rng.random() < 0.3
            # A subject-tag reply waits for its parent's ticket: from far enough back that it exists.
            if by_subject and index - root < 200:
                by_subject = False
            subject = opener.subject if opener.subject.lower().startswith("re:") else f"Re: {opener.subject}"
            if opener.charset == "big5":
                subject = f"回覆：{opener.subject}"
            elif opener.charset == "gb2312":
                subject = f"回复：{opener.subject}"
            quoted = "\n".join(f"> {line}" for line in parent.body.splitlines())
            text = "谢谢，问题已经解决了。" if opener.charset == "gb2312" else (
                "謝謝，問題已經解決了。" if opener.charset == "big5" else "Thanks, that fixed it. One more question: "
                "does this also apply to the other office?\n")
            body = f"{text}\n\nOn Tue, 1 Dec 2026, support wrote:\n{quoted}\n"
            planned.append(Planned(
                index=index, message_id=message_id, sender=opener.sender, name=opener.name, subject=subject,
                body=body, charset=opener.charset, html=False, attachments=rng.random() < 0.1, parent=parent.index,
                root=root, by_subject=by_subject,
                references=[*parent.references, parent.message_id][-10:],
            ))
            continue
        number = rng.randrange(senders)
        sender = f"customer{number}@{SENDER_DOMAIN}"
        if charset == "gb2312":
            subject, body = rng.choice(CHINESE_SIMPLIFIED)
            name = f"王小明{number}"
        elif charset == "big5":
            subject, body = rng.choice(CHINESE_TRADITIONAL)
            name = f"陳大文{number}"
        elif chinese:
            subject, body = rng.choice(CHINESE_SIMPLIFIED + CHINESE_TRADITIONAL)
            name = f"李华{number}"
        else:
            subject, body = rng.choice(ENGLISH)
            name = f"Customer {number}"
            body += name + "\n"
        planned.append(Planned(
            index=index, message_id=message_id, sender=sender, name=name, subject=f"{subject} ({index})", body=body,
            charset=charset, html=rng.random() < 0.5, attachments=rng.random() < 0.1,
        ))
    return planned


def render_message(item: Planned, *, ticket_number: int | None, recipient: str, rng: random.Random) -> bytes:
    """The raw bytes of one planned message (ticket_number: for a subject-tag reply)."""
    subject = item.subject
    if item.by_subject and ticket_number is not None:
        subject = f"{subject} [#{ticket_number}]"
    body_part: MIMEText | MIMEMultipart
    text = MIMEText(item.body, "plain", item.charset)
    if item.html:
        paragraphs = "".join(f"<p>{line}</p>" for line in item.body.splitlines() if line.strip())
        html = MIMEText(f"<html><body><div style=\"font-family:Arial\">{paragraphs}</div></body></html>",
                        "html", item.charset)
        body_part = MIMEMultipart("alternative", _subparts=[text, html])
    else:
        body_part = text
    message: MIMEText | MIMEMultipart
    if item.attachments:
        message = MIMEMultipart("mixed", _subparts=[body_part])
        image = MIMEApplication(_png(rng), "png")
        image.replace_header("Content-Type", "image/png")
        image.add_header("Content-Disposition", "attachment", filename=f"screenshot-{item.index}.png")
        message.attach(image)
        rows = io.StringIO()
        writer = csv.writer(rows)
        writer.writerow(["date", "seats", "amount"])
        for day in range(1, 31):
            writer.writerow([f"2026-11-{day:02d}", rng.randrange(5, 20), rng.randrange(100, 900)])
        sheet = MIMEText(rows.getvalue(), "csv", "utf-8")
        sheet.add_header("Content-Disposition", "attachment", filename=f"usage-{item.index}.csv")
        message.attach(sheet)
    else:
        message = body_part
    message["From"] = formataddr((str(Header(item.name, item.charset)), item.sender))
    message["To"] = recipient
    message["Subject"] = Header(subject, item.charset) if item.charset != "utf-8" or not subject.isascii() else subject
    message["Date"] = format_datetime(datetime.now(tz=UTC))
    message["Message-ID"] = f"<{item.message_id}>"
    if item.parent is not None and not item.by_subject:
        message["In-Reply-To"] = f"<{item.references[-1]}>"
        message["References"] = " ".join(f"<{ref}>" for ref in item.references)
    return message.as_bytes()


# --- delivery --------------------------------------------------------------------------------------


@dataclass
class Delivered:
    data_started: float = 0.0  # wall clock (time.time) before DATA
    accepted: float = 0.0  # after 250
    reply_code: int = 0


class Deliverer:
    """Sends the planned messages over `connections` SMTP connections, each taking the next message."""

    def __init__(self, planned: list[Planned], *, port: int, connections: int, recipient: str, database_url: str,
                 rate: float = 0.0):
        self.planned = planned
        self.rate = rate  # messages/s offered (0: as fast as the connections go)
        self.started = 0.0
        self.sent = 0
        self.port = port
        self.connections = connections
        self.recipient = recipient
        self.database_url = database_url
        self.results = [Delivered() for _ in planned]
        # Rendered before the clock starts, so the client's CPU goes to the intake (only subject-tag
        # replies are written when sent: they carry the ticket number).
        rng = random.Random(17)
        self.rendered = [b"" if item.by_subject else render_message(item, ticket_number=None, recipient=recipient,
                                                                    rng=rng) for item in planned]
        self.accepted_events = [threading.Event() for _ in planned]
        self.next_index = 0
        self.put_off: set[int] = set()
        self.put_off_order: list[int] = []
        self.numbers: dict[str, int] = {}  # ticket numbers seen by the senders, by Message-ID
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.errors: list[str] = []

    def _ready(self, item: Planned) -> bool:
        """A subject-tag reply can be written once its customer got the ticket number (the opener is
        processed); a reply to a message that was put off waits for it."""
        if item.by_subject and item.root is not None and self.planned[item.root].message_id not in self.numbers:
            return False
        return item.parent is None or item.parent not in self.put_off or self.accepted_events[item.parent].is_set()

    def _take(self) -> int | None:
        """The next message to send; what is not ready yet is put off (so no connection waits), and
        sent as soon as it is, at the latest once the rest is sent."""
        with self.lock:
            for position, index in enumerate(self.put_off_order):
                if self._ready(self.planned[index]):
                    del self.put_off_order[position]
                    return index
            while self.next_index < len(self.planned):
                index = self.next_index
                self.next_index += 1
                if self._ready(self.planned[index]):
                    return index
                self.put_off.add(index)
                self.put_off_order.append(index)
            return self.put_off_order.pop(0) if self.put_off_order else None

    def _ticket_number(self, connection, message_id: str, deadline: float) -> int | None:
        """The ticket number of a processed message (a customer replying by subject has seen it)."""
        while time.monotonic() < deadline:
            if message_id in self.numbers:
                return self.numbers[message_id]
            row = connection.execute(
                "SELECT t.number FROM channels_intake_rawinbound r JOIN tickets_ticket t ON t.id = r.ticket_id"
                " WHERE r.header_message_id = %s AND r.state = 'processed'", [message_id]).fetchone()
            if row:
                self.numbers[message_id] = row[0]
                return row[0]
            time.sleep(0.05)
        return None

    def _learn_numbers(self) -> None:
        """Polls the ticket numbers of the openers that subject-tag replies wait for (one query a time)."""
        wanted = {self.planned[item.root].message_id for item in self.planned
                  if item.by_subject and item.root is not None}
        with database._connect(self.database_url, autocommit=True) as connection:
            while not self.done.is_set() and wanted - self.numbers.keys():
                missing = list(wanted - self.numbers.keys())
                for message_id, number in connection.execute(
                        "SELECT r.header_message_id, t.number FROM channels_intake_rawinbound r"
                        " JOIN tickets_ticket t ON t.id = r.ticket_id WHERE r.header_message_id = ANY(%s)"
                        " AND r.state = 'processed'", [missing]).fetchall():
                    self.numbers[message_id] = number
                self.done.wait(0.5)

    def _worker(self, worker_number: int) -> None:
        rng = random.Random(1000 + worker_number)
        client: smtplib.SMTP | None = None
        with database._connect(self.database_url, autocommit=True) as connection:
            try:
                while (index := self._take()) is not None:
                    item = self.planned[index]
                    if self.rate:
                        # Open loop: the n-th message is due n / rate seconds after the start.
                        with self.lock:
                            due = self.started + self.sent / self.rate
                            self.sent += 1
                        time.sleep(max(0.0, due - time.monotonic()))
                    number = None
                    if item.parent is not None:
                        self.accepted_events[item.parent].wait(timeout=300)
                        if item.by_subject:
                            assert item.root is not None
                            number = self._ticket_number(connection, self.planned[item.root].message_id,
                                                         time.monotonic() + 300)
                    raw = self.rendered[index] if number is None else render_message(
                        item, ticket_number=number, recipient=self.recipient, rng=rng)
                    if client is None:
                        client = smtplib.SMTP(servers.HOST, self.port, timeout=300)
                        client.ehlo("bench.example")
                    client.mail(item.sender)
                    client.rcpt(self.recipient)
                    result = self.results[index]
                    result.data_started = time.time()
                    code, answer = client.data(raw)
                    result.accepted = time.time()
                    result.reply_code = code
                    if code != 250:
                        self.errors.append(f"{item.message_id}: {code} {answer!r}")
                    self.accepted_events[index].set()
            except Exception as error:  # noqa: BLE001 - reported with the figures, not a crash of the run
                self.errors.append(f"connection {worker_number}: {type(error).__name__}: {error}")
            finally:
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.quit()

    def run(self) -> float:
        threads = [threading.Thread(target=self._worker, args=(n,), daemon=True) for n in range(self.connections)]
        learner = threading.Thread(target=self._learn_numbers, daemon=True)
        started = self.started = time.monotonic()
        learner.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.done.set()
        learner.join()
        return time.monotonic() - started


class WebProbe:
    """GETs /healthz and the queue page in turn, a few times a second, from one client."""

    def __init__(self, port: int, cookie_header: tuple[tuple[str, str], ...]) -> None:
        self.port = port
        self.requests = [loadgen.Request("GET", "/healthz", ()), loadgen.Request("GET", "/agent/", cookie_header)]
        self.samples: dict[str, list[float]] = {"/healthz": [], "/agent/": []}
        self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self, client: loadgen.SequentialClient, samples: dict[str, list[float]]) -> None:
        for request in self.requests:
            status, _body, milliseconds = client.send(request)
            samples[request.path].append(milliseconds)
            if status != 200:
                self.errors += 1

    def once(self, rounds: int) -> dict[str, list[float]]:
        samples: dict[str, list[float]] = {"/healthz": [], "/agent/": []}
        client = loadgen.SequentialClient(servers.HOST, self.port)
        try:
            self._sample(client, {"/healthz": [], "/agent/": []})  # warm up
            for _ in range(rounds):
                self._sample(client, samples)
        finally:
            client.close()
        return samples

    def _loop(self) -> None:
        client = loadgen.SequentialClient(servers.HOST, self.port)
        try:
            while not self.stop.is_set():
                self._sample(client, self.samples)
                self.stop.wait(0.2)
        finally:
            client.close()

    def __enter__(self) -> WebProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


# --- processes --------------------------------------------------------------------------------------


def _cpu_seconds(pid: str) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def cpu_snapshot(groups: dict[str, int]) -> dict[str, dict[str, float]]:
    """CPU seconds so far of each live process: per name of `groups` (process group ids), and
    "postgres" for the server processes serving the bench database (by their title)."""
    snapshot: dict[str, dict[str, float]] = {name: {} for name in [*groups, "postgres"]}
    by_group = {pgid: name for name, pgid in groups.items()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            name = by_group.get(int(stat[2]))
            if name is None:
                title = Path(f"/proc/{entry}/cmdline").read_bytes()
                name = "postgres" if title.startswith(b"postgres:") and EMAIL_DATABASE.encode() in title else None
            if name is not None:
                snapshot[name][entry] = _cpu_seconds(entry)
    return snapshot


def cpu_used(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, float]:
    """CPU seconds each group used between two snapshots (processes that ended meanwhile are missed)."""
    return {name: sum(seconds - before.get(name, {}).get(pid, 0.0) for pid, seconds in after[name].items())
            for name in after}


@contextlib.contextmanager
def process(name: str, argv: list[str], env: dict[str, str], *, ready: str | None = None, timeout: float = 90):
    """A child process in its own group (stopped with its children after), optionally waiting for a log line."""
    import signal

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"email-{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - kept open while the child runs
    child = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        if ready:
            deadline = time.monotonic() + timeout
            while ready not in log_path.read_text(errors="replace"):
                if child.poll() is not None:
                    raise RuntimeError(f"{name} exited with {child.returncode}; see {log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready within {timeout:.0f} s; see {log_path}")
                time.sleep(0.2)
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        log.close()


def worker_argv(*, concurrency: int, queues: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "-Q", queues, "--concurrency",
            str(concurrency), "-l", "INFO", "--without-gossip", "--without-mingle", "-n", "bench-email@%h"]


# --- the run ------------------------------------------------------------------------------------------


@dataclass
class Options:
    messages: int = 10_000
    connections: int = 8
    worker_processes: int = 2  # Celery --concurrency, as `make run` starts it
    workers: int = 1  # separate worker processes (each with worker_processes children)
    queues: str = "default,email_in,email_out,sla,metrics,webhooks"
    profile: bool = False
    baseline_sample: int = 2000
    rate: float = 0.0  # messages/s offered over SMTP; 0: as fast as the connections go (saturation)


@dataclass
class Result:
    options: Options
    run_id: str
    planned: int
    replies: int
    subject_replies: int
    attachments: int
    chinese: int
    bytes_total: int
    delivery_seconds: float
    accepted: int
    smtp_errors: list[str]
    end_to_end_seconds: float
    latencies: list[float]  # seconds, DATA start -> processed_at
    store_latencies: list[float]  # seconds, DATA start -> 250
    states: dict[str, int]
    tickets_opened: int
    expected_tickets: int
    misthreaded: int
    waited: int  # rows processed after waiting for their parent (attempts > 1)
    backlog_at_end_of_delivery: int
    insert_rate: float
    smtp_alone_rate: float
    smtp_alone_p50: float
    smtp_alone_p95: float
    idle_web: dict[str, list[float]]
    busy_web: dict[str, list[float]]
    web_errors: int
    queries_per_mail: float
    ms_per_mail: float
    cpu_ms_per_mail: float
    in_process_sample: int
    load_before: str
    load_during: str
    load_after: str
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process group while processing
    acknowledgements: bool = False
    seed: database.SeedInfo | None = None
    profile_path: str = ""


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _expected_tickets(planned: list[Planned], rows: dict) -> int:
    """Tickets the run should have opened: one per processed opener, plus one per conversation whose
    opener was not ticketed (suspended or failed) but a reply was (the first such reply opens one)."""
    def processed(item: Planned) -> bool:
        row = rows.get(item.message_id)
        return row is not None and row[0] == "processed"

    openers = {item.index for item in planned if item.root is None and processed(item)}
    orphans = {item.root for item in planned if item.root is not None and item.root not in openers and processed(item)}
    return len(openers) + len(orphans)


def prepare_team() -> str:
    """The support team owns the bench's address (the SMTP listener accepts mail only for a team's)."""
    from tickets.models import Team

    team = Team.objects.get(slug="support")
    if TEAM_ADDRESS not in team.email_addresses:
        team.email_addresses = [*team.email_addresses, TEAM_ADDRESS]
        team.save(update_fields=["email_addresses"])
    return TEAM_ADDRESS


def _acknowledgements_on() -> bool:
    """Whether the support team answers new mail with an acknowledgement (the demo seed turns it on)."""
    try:
        from channels_intake.models import TeamEmailSettings
    except ImportError:
        return False
    return TeamEmailSettings.objects.filter(team__slug="support", acknowledgement_enabled=True).exists()


def clean_up(say) -> None:
    """Remove what earlier runs delivered (tickets of the bench's senders, their customers, stored mail)."""
    from channels_intake.models import RawInbound
    from tickets.models import Customer, Ticket

    started = time.monotonic()
    RawInbound.objects.filter(envelope_sender__endswith="@" + SENDER_DOMAIN).delete()
    tickets, _ = Ticket.objects.filter(requester__email__endswith="@" + SENDER_DOMAIN).delete()
    Customer.objects.filter(email__endswith="@" + SENDER_DOMAIN).delete()
    if tickets:
        say(f"  removed an earlier run's {tickets:,} rows in {time.monotonic() - started:.0f} s")


def flush_redis(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def insert_baseline(url: str, raws: list[bytes], recipient: str) -> float:
    """Rows/s of one client INSERTing the same RawInbound rows, one commit each (then removed).

    The column list and the other values come from the model (an unsaved row with its defaults), so
    the statement follows the schema; only raw, size and sha256 change from row to row.
    """
    import hashlib

    from django.db import connection as django_connection
    from django.utils import timezone

    from channels_intake.models import Door, RawInbound, RawInboundState

    template = RawInbound(door=Door.SMTP, state=RawInboundState.DUPLICATE, received_at=timezone.now(),
                          envelope_sender="baseline@" + SENDER_DOMAIN, envelope_recipients=[recipient])
    fields = [field for field in RawInbound._meta.concrete_fields if not field.primary_key]
    values = {field.attname: field.get_db_prep_save(getattr(template, field.attname), django_connection)
              for field in fields}
    columns = ", ".join(f'"{field.column}"' for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {RawInbound._meta.db_table} ({columns}) VALUES ({placeholders}) RETURNING id"  # noqa: S608
    ids: list[int] = []
    with database._connect(url) as connection:
        started = time.perf_counter()
        for raw in raws:
            values.update(raw=raw, size=len(raw), sha256=hashlib.sha256(raw).hexdigest())
            with connection.transaction():
                row = connection.execute(sql, [values[field.attname] for field in fields]).fetchone()
                assert row is not None
                ids.append(row[0])
        rate = len(raws) / (time.perf_counter() - started)
        with connection.transaction():
            connection.execute(f"DELETE FROM {RawInbound._meta.db_table} WHERE id = ANY(%s)", [ids])  # noqa: S608
    return rate


def in_process(planned: list[Planned], recipient: str, *,
               profile_path: Path | None) -> tuple[float, float, float, int]:
    """(SQL queries, wall ms, CPU ms) per mail of raw_inbound_process on new mail, in this process; mails."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from channels_intake.email.processing import raw_inbound_process
    from channels_intake.models import Door, RawInbound
    from channels_intake.services import peek_message_id

    rng = random.Random(5)
    rows = []
    for item in planned:
        raw = render_message(item, ticket_number=None, recipient=recipient, rng=rng)
        rows.append(RawInbound.objects.create(
            door=Door.SMTP, raw=raw, size=len(raw), sha256="0" * 64, header_message_id=peek_message_id(raw),
            envelope_sender=item.sender, envelope_recipients=[recipient]))
    # CPU time, not wall time: the machine is shared, and waiting on PostgreSQL is not our CPU.
    profiler = cProfile.Profile(time.process_time) if profile_path else None
    queries = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    for row in rows:
        with CaptureQueriesContext(connection) as captured:
            if profiler:
                profiler.enable()
            raw_inbound_process(raw_inbound_id=row.pk)
            if profiler:
                profiler.disable()
        queries += len(captured.captured_queries)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profiler and profile_path:
        with open(profile_path, "w") as out:
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(40)
    return queries / len(rows), 1000 * elapsed / len(rows), 1000 * cpu / len(rows), len(rows)


def run(*, bench_url: str, env: dict[str, str], redis_url: str, options: Options, say) -> Result:
    """Everything but the seeding (the caller prepared the database and called django.setup())."""
    from django.conf import settings

    from bench import queries
    from channels_intake.models import RawInbound
    from tickets.models import Ticket

    run_id = f"r{int(time.time())}"
    acknowledgements = _acknowledgements_on()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    recipient = prepare_team()
    clean_up(say)
    flush_redis(redis_url)
    planned = plan_messages(options.messages, run_id=run_id)
    replies = sum(1 for item in planned if item.parent is not None)
    say(f"Email intake: {len(planned):,} messages ({replies:,} replies, "
        f"{sum(item.attachments for item in planned):,} with attachments, "
        f"{sum(item.charset != 'utf-8' or not item.subject.isascii() for item in planned):,} Chinese), "
        f"{options.connections} SMTP connections, worker concurrency {options.worker_processes} × {options.workers}.")

    # Baseline 1: the same rows INSERTed by one client, one commit each.
    sample = planned[: min(options.baseline_sample, len(planned))]
    rng = random.Random(3)
    sample_raws = [render_message(item, ticket_number=None, recipient=recipient, rng=rng) for item in sample]
    insert_rate = insert_baseline(bench_url, sample_raws, recipient)
    say(f"  baseline: RawInbound INSERT, one client: {insert_rate:,.0f} rows/s")

    setup = queries.fixtures(sample=5)
    cookie = (("Cookie", f"{settings.SESSION_COOKIE_NAME}={setup.session_cookie}"),)
    smtp_port, sink_port = servers.free_port(), servers.free_port()
    smtp_argv = [sys.executable, "manage.py", "run_smtp_intake", "--host", servers.HOST, "--port", str(smtp_port)]
    # As `make run`: outbound mail (acknowledgements, when the team sends them) goes to the local sink.
    env = dict(env, HELPDESK_SMTP_SINK_PORT=str(sink_port))
    sink_argv = [sys.executable, "manage.py", "run_smtp_sink", "--port", str(sink_port)]
    web = servers.SERVERS["gunicorn-2"]
    load_before = database.load_average()
    with servers.running(web, env, LOG_DIR / "email-web.log") as web_port, \
            process("sink", sink_argv, env, ready="SMTP sink listening") as sink, \
            process("smtp", smtp_argv, env, ready="SMTP intake listening") as smtp:
        probe = WebProbe(web_port, cookie)
        idle_web = probe.once(20)
        say(f"  web idle: /healthz p50 {statistics.median(idle_web['/healthz']):.1f} ms, "
            f"/agent/ p50 {statistics.median(idle_web['/agent/']):.1f} ms")

        # Baseline 2: the SMTP listener alone (stored, 250, queued; nothing processes them).
        baseline_plan = plan_messages(len(sample), run_id=run_id + "b", seed=11)
        for item in baseline_plan:
            item.parent = item.root = None
            item.by_subject = False
            item.references = []
        alone = Deliverer(baseline_plan, port=smtp_port, connections=options.connections, recipient=recipient,
                          database_url=bench_url)
        alone_seconds = alone.run()
        alone_latencies = [r.accepted - r.data_started for r in alone.results if r.reply_code == 250]
        smtp_alone_rate = len(alone_latencies) / alone_seconds
        RawInbound.objects.filter(header_message_id__startswith=run_id + "b.").delete()
        flush_redis(redis_url)
        say(f"  baseline: SMTP listener alone: {smtp_alone_rate:,.0f} messages/s, DATA→250 p50 "
            f"{1000 * _percentile(alone_latencies, 0.5):.1f} ms, p95 {1000 * _percentile(alone_latencies, 0.95):.1f} ms"
            + (f", {len(alone.errors)} errors" if alone.errors else ""))

        with contextlib.ExitStack() as stack:
            workers = []
            for number in range(options.workers):
                argv = worker_argv(concurrency=options.worker_processes, queues=options.queues)
                argv[-1] = f"bench-email-{number}@%h"
                workers.append(stack.enter_context(process(f"worker-{number}", argv, env, ready=" ready.", timeout=120)))
            deliverer = Deliverer(planned, port=smtp_port, connections=options.connections, recipient=recipient,
                                  database_url=bench_url, rate=options.rate)
            groups = {"SMTP listener": smtp.pid, **{f"Celery worker {n}": worker.pid for n, worker in enumerate(workers)},
                      "SMTP sink (outbound mail)": sink.pid}
            cpu_before = cpu_snapshot(groups)
            client_before = time.process_time()
            with probe:
                delivery_seconds = deliverer.run()
                load_during = database.load_average()
                backlog = RawInbound.objects.filter(header_message_id__startswith=run_id + ".",
                                                    state="received").count()
                say(f"  delivered in {delivery_seconds:.1f} s ({len(planned) / delivery_seconds:,.0f} messages/s "
                    f"accepted); {backlog:,} not processed yet" + (
                        f"; {len(deliverer.errors)} errors: {deliverer.errors[:3]}" if deliverer.errors else ""))
                deadline = time.monotonic() + max(300.0, len(planned) / 2)
                while time.monotonic() < deadline:
                    left = RawInbound.objects.filter(header_message_id__startswith=run_id + ".",
                                                     state="received").count()
                    if not left:
                        break
                    time.sleep(0.5)
            cpu = cpu_used(cpu_before, cpu_snapshot(groups))
            cpu["bench client (this process: SMTP senders, web probe)"] = time.process_time() - client_before
            busy_web, web_errors = probe.samples, probe.errors
    load_after = database.load_average()

    # Figures and checks from the rows.
    rows = {
        message_id: (state, processed_at, ticket_id, attempts)
        for message_id, state, processed_at, ticket_id, attempts in RawInbound.objects.filter(
            header_message_id__startswith=run_id + ".").values_list(
            "header_message_id", "state", "processed_at", "ticket_id", "attempts")
    }
    states: dict[str, int] = {}
    for state, *_rest in rows.values():
        states[state] = states.get(state, 0) + 1
    latencies: list[float] = []
    last_commit = 0.0
    first_data = min((r.data_started for r in deliverer.results if r.data_started), default=0.0)
    misthreaded = 0
    for item, delivered in zip(planned, deliverer.results, strict=True):
        row = rows.get(item.message_id)
        if row is None or row[1] is None:
            continue
        committed = row[1].timestamp()
        latencies.append(committed - delivered.data_started)
        last_commit = max(last_commit, committed)
        if item.root is not None and row[0] == "processed":
            root_row = rows.get(planned[item.root].message_id)
            # A reply whose opener was suspended (sender rate) or failed has no ticket to join.
            if root_row is not None and root_row[0] == "processed" and root_row[2] != row[2]:
                misthreaded += 1
    opened = Ticket.objects.filter(requester__email__endswith="@" + SENDER_DOMAIN).count()
    store_latencies = [r.accepted - r.data_started for r in deliverer.results if r.reply_code == 250]

    queries_per_mail = ms_per_mail = cpu_ms_per_mail = float("nan")
    sample_size = 0
    profile_path = LOG_DIR / "email-profile.txt" if options.profile else None
    try:
        fresh = [item for item in plan_messages(200, run_id=run_id + "p", seed=13) if item.parent is None][:150]
        queries_per_mail, ms_per_mail, cpu_ms_per_mail, sample_size = in_process(
            fresh, recipient, profile_path=profile_path)
        say(f"  in process: {queries_per_mail:.1f} SQL queries, {ms_per_mail:.1f} ms ({cpu_ms_per_mail:.1f} ms CPU) per new mail "
            f"({sample_size} mails)" + (f"; profile in {profile_path}" if profile_path else ""))
    finally:
        flush_redis(redis_url)

    return Result(
        options=options, run_id=run_id, planned=len(planned), replies=replies,
        subject_replies=sum(item.by_subject for item in planned),
        attachments=sum(item.attachments for item in planned),
        chinese=sum(item.charset != "utf-8" or not item.subject.isascii() for item in planned),
        bytes_total=sum(len(raw) for raw in sample_raws) * len(planned) // max(len(sample_raws), 1),
        delivery_seconds=delivery_seconds, accepted=len(store_latencies), smtp_errors=deliverer.errors,
        end_to_end_seconds=(last_commit - first_data) if last_commit else float("nan"),
        latencies=latencies, store_latencies=store_latencies, states=states, tickets_opened=opened,
        expected_tickets=_expected_tickets(planned, rows), misthreaded=misthreaded,
        waited=sum(1 for row in rows.values() if row[3] > 1), backlog_at_end_of_delivery=backlog,
        insert_rate=insert_rate, smtp_alone_rate=smtp_alone_rate,
        smtp_alone_p50=_percentile(alone_latencies, 0.5), smtp_alone_p95=_percentile(alone_latencies, 0.95),
        idle_web=idle_web, busy_web=busy_web, web_errors=web_errors,
        queries_per_mail=queries_per_mail, ms_per_mail=ms_per_mail, cpu_ms_per_mail=cpu_ms_per_mail,
        in_process_sample=sample_size,
        load_before=load_before, load_during=load_during, load_after=load_after, cpu=cpu,
        acknowledgements=acknowledgements,
        profile_path=str(profile_path.relative_to(BASE_DIR)) if profile_path else "",
    )


def render(result: Result, *, command: str, pg: dict[str, str]) -> str:
    box = report.machine()
    when = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    options = result.options
    rate = result.planned / result.end_to_end_seconds if result.end_to_end_seconds else float("nan")
    p50, p95 = _percentile(result.latencies, 0.5), _percentile(result.latencies, 0.95)
    seed = result.seed
    lines = [
        f"## Email intake, {result.planned:,} messages — {when}",
        "",
        f"Command: `{command}` (`make bench` runs it too, with 10,000 messages).",
        "",
        f"Data: {result.planned:,} generated messages ({result.replies:,} replies, {result.subject_replies:,} of them "
        f"threaded only by `[#n]` in the subject; {result.attachments:,} with a PNG and a CSV attached; "
        f"{result.chinese:,} Chinese in GB2312, Big5 or UTF-8; about {result.bytes_total / 1e6:.0f} MB), "
        f"delivered over {options.connections} SMTP connections to `manage.py run_smtp_intake` "
        + (f"at {options.rate:g} messages/s (open loop); " if options.rate else "as fast as they go; ")
        +
        f"{options.workers} Celery worker(s) with --concurrency {options.worker_processes} on queues "
        f"`{options.queues}`; web: gunicorn, 2 sync workers; outbound mail to the local sink; the support team "
        + ("sends" if result.acknowledgements else "does not send") + " acknowledgements of new tickets. "
        + (f"Database `{EMAIL_DATABASE}`: {seed.tickets:,} tickets, {seed.messages:,} messages before the run "
           f"({seed.database_size}), seeded by `seed_demo --method bulk`." if seed else ""),
        "",
        f"Machine: {box['nproc']} CPUs ({box['cpu']}), {box['memory']} RAM; load average {result.load_before} before, "
        f"{result.load_during} at the end of delivery, {result.load_after} after; Python {box['python']}; "
        f"PostgreSQL {pg['server_version']} (fsync {pg['fsync']}, synchronous_commit {pg['synchronous_commit']}). "
        "Client, listener, workers, web and database share the machine (and, for this run, other work).",
        "",
        report.markdown_table(["measure", "value"], [
            ["end to end: messages/s (first DATA → last ticket message committed)",
             f"{report.fmt(rate, 1)} ({result.end_to_end_seconds:.1f} s)"],
            ["latency DATA → ticket message committed, p50 / p95 s", f"{p50:.2f} / {p95:.2f}"],
            ["SMTP accepted (250), messages/s while the workers ran",
             f"{result.accepted / result.delivery_seconds:,.0f}"],
            ["SMTP DATA → 250 while the workers ran, p50 / p95 ms",
             f"{1000 * _percentile(result.store_latencies, 0.5):.1f} / "
             f"{1000 * _percentile(result.store_latencies, 0.95):.1f}"],
            ["stored but not processed when the last message was accepted", f"{result.backlog_at_end_of_delivery:,}"],
            ["baseline: SMTP listener alone (no worker), messages/s; DATA → 250 p50 / p95 ms",
             f"{result.smtp_alone_rate:,.0f}; {1000 * result.smtp_alone_p50:.1f} / {1000 * result.smtp_alone_p95:.1f}"],
            ["baseline: the same RawInbound rows INSERTed by one client, one commit each, rows/s",
             f"{result.insert_rate:,.0f}"],
            ["end to end ÷ SMTP alone", f"{100 * rate / result.smtp_alone_rate:.0f} %"],
            ["in process: SQL queries per new mail (raw_inbound_process)",
             f"{result.queries_per_mail:.1f} ({result.in_process_sample} mails)"],
            ["in process: ms per new mail, one process (of which CPU of this process)",
             f"{result.ms_per_mail:.1f} ({result.cpu_ms_per_mail:.1f})"],
            ["web while processing: /healthz p50 / p95 ms (idle)",
             f"{statistics.median(result.busy_web['/healthz']):.1f} / "
             f"{_percentile(result.busy_web['/healthz'], 0.95):.1f} "
             f"({statistics.median(result.idle_web['/healthz']):.1f} / "
             f"{_percentile(result.idle_web['/healthz'], 0.95):.1f})"],
            ["web while processing: queue page /agent/ p50 / p95 ms (idle)",
             f"{statistics.median(result.busy_web['/agent/']):.1f} / "
             f"{_percentile(result.busy_web['/agent/'], 0.95):.1f} "
             f"({statistics.median(result.idle_web['/agent/']):.1f} / "
             f"{_percentile(result.idle_web['/agent/'], 0.95):.1f})"
             + (f", {result.web_errors} errors" if result.web_errors else "")],
        ]),
        "",
        "Checks: " + ", ".join(f"{state} {count:,}" for state, count in sorted(result.states.items()))
        + f" of {result.planned:,} delivered ({result.accepted:,} accepted"
        + (f", {len(result.smtp_errors)} SMTP errors" if result.smtp_errors else "") + "); "
        f"tickets opened {result.tickets_opened:,}, expected {result.expected_tickets:,}; "
        f"replies not on their parent's ticket: {result.misthreaded}; "
        f"replies that waited for their parent: {result.waited}.",
        "",
        report.markdown_table(["target (email intake issue)", "limit", "value"], [
            ["end to end", f"≥ {TARGET_RATE:.0f} messages/s",
             f"{rate:.1f} — {'met' if rate >= TARGET_RATE else 'NOT met'}"],
            ["p95 DATA → ticket", f"≤ {TARGET_P95_SECONDS:.0f} s",
             f"{p95:.2f} — {'met' if p95 <= TARGET_P95_SECONDS else 'NOT met'}"],
        ]),
        "",
        "Where the CPU went from the first DATA to the last commit (CPU ms per message; postgres: the server "
        "processes of the bench database; /healthz and queue page probes of the web not included):",
        "",
        report.markdown_table(["process", "CPU s", "CPU ms per message"], [
            [name, f"{seconds:.1f}", f"{1000 * seconds / max(result.planned, 1):.1f}"]
            for name, seconds in result.cpu.items()
        ] + [["total", f"{sum(result.cpu.values()):.1f}",
              f"{1000 * sum(result.cpu.values()) / max(result.planned, 1):.1f}"]]),
        "",
        "For scale (from the issue, not measured here): django-helpdesk 2.6 ingests 41 messages/s from a local "
        "folder at 100k tickets on this machine.",
        "",
    ]
    return "\n".join(lines)


def ensure_database(env: dict[str, str], base_url: str, say, *, tickets: int = EMAIL_TICKETS,
                    skip_seed: bool = False) -> tuple[str, database.SeedInfo]:
    url = os.environ.get("HELPDESK_BENCH_EMAIL_DATABASE_URL") or database.with_database(base_url, EMAIL_DATABASE)
    env = dict(env, DATABASE_URL=url)
    seed = database.prepare(url, env, tickets=tickets, skip_seed=skip_seed, say=say)
    return url, seed
