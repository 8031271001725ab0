"""A real Dovecot IMAP server for the IMAP door's tests, with a local OAuth provider beside it.

`dovecot` starts one private Dovecot per test session (`dovecot -F -c <conf>`, no system service)
on free loopback ports, with its own configuration, runtime and mail directories under /tmp:

- port `port`: plain IMAP with STARTTLS offered; `ssl_port`: IMAP over TLS. The certificate is
  signed by a throw-away CA (`ca_file`) for 127.0.0.1 and localhost.
- every user name signs in with the password "secret" (a static passdb), each with its own
  Maildir: a test takes a fresh user (`imap_user`) and so an empty mailbox.
- SASL XOAUTH2 is checked by Dovecot's oauth2 passdb against `oauth_provider`'s introspection
  endpoint, so a token the provider issued (and has not revoked) signs in, like at Google or
  Microsoft.

Dovecot is Debian's `dovecot-imapd` (2.3). When it is missing the tests skip loudly, except under
CI, where they fail (`.ci/run` installs it).
"""

from __future__ import annotations

import contextlib
import datetime
import grp
import imaplib
import ipaddress
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.channels_intake.helpers import free_port

PASSWORD = "secret"
START_TIMEOUT_SECONDS = 20.0


def _dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


def _require_dovecot() -> str:
    binary = _dovecot_binary()
    message = "IMAP tests need Dovecot (`apt-get install -y dovecot-imapd`)."
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but Dovecot is missing. {message}", pytrace=False)
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if not version.startswith("2.3."):
        # 2.4 changed the configuration language; this fixture writes 2.3's.
        message = f"IMAP tests need Dovecot 2.3 (found {version or 'an unknown version'})."
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    return binary


# --- a local OAuth 2.0 provider --------------------------------------------------------------------


@dataclass
class FakeOAuthProvider:
    """Issues access tokens for refresh tokens (RFC 6749 6) and answers Dovecot's token
    introspection (RFC 7662), over real HTTP on a loopback port."""

    port: int = 0
    client_id: str = "helpdesk-client"
    client_secret: str = "client-secret-0123"
    expires_in: int = 3600
    rotate_refresh_tokens: bool = False
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> user
    access_tokens: dict[str, str] = field(default_factory=dict)  # access token -> user
    token_requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def introspection_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/introspect"

    def reset(self) -> None:
        with self.lock:
            self.expires_in, self.rotate_refresh_tokens = 3600, False
            self.refresh_tokens.clear()
            self.access_tokens.clear()
            self.token_requests.clear()

    def grant(self, user: str) -> str:
        """A refresh token for `user`, as the provider's consent screen would give one."""
        token = f"rt-{uuid.uuid4().hex}"
        with self.lock:
            self.refresh_tokens[token] = user
        return token

    def revoke_access_tokens(self) -> None:
        with self.lock:
            self.access_tokens.clear()

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict]:
        with self.lock:
            if path == "/introspect":
                user = self.access_tokens.get(form.get("token", ""))
                return 200, ({"active": True, "username": user} if user else {"active": False})
            if path != "/token":
                return 404, {"error": "not_found"}
            self.token_requests.append(dict(form))
            if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
                return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "The refresh token has been revoked."}
            user = self.refresh_tokens[form["refresh_token"]]
            access_token = f"at-{uuid.uuid4().hex}"
            self.access_tokens[access_token] = user
            payload = {"access_token": access_token, "token_type": "Bearer", "expires_in": self.expires_in}
            if self.rotate_refresh_tokens:
                del self.refresh_tokens[form["refresh_token"]]
                new_refresh_token = f"rt-{uuid.uuid4().hex}"
                self.refresh_tokens[new_refresh_token] = user
                payload["refresh_token"] = new_refresh_token
            return 200, payload


def _serve(provider: FakeOAuthProvider) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
            status, payload = provider.answer(self.path, form)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def _oauth_provider_server() -> Iterator[FakeOAuthProvider]:
    provider = FakeOAuthProvider()
    server = _serve(provider)
    yield provider
    server.shutdown()
    server.server_close()


@pytest.fixture
def oauth_provider(_oauth_provider_server: FakeOAuthProvider) -> Iterator[FakeOAuthProvider]:
    _oauth_provider_server.reset()
    yield _oauth_provider_server
    _oauth_provider_server.reset()


# --- Dovecot --------------------------------------------------------------------------------------


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate it signed for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "helpdesk test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


