"""The small world the metrics read tests compute their expectations on by hand.

Tickets are built through the ticket services at chosen instants (the `at` helper of
test_facts.py restamps the events a step wrote), their facts computed by
`metrics.services.ticket_facts_refresh` (which keeps the rollups current); SLA targets are set on
the facts directly (which timers count as decided is the facts' business, tested there) and the
rollups rebuilt from the facts; survey answers are created as rows.

Reporting days are those of Asia/Shanghai; office hours 9–18 Monday to Friday. The current period
is Monday 2026-11-02 to Sunday 2026-11-08, the previous one 2026-10-26 to 2026-11-01.

    ticket  team     agent  channel priority org  created         first reply        first solve       notes
    T1      Support  a1     email   normal   X    Mon 02 10:00    Mon 02 10:30       Mon 02 12:00      FCR
    T2      Support  a1     chat    high     -    Fri 06 17:00    Sat 07 10:00       Sun 08 12:00      reopened twice
    T3      Support  -      chat    normal   -    Tue 03 09:00    -                  Tue 03 09:20      solved by customer
    T4      Billing  b1     email   normal   -    Wed 04 09:00    -                  -                 never replied, open
    T5      Billing  b1     email   normal   -    Wed 04 09:05    Wed 04 09:30       -                 merged into T4
    T6      Billing  b1     email   high     X    Thu 05 09:00    Thu 05 11:00       Fri 06 09:00      FCR
    T7      Support  a2     email   normal   -    Mon Oct 26 10:00 Mon 26 11:00      Tue Oct 27 10:00  previous period, FCR
    T8      Support  a2     email   normal   -    Fri Oct 30 10:00 Mon Nov 02 09:30  -                 open
    T9      -        -      web     normal   -    Sat 07 11:00    -                  -                 open, no team

Durations (seconds, business / calendar): FRT T1 1800/1800, T2 3600/61200, T6 7200/7200,
T8 30600/257400, T7 3600/3600; resolution T1 7200/7200, T2 3600/154800, T3 1200/1200,
T6 32400/86400, T7 32400/86400.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Max

from metrics.models import SurveyResponse, TicketFact
from metrics.rollups import rollups_rebuild
from metrics.selectors import MetricFilters
from metrics.services import ticket_facts_refresh
from tests.factories import make_agent, make_customer, make_organization, make_team, make_user
from tickets.models import BusinessHours, Event, Role, SlaPolicy, Status, Team, Ticket, User
from tickets.services import ticket_assign, ticket_create, ticket_merge, ticket_reply, ticket_set_status

SHANGHAI = ZoneInfo("Asia/Shanghai")
CURRENT = MetricFilters(start=date(2026, 11, 2), end=date(2026, 11, 8))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


@contextmanager
def at(instant: datetime) -> Iterator[None]:
    """Whatever events the block writes happened at `instant`."""
    last_id = Event.objects.aggregate(last=Max("id"))["last"] or 0
    yield
    Event.objects.filter(id__gt=last_id).update(created_at=instant)


def created(instant: datetime, *, requester, team: Team | None, assignee: User | None = None,
            channel: str = "email", priority: str = "normal") -> Ticket:
    with at(instant):
        ticket = ticket_create(requester=requester, subject="Printer is on fire", body_text="It started today.",
                               team=team, channel=channel, priority=priority)
        if assignee is not None:
            ticket_assign(ticket=ticket, assignee=assignee, actor=assignee)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=instant)
    ticket.refresh_from_db()
    return ticket


def sla(metric: str, due: datetime, met: bool) -> dict[str, Any]:
    return {"metric": metric, "due": due.isoformat(), "met": met}


@dataclass
class World:
    support: Team
    billing: Team
    a1: User
    a2: User
    b1: User
    lead: User
    manager: User
    organization: Any
    tickets: dict[str, Ticket]

    def numbers(self, *names: str) -> set[int]:
        return {self.tickets[name].number for name in names}


def answer(kind: str, score: int, when: datetime, ticket: Ticket | None = None) -> SurveyResponse:
    dims: dict[str, Any] = {}
    if ticket is not None:
        fact = TicketFact.objects.get(ticket=ticket)
        dims = {"ticket": ticket, "customer": ticket.requester, "team_id": fact.team_id, "agent_id": fact.agent_id,
                "channel": fact.channel, "priority": fact.priority, "organization_id": fact.organization_id}
    return SurveyResponse.objects.create(kind=kind, score=score, source="email", responded_at=when, **dims)


def build_world() -> World:
    office = BusinessHours.objects.create(
        name="Shanghai office", timezone="Asia/Shanghai", weekly={str(day): ["09:00-18:00"] for day in range(5)}
    )
    # A calendar but no targets: business hours without SLA timers (targets are set on the facts).
    SlaPolicy.objects.create(name="Office hours", position=10, calendar=office, targets={})
    # Slugs other than HELPDESK_DEFAULT_TEAM's: T9 must stay without a team.
    support, billing = make_team("Support", slug="first-line"), make_team("Billing", slug="invoices")
    a1 = make_agent(support, display_name="Ann One")
    a2 = make_agent(support, display_name="Abe Two")
    b1 = make_agent(billing, display_name="Bea One")
    lead = make_user(role=Role.TEAM_LEAD, teams=[support], lead_of=[support], display_name="Lee Lead")
    manager = make_user(role=Role.MANAGER, display_name="Mia Manager")
    organization = make_organization("Xiamen Printing 厦门印刷")
    member = make_customer(organization=organization)
    tickets: dict[str, Ticket] = {}

    t1 = tickets["T1"] = created(local(2026, 11, 2, 10, 0), requester=member, team=support, assignee=a1)
    with at(local(2026, 11, 2, 10, 30)):
        ticket_reply(ticket=t1, actor=a1, body_text="Restart the printer.")
    with at(local(2026, 11, 2, 12, 0)):
        ticket_set_status(ticket=t1, status=Status.SOLVED, actor=a1)

    customer2 = make_customer()
    t2 = tickets["T2"] = created(local(2026, 11, 6, 17, 0), requester=customer2, team=support, assignee=a1,
                                 channel="chat", priority="high")
    with at(local(2026, 11, 7, 10, 0)):
        ticket_reply(ticket=t2, actor=a1, body_text="Try the other tray.")
    with at(local(2026, 11, 8, 12, 0)):
        ticket_set_status(ticket=t2, status=Status.SOLVED, actor=a1)
    with at(local(2026, 11, 8, 13, 0)):
        ticket_reply(ticket=t2, actor=customer2.user, body_text="Still jammed.")
    with at(local(2026, 11, 8, 14, 0)):
        ticket_reply(ticket=t2, actor=a1, body_text="Replace the roller.", status=Status.SOLVED)
    with at(local(2026, 11, 8, 15, 0)):
        ticket_reply(ticket=t2, actor=customer2.user, body_text="Jammed again.")
    with at(local(2026, 11, 8, 16, 0)):
        ticket_set_status(ticket=t2, status=Status.SOLVED, actor=a1)

    customer3 = make_customer()
    t3 = tickets["T3"] = created(local(2026, 11, 3, 9, 0), requester=customer3, team=support, channel="chat")
    with at(local(2026, 11, 3, 9, 20)):
        ticket_reply(ticket=t3, actor=customer3.user, body_text="Never mind, it works.")
        ticket_set_status(ticket=t3, status=Status.SOLVED, actor=customer3.user)

    customer4 = make_customer()
    t4 = tickets["T4"] = created(local(2026, 11, 4, 9, 0), requester=customer4, team=billing, assignee=b1)
    t5 = tickets["T5"] = created(local(2026, 11, 4, 9, 5), requester=customer4, team=billing, assignee=b1)
    with at(local(2026, 11, 4, 9, 30)):
        ticket_reply(ticket=t5, actor=b1, body_text="Answered on the duplicate.")
    with at(local(2026, 11, 4, 10, 0)):
        ticket_merge(source=t5, target=t4, actor=b1)

    t6 = tickets["T6"] = created(local(2026, 11, 5, 9, 0), requester=make_customer(organization=organization),
                                 team=billing, assignee=b1, priority="high")
    with at(local(2026, 11, 5, 11, 0)):
        ticket_reply(ticket=t6, actor=b1, body_text="Invoice corrected.")
    with at(local(2026, 11, 6, 9, 0)):
        ticket_set_status(ticket=t6, status=Status.SOLVED, actor=b1)

    t7 = tickets["T7"] = created(local(2026, 10, 26, 10, 0), requester=make_customer(), team=support, assignee=a2)
    with at(local(2026, 10, 26, 11, 0)):
        ticket_reply(ticket=t7, actor=a2, body_text="Done.")
    with at(local(2026, 10, 27, 10, 0)):
        ticket_set_status(ticket=t7, status=Status.SOLVED, actor=a2)

    t8 = tickets["T8"] = created(local(2026, 10, 30, 10, 0), requester=make_customer(), team=support, assignee=a2)
    with at(local(2026, 11, 2, 9, 30)):
        ticket_reply(ticket=t8, actor=a2, body_text="Looking into it.")

    tickets["T9"] = created(local(2026, 11, 7, 11, 0), requester=make_customer(), team=None, channel="web")

    for ticket in tickets.values():
        ticket.refresh_from_db()
    ticket_facts_refresh(ticket_ids=[ticket.pk for ticket in tickets.values()])
    targets = {
        "T1": [sla("first_response", local(2026, 11, 2, 11, 0), True), sla("resolution", local(2026, 11, 2, 18, 0), True)],
        # Its first response target fell due after the period: not counted in it.
        "T2": [sla("resolution", local(2026, 11, 8, 10, 0), False), sla("first_response", local(2026, 11, 9, 9, 0), False)],
        "T6": [sla("first_response", local(2026, 11, 5, 10, 0), False)],
        "T7": [sla("first_response", local(2026, 10, 26, 11, 0), True)],
    }
    for name, ticket_targets in targets.items():
        TicketFact.objects.filter(ticket=tickets[name]).update(sla_targets=ticket_targets)
    rollups_rebuild()

    # Survey answers. Current period: CSAT 5, 2, 3, 4 (two of four satisfied); NPS 10, 9, 7, 3
    # (two promoters, one detractor: +25), two of them without a ticket; CES 2, 5 and 6 (mean 13/3).
    answer("csat", 5, local(2026, 11, 2, 13, 0), t1)
    answer("csat", 2, local(2026, 11, 8, 17, 0), t2)
    answer("csat", 3, local(2026, 11, 3, 10, 0), t3)
    answer("csat", 4, local(2026, 11, 8, 23, 30), t6)  # 15:30 UTC: still Sunday in Shanghai
    answer("nps", 10, local(2026, 11, 2, 14, 0), t1)
    answer("nps", 9, local(2026, 11, 4, 12, 0))
    answer("nps", 7, local(2026, 11, 5, 12, 0))
    answer("nps", 3, local(2026, 11, 6, 12, 0), t6)
    answer("ces", 2, local(2026, 11, 2, 13, 1), t1)
    answer("ces", 5, local(2026, 11, 6, 12, 1), t6)
    answer("ces", 6, local(2026, 11, 7, 12, 0))
    # Previous period: CSAT 5 (100 %), NPS 0 (−100), no CES.
    answer("csat", 5, local(2026, 10, 27, 11, 0), t7)
    answer("nps", 0, local(2026, 10, 28, 12, 0))
    # After the period: 00:30 Monday in Shanghai is still Sunday in UTC, and must not count.
    answer("csat", 1, local(2026, 11, 9, 0, 30), t2)

    return World(support=support, billing=billing, a1=a1, a2=a2, b1=b1, lead=lead, manager=manager,
                 organization=organization, tickets=tickets)


def world_in_shanghai(settings) -> World:
    """The world, with reporting days in Shanghai; each test module's `world` fixture returns it."""
    settings.HELPDESK_METRICS_TIME_ZONE = "Asia/Shanghai"
    return build_world()


