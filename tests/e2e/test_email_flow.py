"""The email channel end to end, in the shape of `make run`: a customer's mail goes over SMTP to the
intake, a Celery worker turns it into a ticket, the agent answers in the browser, the answer is mailed
through the local SMTP sink, and the customer's answer to that mail lands on the same ticket.
"""

from __future__ import annotations

import re
import smtplib
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr

import pytest
from playwright.sync_api import Page, expect

from channels_intake.email.tokens import reply_address
from channels_intake.models import OutboundCapture
from tests.e2e.conftest import MailServers
from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_team, make_user
from tickets.models import Message, Role, Team, Ticket, User

pytestmark = pytest.mark.browser

TEAM_ADDRESS = "support@example.com"
CUSTOMER_NAME = "李伟"
CUSTOMER_ADDRESS = "li.wei@example.com"
# Mail goes through four processes (intake, worker, web, sink) on a busy 2-core machine.
MAIL_TIMEOUT_MS = 30_000


@dataclass
class MailDesk:
    team: Team
    alice: User
    admin: User


def build_mail_desk() -> MailDesk:
    team = make_team("Support", slug="support", email_addresses=[TEAM_ADDRESS])
    alice = make_agent(team, username="alice", first_name="Alice", last_name="Wong")
    admin = make_user(role=Role.ADMIN, username="root", is_staff=True, is_superuser=True)
    return MailDesk(team, alice, admin)


def send_mail(mail: MailServers, *, to: str, subject: str, body: str, in_reply_to: str = "",
              references: str = "") -> str:
    """Send a plain-text mail from the customer to the intake, as their mail server would; its Message-ID."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = f"{CUSTOMER_NAME} <{CUSTOMER_ADDRESS}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="mail.customer.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = references or in_reply_to
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", mail.intake_port, timeout=30) as client:
        refused = client.send_message(message, from_addr=CUSTOMER_ADDRESS, to_addrs=[to])
    assert refused == {}
    return message["Message-ID"]


def captured_reply(reply_id: int) -> OutboundCapture | None:
    """What the sink kept of the mail for this reply (found by its Message-ID, whatever else was sent)."""
    external_id = Message.objects.values_list("external_id", flat=True).get(pk=reply_id)
    return OutboundCapture.objects.filter(message_id=f"<{external_id}>").first()


def wait_for_capture(reply_id: int) -> OutboundCapture:
    deadline = time.monotonic() + MAIL_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        capture = in_db_thread(captured_reply, reply_id)
        if capture is not None:
            return capture
        time.sleep(0.3)
    pytest.fail(f"the sink kept no mail for message {reply_id} within {MAIL_TIMEOUT_MS / 1000:.0f} s", pytrace=False)


def wait_until_live(page: Page) -> None:
    """The workspace's websocket is connected (the live dot in the top bar says so)."""
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")


def queue_row_with(page: Page, text: str):
    return page.locator("[id^=ticket-row-]", has_text=text)