def _accounts() -> tuple[str, str, str, int, int]:
    """(login user, internal user, internal group, mail uid, mail gid) Dovecot's processes run as.

    As root, Dovecot insists on unprivileged users for its login and mail processes: the ones the
    package created. Otherwise everything runs as the current user (Dovecot's non-root mode).
    """
    if os.geteuid() == 0:
        internal = pwd.getpwnam("dovecot")
        login = pwd.getpwnam("dovenull")
        return login.pw_name, internal.pw_name, grp.getgrgid(internal.pw_gid).gr_name, internal.pw_uid, internal.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, me.pw_name, grp.getgrgid(os.getegid()).gr_name, os.geteuid(), os.getegid()


@dataclass
class Dovecot:
    port: int
    ssl_port: int
    ca_file: str
    base: Path
    process: subprocess.Popen
    host: str = "127.0.0.1"

    def log_tail(self, lines: int = 40) -> str:
        path = self.base / "dovecot.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"

    @contextlib.contextmanager
    def client(self, user: str) -> Iterator[imaplib.IMAP4]:
        """A test's own IMAP session, signed in as `user` (to seed and inspect the mailbox)."""
        imap = imaplib.IMAP4(self.host, self.port, timeout=30)
        try:
            imap.login(user, PASSWORD)
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()

    def create_folder(self, user: str, folder: str) -> None:
        with self.client(user) as imap:
            typ, data = imap.create(_quote(folder))
            assert typ == "OK", data

    def append(self, user: str, raw: bytes, *, folder: str = "INBOX", flags: str = "") -> int:
        """APPEND a message; its UID."""
        with self.client(user) as imap:
            typ, data = imap.append(_quote(folder), f"({flags})" if flags else None, None, raw)
            assert typ == "OK", data
        match = re.search(rb"APPENDUID \d+ (\d+)", data[0])
        assert match, data
        return int(match.group(1))

    def messages(self, user: str, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID -> flags of every message in the folder."""
        with self.client(user) as imap:
            typ, _ = imap.select(_quote(folder), readonly=True)
            assert typ == "OK"
            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS)")
        found: dict[int, set[str]] = {}
        for item in data:
            if not item:
                continue
            line = item[0] if isinstance(item, tuple) else item
            match = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", line) or re.search(rb"FLAGS \(([^)]*)\) UID (\d+)", line)
            if match is None:
                continue
            if line.find(b"UID") < line.find(b"FLAGS"):
                uid, flags = match.group(1), match.group(2)
            else:
                flags, uid = match.group(1), match.group(2)
            found[int(uid)] = set(flags.decode().split())
        return found

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.client(user) as imap:
            _, data = imap.status(_quote(folder), "(UIDVALIDITY)")
        return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))


def _quote(folder: str) -> str:
    from channels_intake.email.imap import quote_folder

    return quote_folder(folder)


def _configuration(base: Path, *, port: int, ssl_port: int, cert: Path, key: Path, oauth_provider: FakeOAuthProvider) -> str:
    login_user, internal_user, internal_group, mail_uid, mail_gid = _accounts()
    (base / "oauth2.conf.ext").write_text(
        f"introspection_mode = post\n"
        f"introspection_url = {oauth_provider.introspection_url}\n"
        "username_attribute = username\n"
        "active_attribute = active\n"
        "active_value = true\n"
    )
    return f"""# A private Dovecot for the helpdesk IMAP tests; nothing outside {base} is used.
base_dir = {base}/run
state_dir = {base}/state
instance_name = helpdesk-test-{port}
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
# Loopback only: plain-text passwords are fine without TLS here.
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {base}/oauth2.conf.ext
}}
passdb {{
  driver = static
  mechanisms = plain login
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={base}/home/%u
}}
"""


def _wait_until_ready(server: Dovecot) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"dovecot exited with {server.process.returncode}:\n{server.log_tail()}", pytrace=False)
        with contextlib.suppress(OSError), socket.create_connection((server.host, server.port), timeout=2) as sock:
            if sock.recv(64).startswith(b"* OK"):
                return
        time.sleep(0.1)
    pytest.fail(f"dovecot did not answer within {START_TIMEOUT_SECONDS} s:\n{server.log_tail()}", pytrace=False)


@pytest.fixture(scope="session")
def dovecot(_oauth_provider_server: FakeOAuthProvider) -> Iterator[Dovecot]:
    binary = _require_dovecot()
    base = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    # Dovecot's unprivileged processes must reach the mail homes under it.
    base.chmod(0o755)
    *_, mail_uid, mail_gid = _accounts()
    for name in ("home", "run", "state"):
        (base / name).mkdir()
    os.chown(base / "home", mail_uid, mail_gid)
    ca, cert, key = _certificates(base)
    port, ssl_port = free_port(), free_port()
    config = base / "dovecot.conf"
    config.write_text(_configuration(base, port=port, ssl_port=ssl_port, cert=cert, key=key,
                                     oauth_provider=_oauth_provider_server))
    output = (base / "stdout.log").open("wb")
    process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=output, stderr=subprocess.STDOUT)
    server = Dovecot(port=port, ssl_port=ssl_port, ca_file=str(ca), base=base, process=process)
    try:
        _wait_until_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        output.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def imap_user(dovecot: Dovecot) -> str:
    """A fresh user, so a fresh, empty mailbox."""
    return f"u{uuid.uuid4().hex[:16]}"


# --- a relay that cuts the connection ----------------------------------------------------------------


class CuttingRelay:
    """A TCP relay to a real server that cuts the first connection at a chosen moment.

    `server_bytes`: after the client has received that many bytes (mid-greeting, mid-message...).
    `client_pattern`: when the client sends a command containing these bytes (the command never
    reaches the server). Later connections are relayed untouched.
    """

    def __init__(self, target: tuple[str, int], *, server_bytes: int | None = None,
                 client_pattern: bytes | None = None) -> None:
        self.target = target
        self.server_bytes = server_bytes
        self.client_pattern = client_pattern
        self.cuts = 0
        self._armed = True
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
            with self._lock:
                armed, self._armed = self._armed, False
            state = {"sent_to_client": 0, "cut": False}
            args = (client, upstream, state, armed)
            threading.Thread(target=self._server_to_client, args=args, daemon=True).start()
            threading.Thread(target=self._client_to_server, args=args, daemon=True).start()

    def _cut(self, client: socket.socket, upstream: socket.socket, state: dict) -> None:
        with self._lock:
            if state["cut"]:
                return
            state["cut"] = True
            self.cuts += 1
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _server_to_client(self, client: socket.socket, upstream: socket.socket, state: dict, armed: bool) -> None:
        try:
            while data := upstream.recv(65536):
                if armed and self.server_bytes is not None:
                    room = self.server_bytes - state["sent_to_client"]
                    if len(data) >= room:
                        client.sendall(data[:room])
                        self._cut(client, upstream, state)
                        return
                client.sendall(data)
                state["sent_to_client"] += len(data)
        except OSError:
            pass
        self._cut(client, upstream, state)

    def _client_to_server(self, client: socket.socket, upstream: socket.socket, state: dict, armed: bool) -> None:
        recent = b""
        try:
            while data := client.recv(65536):
                if armed and self.client_pattern is not None:
                    recent = (recent + data)[-(len(self.client_pattern) + len(data)):]
                    if self.client_pattern in recent:
                        self._cut(client, upstream, state)
                        return
                upstream.sendall(data)
        except OSError:
            pass
        self._cut(client, upstream, state)


@pytest.fixture
def cutting_relay(dovecot: Dovecot) -> Iterator[Callable[..., CuttingRelay]]:
    relays: list[CuttingRelay] = []

    def make(**options: object) -> CuttingRelay:
        relay = CuttingRelay((dovecot.host, dovecot.port), **options)
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.close()


# --- mailboxes --------------------------------------------------------------------------------------


@pytest.fixture
def make_mailbox(dovecot: Dovecot, support_team):
    """A MailboxAccount of the support team on the test Dovecot (plain IMAP on loopback)."""
    from channels_intake.models import MailboxAccount

    def make(user: str, **fields: object) -> MailboxAccount:
        password = fields.pop("password", PASSWORD)
        values = {"team": support_team, "name": f"Support mailbox {user}", "host": dovecot.host,
                  "port": dovecot.port, "security": "none", "username": user, **fields}
        mailbox = MailboxAccount(**values)
        if password:
            mailbox.password = password
        mailbox.full_clean()
        mailbox.save()
        return mailbox

    return make


@pytest.fixture
def poll(celery_eager, django_capture_on_commit_callbacks):
    """Poll a mailbox the way the beat job does, with the stored mail processed right away."""
    from channels_intake.email.imap import mailbox_poll

    def poll(mailbox, **options):
        with django_capture_on_commit_callbacks(execute=True):
            result = mailbox_poll(mailbox_id=mailbox.pk, **options)
        mailbox.refresh_from_db()
        return result

    return poll
