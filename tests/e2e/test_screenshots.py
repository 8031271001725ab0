"""Screenshots of the agent workspace for docs/screenshots/ (queue and ticket page, English and Chinese).

A realistic desk: three teams, a dozen tickets in English and Chinese over the last days, and one
thread with a public reply, an internal note and a customer answer in Chinese. Viewport 1440x900.
The Chinese pages are reached through the language switcher, which this test also checks.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_customer, make_organization, make_team
from tickets.models import Channel, Customer, Event, Message, Priority, Status, Ticket, TicketType, User
from tickets.services import ticket_add_note, ticket_assign, ticket_create, ticket_reply, ticket_set_status

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class TicketSpec:
    requester: str
    subject: str
    body: str
    team: str
    priority: str = Priority.NORMAL
    status: str = Status.NEW
    assignee: str | None = None
    channel: str = Channel.WEB
    ticket_type: str = TicketType.QUESTION
    tags: tuple[str, ...] = ()
    created_hours_ago: float = 24
    updated_hours_ago: float = 1


CUSTOMERS = {
    # key: (name, email, organization)
    "maria": ("Maria Garcia", "maria.garcia@acme.example", "Acme Corp"),
    "liwei": ("李伟", "li.wei@huaxin.example", "华信科技"),
    "sophie": ("Sophie Martin", "sophie.martin@northwind.example", "Northwind Traders"),
    "wangfang": ("王芳", "wang.fang@example.cn", None),
    "tom": ("Tom Becker", "tom.becker@example.de", None),
    "priya": ("Priya Natarajan", "priya@lumen.example", "Lumen Analytics"),
    "zhangqiang": ("张强", "zhang.qiang@huaxin.example", "华信科技"),
    "james": ("James O'Connor", "james.oconnor@acme.example", "Acme Corp"),
    "emma": ("Emma Johansson", "emma.johansson@example.se", None),
}

TICKETS = [
    TicketSpec("sophie", "SSO login fails with SAML error “InResponseTo mismatch”",
               "Since this morning nobody in our team can sign in through Okta.", "Technical Support",
               Priority.URGENT, Status.OPEN, "bob", Channel.EMAIL, TicketType.INCIDENT, ("sso", "okta"), 5, 0.3),
    TicketSpec("wangfang", "退款申请：年度套餐重复扣费", "我的信用卡被扣了两次年费，请帮忙退还其中一笔。", "Billing",
               Priority.HIGH, Status.OPEN, "chen", Channel.WEB, TicketType.PROBLEM, ("refund",), 20, 0.8),
    TicketSpec("priya", "API rate limit too low for our nightly sync",
               "Our nightly export hits HTTP 429 after about 5,000 requests.", "Technical Support",
               Priority.NORMAL, Status.NEW, None, Channel.API, TicketType.QUESTION, ("api",), 2, 2),
    TicketSpec("tom", "Mobile app crashes when attaching a photo",
               "The iOS app closes as soon as I pick a photo from the library.", "Technical Support",
               Priority.HIGH, Status.OPEN, "alice", Channel.CHAT, TicketType.INCIDENT, ("ios", "mobile"), 30, 3),
    TicketSpec("zhangqiang", "导出报表时中文显示乱码", "导出的 CSV 文件用 Excel 打开后，中文全部变成乱码。", "Technical Support",
               Priority.NORMAL, Status.OPEN, "chen", Channel.EMAIL, TicketType.PROBLEM, ("export", "csv"), 50, 5),
    TicketSpec("maria", "Cannot download the invoice for March",
               "The download button on the billing page gives me an empty PDF.", "Billing",
               Priority.NORMAL, Status.NEW, None, Channel.WEB, TicketType.QUESTION, ("invoice",), 7, 7),
    TicketSpec("tom", "How do I add more seats to our plan?",
               "We are hiring three people next month.", "Billing",
               Priority.LOW, Status.PENDING, "alice", Channel.EMAIL, TicketType.QUESTION, ("seats",), 75, 9),
    TicketSpec("james", "Webhook deliveries delayed by more than 10 minutes",
               "Since Monday our ticket.created webhooks arrive 10-15 minutes late.", "Technical Support",
               Priority.HIGH, Status.ON_HOLD, "bob", Channel.EMAIL, TicketType.INCIDENT, ("webhooks",), 96, 20),
    TicketSpec("liwei", "发票抬头需要修改", "我们公司名称变更了，请把发票抬头改为“华信科技（上海）有限公司”。", "Billing",
               Priority.NORMAL, Status.PENDING, "chen", Channel.WEB, TicketType.TASK, ("invoice",), 120, 26),
    TicketSpec("maria", "Onboarding call for our new support team",
               "We would like a 30-minute walkthrough for five new agents.", "Onboarding",
               Priority.LOW, Status.NEW, None, Channel.PHONE, TicketType.TASK, ("onboarding",), 28, 28),
    TicketSpec("emma", "Please update our billing address",
               "We moved to Kungsgatan 12, Stockholm.", "Billing",
               Priority.LOW, Status.SOLVED, "bob", Channel.EMAIL, TicketType.TASK, ("address",), 150, 40),
]

THREAD = TicketSpec(
    "liwei", "Two-factor codes no longer arrive by SMS",
    "Since yesterday I no longer receive the 6-digit sign-in codes by SMS. Codes by email still work.\n\n"
    "My phone number is +86 138 0013 2231 (China Mobile).",
    "Technical Support", Priority.HIGH, Status.OPEN, "alice", Channel.EMAIL, TicketType.INCIDENT, ("2fa", "sms"), 27, 0.1,
)
THREAD_MESSAGES = [
    ("reply", "alice",
     "Hi Li Wei,\n\nthanks for the report. Our SMS provider had delivery problems to some carriers in mainland "
     "China yesterday. Could you try signing in again and tell us whether a code arrives within two minutes?"),
    ("note", "bob",
     "Provider status page confirms degraded delivery to China Mobile since 09:40 UTC. I asked them for a "
     "fallback route; ticket #PROV-2231."),
    ("customer", "liwei", "我刚才又试了一次，还是没有收到验证码。能否先把我的账号改成邮箱验证？谢谢！"),
    ("reply", "alice",
     "您好，李伟：\n\n已为您的账号临时切换为邮箱验证码登录。短信通道恢复后我们会通知您，届时可在“安全设置”中切换回短信验证。"),
]


def _spread_history(ticket: Ticket, created: datetime, last: datetime) -> None:
    """Move a ticket's history between `created` and `last`, keeping its order.

    Messages are spread evenly; an event follows the message before it by a minute, and events after
    the last message happen at `last`.
    """
    items = sorted(
        [("message", pk, at) for pk, at in Message.objects.filter(ticket=ticket).values_list("pk", "created_at")]
        + [("event", pk, at) for pk, at in Event.objects.filter(ticket=ticket).values_list("pk", "created_at")],
        key=lambda item: (item[2], item[0] != "message", item[1]),
    )
    message_count = sum(1 for kind, _pk, _at in items if kind == "message")
    step = (last - created) / max(message_count - 1, 1)
    seen = 0
    when = created
    for kind, pk, _at in items:
        if kind == "message":
            when = created + step * seen
            seen += 1
            Message.objects.filter(pk=pk).update(created_at=when)
        else:
            at = last if seen == message_count else min(when + timedelta(minutes=1), last)
            Event.objects.filter(pk=pk).update(created_at=at)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=created, updated_at=last)


def build_realistic_desk() -> int:
    """Create the desk; returns the number of the ticket with the long thread."""
    now = timezone.now()
    teams = {name: make_team(name, slug=slug) for name, slug in
             (("Technical Support", "technical-support"), ("Billing", "billing"), ("Onboarding", "onboarding"))}
    all_teams = list(teams.values())
    agents = {
        "alice": make_agent(*all_teams, username="alice", first_name="Alice", last_name="Wong"),
        "bob": make_agent(teams["Technical Support"], teams["Billing"], username="bob", first_name="Bob",
                          last_name="Meyer"),
        "chen": make_agent(*all_teams, username="chen.jing", display_name="陈静"),
    }
    organizations = {}
    customers: dict[str, Customer] = {}
    for key, (name, email, organization_name) in CUSTOMERS.items():
        organization = None
        if organization_name:
            organization = organizations.get(organization_name) or make_organization(organization_name)
            organizations[organization_name] = organization
        customers[key] = make_customer(email=email, name=name, organization=organization)
    User.objects.filter(role="customer").update(email_verified_at=now)

    def create(spec: TicketSpec) -> Ticket:
        ticket = ticket_create(
            requester=customers[spec.requester], subject=spec.subject, body_text=spec.body, channel=spec.channel,
            team=teams[spec.team], priority=spec.priority, ticket_type=spec.ticket_type, tags=list(spec.tags),
        )
        actor = agents[spec.assignee] if spec.assignee else agents["alice"]
        if spec.assignee:
            ticket = ticket_assign(ticket=ticket, assignee=actor, actor=actor)
        if spec.status != Status.NEW:
            ticket = ticket_set_status(ticket=ticket, status=spec.status, actor=actor)
        return ticket

    for spec in TICKETS:
        ticket = create(spec)
        _spread_history(
            ticket, now - timedelta(hours=spec.created_hours_ago), now - timedelta(hours=spec.updated_hours_ago)
        )

    thread = create(THREAD)
    for kind, author, body in THREAD_MESSAGES:
        if kind == "reply":
            ticket_reply(ticket=thread, actor=agents[author], body_text=body)
        elif kind == "note":
            ticket_add_note(ticket=thread, actor=agents[author], body_text=body)
        else:
            ticket_reply(ticket=thread, actor=customers[author].user, body_text=body)
        thread.refresh_from_db()
    _spread_history(
        thread, now - timedelta(hours=THREAD.created_hours_ago), now - timedelta(hours=THREAD.updated_hours_ago)
    )
    return thread.number


# Two different glyphs drawn alike means the browser has no font for them (both are "tofu" boxes).
GLYPHS_DIFFER = """(pair) => {
  const draw = (glyph) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 40;
    const context = canvas.getContext("2d");
    context.font = "28px sans-serif";
    context.fillText(glyph, 4, 32);
    return canvas.toDataURL();
  };
  return draw(pair[0]) !== draw(pair[1]);
}"""


def screenshot_destination(page: Page, screenshot_dir: Path, tmp_path: Path, glyphs: tuple[str, str]) -> Path:
    """docs/screenshots/ when asked (HELPDESK_UPDATE_SCREENSHOTS=1) and this machine has the fonts to
    draw `glyphs`; the test's temporary directory otherwise.

    Every test run rewriting the published screenshots would leave a dirty work tree for nothing;
    a machine without CJK fonts (Debian: fonts-noto-cjk) would overwrite them with boxes.
    """
    fonts_ok = page.evaluate(GLYPHS_DIFFER, list(glyphs))
    if fonts_ok and os.environ.get("HELPDESK_UPDATE_SCREENSHOTS") == "1":
        return screenshot_dir
    if fonts_ok:
        return tmp_path
    warnings.warn(
        f"no font draws {glyphs[0]!r} here (Debian: apt-get install fonts-noto-cjk fonts-liberation); "
        f"screenshots left in {tmp_path} instead of {screenshot_dir}",
        stacklevel=2,
    )
    return tmp_path


def settle(page: Page) -> None:
    """Live connection up, fonts loaded, nothing animating: ready for a stable screenshot."""
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_load_state("networkidle")
    page.mouse.move(0, 899)


def test_screenshots_of_queue_and_ticket_in_english_and_simplified_chinese(new_page, screenshot_dir, tmp_path):
    thread_number = in_db_thread(build_realistic_desk)

    # English.
    page = new_page()
    login(page, "alice")
    page.goto("/agent/tickets/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#queue-rows tr[data-number]")).to_have_count(len(TICKETS) + 1)
    settle(page)
    destination = screenshot_destination(page, screenshot_dir, tmp_path, ("a", "b"))
    page.screenshot(path=destination / "queue-en.png")

    page.goto(f"/agent/tickets/{thread_number}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor codes no longer arrive by SMS")
    expect(page.locator("#timeline .message")).to_have_count(len(THREAD_MESSAGES) + 1)
    settle(page)
    page.screenshot(path=destination / "ticket-en.png")
    assert page.problems == []

    # Simplified Chinese, chosen with the language switcher in the top bar.
    page = new_page()
    login(page, "alice")
    page.goto("/agent/tickets/")
    page.get_by_label("Language", exact=True).select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_url(re.compile(r"/agent/tickets/$"))
    expect(page.locator("#queue-rows tr[data-number]")).to_have_count(len(TICKETS) + 1)
    # The catalog is compiled and used: the workspace's own labels are no longer English.
    for english in ("My open tickets", "Recently solved", "Requester", "Apply"):
        expect(page.locator("body")).not_to_contain_text(english)
    settle(page)
    chinese_destination = screenshot_destination(page, screenshot_dir, tmp_path, ("中", "国"))
    page.screenshot(path=chinese_destination / "queue-zh-hans.png")

    page.goto(f"/agent/tickets/{thread_number}/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#timeline")).to_contain_text("我刚才又试了一次")
    settle(page)
    page.screenshot(path=chinese_destination / "ticket-zh-hans.png")
    assert page.problems == []

    for path in (destination / "queue-en.png", destination / "ticket-en.png",
                 chinese_destination / "queue-zh-hans.png", chinese_destination / "ticket-zh-hans.png"):
        assert path.stat().st_size > 20_000