def test_mail_becomes_a_ticket_the_agent_answers_and_the_customers_reply_joins_it(new_page, mail_servers):
    desk = in_db_thread(build_mail_desk)
    agent = new_page()
    login(agent, "alice")
    agent.goto("/agent/tickets/")
    wait_until_live(agent)

    # The customer writes to the team's address; the ticket shows up in the agent's open queue.
    subject = "发票下载失败：三月的发票是空白的"
    body = "你好，账单页面上的下载按钮给我一个空白的 PDF。\nThe download button gives me an empty PDF."
    customer_message_id = send_mail(mail_servers, to=TEAM_ADDRESS, subject=subject, body=body)
    row = queue_row_with(agent, subject)
    expect(row).to_be_visible(timeout=MAIL_TIMEOUT_MS)
    expect(row).to_contain_text(CUSTOMER_NAME)
    number = int((row.get_attribute("id") or "").removeprefix("ticket-row-"))
    ticket = in_db_thread(Ticket.objects.get, number=number)

    # The agent opens it and reads the mail.
    row.get_by_role("link", name=subject).click()
    expect(agent).to_have_url(re.compile(rf"/agent/tickets/{number}/$"))
    expect(agent.get_by_role("heading", level=1)).to_have_text(subject)
    first = agent.locator("#timeline .message", has_text="空白的 PDF")
    expect(first).to_be_visible()
    expect(first).to_contain_text("The download button gives me an empty PDF.")
    expect(first.locator(".message__author")).to_have_text(CUSTOMER_NAME)

    # A public reply from the browser is mailed; its badge turns from queued to sent.
    reply_text = "您好，我们已重新生成三月的发票，现在可以下载了。"
    expect(agent.get_by_role("radio", name="Public reply")).to_be_checked()
    agent.get_by_label("Message", exact=True).fill(reply_text)
    agent.get_by_role("button", name="Send reply").click()
    reply = agent.locator("#timeline .message", has_text=reply_text)
    expect(reply).to_be_visible()
    reply_id = int((reply.get_attribute("id") or "").removeprefix("message-"))
    capture = wait_for_capture(reply_id)
    # Without a reload: the worker usually sends before the reloaded page's socket is subscribed, so
    # the page re-reads a timeline that still shows a queued reply once its socket is open.
    badge = reply.locator("[data-delivery-state]")
    expect(badge).to_have_attribute("data-delivery-state", "sent")
    expect(badge).to_have_text("Sent")

    # The sink kept the mail as the customer's mail program would get it.
    mail = message_from_bytes(bytes(capture.raw), policy=policy.default)
    assert parseaddr(str(mail["From"]))[1] == TEAM_ADDRESS
    assert "Alice Wong" in str(mail["From"])
    assert [address for _, address in getaddresses([str(mail["To"])])] == [CUSTOMER_ADDRESS]
    assert capture.envelope_recipients == [CUSTOMER_ADDRESS]
    assert str(mail["Subject"]) == f"Re: [#{number}] {subject}"
    assert str(mail["In-Reply-To"]).strip() == customer_message_id
    reply_to = parseaddr(str(mail["Reply-To"]))[1]
    assert reply_to == reply_address(TEAM_ADDRESS, ticket.pk)
    assert re.fullmatch(r"support\+[0-9a-z]+-[a-z2-7]{16}@example\.com", reply_to)
    assert reply_text in mail.get_body(preferencelist=("plain",)).get_content()

    # The customer answers that mail; the answer shows on the same ticket, on the agent's open page.
    answer = "谢谢！现在可以下载了。Thanks, it works now."
    send_mail(
        mail_servers, to=reply_to, subject=f"Re: {mail['Subject']}", body=answer,
        in_reply_to=str(mail["Message-ID"]), references=f"{customer_message_id} {mail['Message-ID']}",
    )
    arrived = agent.locator("#timeline .message", has_text="谢谢！现在可以下载了")
    expect(arrived).to_be_visible(timeout=MAIL_TIMEOUT_MS)
    expect(arrived.locator(".message__author")).to_have_text(CUSTOMER_NAME)
    assert in_db_thread(lambda: Ticket.objects.filter(requester__email=CUSTOMER_ADDRESS).count()) == 1
    assert agent.problems == []

    # An admin finds the mail in the admin's list of what the sink kept, and opens it.
    admin = new_page()
    login(admin, desk.admin.username)
    admin.goto("/admin/channels_intake/outboundcapture/")
    link = admin.locator(f'#result_list a[href$="/{capture.pk}/change/"]').first
    expect(link).to_be_visible()
    listed = admin.locator("#result_list tr", has=admin.locator(f'a[href$="/{capture.pk}/change/"]'))
    expect(listed).to_contain_text(f"[#{number}]")
    expect(listed).to_contain_text(CUSTOMER_ADDRESS)
    link.click()
    expect(admin.locator("body")).to_contain_text(reply_text)
    assert admin.problems == []
