"""The weekly report mail: last week's headline figures to every active manager and admin, each in
their own language, once per week however often the task runs."""

from __future__ import annotations

import re
from datetime import date, timedelta
from email.header import decode_header, make_header

import pytest
from django.core import mail

from metrics.report_tasks import metrics_weekly_report
from metrics.reports import ReportWeek, weekly_report_send
from metrics.rollups import rollups_rebuild
from metrics.selectors import reporting_today
from metrics.services import ticket_facts_refresh
from tests.factories import make_agent, make_team, make_ticket, make_user
from tickets.models import Role, Status, Ticket
from tickets.services import ticket_reply, ticket_set_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    team = make_team("Support", slug="support")
    agent = make_agent(team, username="ada", first_name="Ada")
    return {
        "agent": agent,
        "manager": make_user(role=Role.MANAGER, username="max", first_name="Max", language="en"),
        "chinese_manager": make_user(role=Role.MANAGER, username="wang", first_name="Wang", language="zh-hans"),
        "admin": make_user(role=Role.ADMIN, username="root", first_name="Root"),
        "gone": make_user(role=Role.MANAGER, username="gone", is_active=False),
        "team": team,
    }


def seed_week(people) -> None:
    """Three tickets created now: one answered once and solved, two left open."""
    solved = make_ticket(team=people["team"], assignee=people["agent"], channel="email")
    ticket_reply(ticket=solved, actor=people["agent"], body_text="Done.")
    ticket_set_status(ticket=solved, status=Status.SOLVED, actor=people["agent"])
    make_ticket(team=people["team"], channel="web")
    make_ticket(team=people["team"], channel="chat")
    ticket_facts_refresh(ticket_ids=list(Ticket.objects.values_list("pk", flat=True)))
    rollups_rebuild()


def row(html: str, metric: str) -> list[str]:
    """The texts of a figure's row: label, value, change."""
    match = re.search(rf'<tr[^>]*data-metric="{metric}">(.*?)</tr>', html, re.S)
    assert match, f"no {metric} row"
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1), re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip() for cell in cells]


def test_report_week_is_the_last_full_monday_to_sunday():
    week = ReportWeek.before(date(2026, 12, 2))  # a Wednesday
    assert (week.start.isoformat(), week.end.isoformat()) == ("2026-11-23", "2026-11-29")
    monday = ReportWeek.before(date(2026, 12, 7))
    assert (monday.start.isoformat(), monday.end.isoformat()) == ("2026-11-30", "2026-12-06")


def test_task_mails_each_manager_and_admin_the_figures_in_their_language(people):
    seed_week(people)
    # Next week's run reports the week the tickets were made in.
    next_week = reporting_today() + timedelta(days=7)

    sent = weekly_report_send(today=next_week)

    assert sent == 3
    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert set(by_recipient) == {people[name].email for name in ("manager", "chinese_manager", "admin")}

    english = by_recipient[people["manager"].email]
    html = english.alternatives[0][0]
    assert str(make_header(decode_header(english.subject))).startswith("Helpdesk weekly report: ")
    assert "Hello Max," in english.body
    assert row(html, "volume")[:3] == ["Volume", "3", "▲ 3 vs 0 before"]
    assert row(html, "fcr_rate")[:2] == ["First contact resolution", "100.0%"]
    assert "Volume: 3" in english.body
    assert "/agent/metrics/?period=custom&start=" in english.body

    chinese = by_recipient[people["chinese_manager"].email]
    chinese_html = chinese.alternatives[0][0]
    assert '<html lang="zh-hans">' in chinese_html
    assert "Wang，您好：" in chinese.body  # the catalog's greeting: the mail was rendered in Chinese
    assert "Hello" not in chinese.body
    assert row(chinese_html, "volume")[1] == "3"
    assert row(chinese_html, "fcr_rate")[1] == "100.0%"


def test_task_run_twice_mails_nobody_twice(people):
    seed_week(people)
    next_week = reporting_today() + timedelta(days=7)
    assert weekly_report_send(today=next_week) == 3

    assert weekly_report_send(today=next_week) == 0
    assert len(mail.outbox) == 3


def test_beat_task_sends_last_weeks_report(people):
    result = metrics_weekly_report.apply()

    assert result.get() == 3
    assert len(mail.outbox) == 3
    assert all(message.alternatives[0][1] == "text/html" for message in mail.outbox)