@pytest.fixture
def world(db, settings) -> World:
    return world_in_shanghai(settings)


def test_world_facts_are_the_ones_the_expectations_are_computed_from(world):
    facts = {name: TicketFact.objects.get(ticket=ticket) for name, ticket in world.tickets.items()}

    assert {name: (fact.frt_business_seconds, fact.frt_seconds) for name, fact in facts.items()} == {
        "T1": (1800, 1800), "T2": (3600, 61200), "T3": (None, None), "T4": (None, None), "T5": (None, None),
        "T6": (7200, 7200), "T7": (3600, 3600), "T8": (30600, 257400), "T9": (None, None),
    }
    assert {name: (fact.resolution_business_seconds, fact.resolution_seconds) for name, fact in facts.items()
            if fact.first_solved_at and not fact.is_merged} == {
        "T1": (7200, 7200), "T2": (3600, 154800), "T3": (1200, 1200), "T6": (32400, 86400), "T7": (32400, 86400),
    }
    assert {name for name, fact in facts.items() if fact.is_fcr} == {"T1", "T6", "T7"}
    assert (facts["T2"].reopen_count, facts["T3"].solved_by_customer, facts["T5"].is_merged) == (2, True, True)
    assert {name: fact.agent_id for name, fact in facts.items()} == {
        "T1": world.a1.pk, "T2": world.a1.pk, "T3": None, "T4": world.b1.pk, "T5": world.b1.pk, "T6": world.b1.pk,
        "T7": world.a2.pk, "T8": world.a2.pk, "T9": None,
    }
    assert {name for name, fact in facts.items() if fact.organization_id == world.organization.pk} == {"T1", "T6"}
    assert facts["T9"].team_id is None
