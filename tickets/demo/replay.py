"""Writing plans through the ticket services, with the clock set to each operation's time.

This is the reference writer: every row is made by the same code that makes rows in production
(events, counters, timestamps, transitions), only `django.utils.timezone.now` answers the plan's
time instead of the wall clock. Used for small demos and to check the bulk writer against.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from tickets.demo.plan import ASSIGN, CUSTOMER, NOTE, PRIORITY, REPLY, STATUS, TAG, TicketPlan, moment
from tickets.models import Customer, Team, Ticket, User
from tickets.services import ticket_add_note, ticket_create, ticket_reply, ticket_update


@contextlib.contextmanager
def clock_at(when: datetime) -> Iterator[None]:
    """Make `timezone.now()` (services, auto_now fields) answer `when`. Single-threaded seeding only."""
    original = timezone.now
    timezone.now = lambda: when
    try:
        yield
    finally:
        timezone.now = original


class _Objects:
    """Model instances by id, fetched once."""

    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.customers: dict[int, Customer] = {}
        self.teams: dict[int, Team] = {t.pk: t for t in Team.objects.all()}

    def user(self, pk: int | None) -> User | None:
        if pk is None:
            return None
        if pk not in self.users:
            self.users[pk] = User.objects.get(pk=pk)
        return self.users[pk]

    def customer(self, pk: int) -> Customer:
        if pk not in self.customers:
            self.customers[pk] = Customer.objects.select_related("user").get(pk=pk)
        return self.customers[pk]


def replay_ticket(plan: TicketPlan, objects: _Objects) -> Ticket:
    requester = objects.customer(plan.requester_id)
    customer_user = objects.user(plan.requester_user_id)
    creator = objects.user(plan.creator_id)
    actor = creator if creator is not None else (customer_user if plan.channel == "web" else None)
    with transaction.atomic():
        with clock_at(moment(plan.created_at)):
            ticket = ticket_create(
                requester=requester, subject=plan.subject, body_text=plan.body, channel=plan.channel, actor=actor,
                team=objects.teams[plan.team_id], assignee=objects.user(plan.assignee_id), priority=plan.priority,
                ticket_type=plan.ticket_type, tags=plan.tags, custom_fields=plan.custom_fields,
                external_id=plan.external_id, via=plan.channel,
            )
        for op in plan.ops:
            kind, at = op[0], op[1]
            with clock_at(moment(at)):
                if kind == ASSIGN:
                    ticket = ticket_update(ticket=ticket, actor=objects.user(op[2]), assignee=objects.user(op[3]))
                elif kind == REPLY:
                    ticket_reply(ticket=ticket, actor=objects.user(op[2]), body_text=op[3], status=op[4])
                elif kind == CUSTOMER:
                    ticket_reply(ticket=ticket, actor=customer_user, author_customer=requester, body_text=op[2],
                                 channel=plan.channel, external_id=op[3])
                elif kind == NOTE:
                    author = objects.user(op[2])
                    assert author is not None
                    ticket_add_note(ticket=ticket, actor=author, body_text=op[3], via="web")
                elif kind == STATUS:
                    ticket = ticket_update(ticket=ticket, actor=objects.user(op[2]), status=op[3], via=op[4])
                elif kind == PRIORITY:
                    ticket = ticket_update(ticket=ticket, actor=objects.user(op[2]), priority=op[3])
                elif kind == TAG:
                    ticket = ticket_update(ticket=ticket, actor=objects.user(op[2]), add_tags=[op[3]])
                else:
                    raise ValueError(f"unknown operation {kind!r}")
    return ticket


def replay(plans: Iterable[TicketPlan]) -> int:
    """Create the planned tickets through the services; returns how many were created.

    Realtime broadcasts, reply mail and SLA timers are switched off: this is history being written,
    nobody is watching it live, nobody is waiting for those replies, and a clock started now for a
    conversation of last month would measure nothing (the bulk copy writes no timers either).
    """
    created = 0
    with override_settings(CHANNEL_LAYERS={}, HELPDESK_EMAIL_REPLIES=False, HELPDESK_SLA_TIMERS=False):
        objects = _Objects()
        for plan in plans:
            replay_ticket(plan, objects)
            created += 1
    return created
