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


class Objects:
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


def create_ticket(plan: TicketPlan, objects: Objects) -> Ticket:
    """The planned ticket's creation, at its creation time."""
    requester = objects.customer(plan.requester_id)
    customer_user = objects.user(plan.requester_user_id)
    creator = objects.user(plan.creator_id)
    actor = creator if creator is not None else (customer_user if plan.channel == "web" else None)
    with clock_at(moment(plan.created_at)):
        return ticket_create(
            requester=requester, subject=plan.subject, body_text=plan.body, channel=plan.channel, actor=actor,
            team=objects.teams[plan.team_id], assignee=objects.user(plan.assignee_id), priority=plan.priority,
            ticket_type=plan.ticket_type, tags=plan.tags, custom_fields=plan.custom_fields,
            external_id=plan.external_id, via=plan.channel,
        )


def apply_op(ticket: Ticket, plan: TicketPlan, op: tuple, objects: Objects) -> Ticket:
    """One planned operation on the ticket, at its time; returns the ticket as the service left it."""
    kind = op[0]
    with clock_at(moment(op[1])):
        if kind == ASSIGN:
            ticket = ticket_update(ticket=ticket, actor=objects.user(op[2]), assignee=objects.user(op[3]))
        elif kind == REPLY:
            ticket_reply(ticket=ticket, actor=objects.user(op[2]), body_text=op[3], status=op[4])
        elif kind == CUSTOMER:
            ticket_reply(ticket=ticket, actor=objects.user(plan.requester_user_id),
                         author_customer=objects.customer(plan.requester_id), body_text=op[2],
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


def replay_ticket(plan: TicketPlan, objects: Objects) -> Ticket:
    with transaction.atomic():
        ticket = create_ticket(plan, objects)
        for op in plan.ops:
            ticket = apply_op(ticket, plan, op, objects)
    return ticket


def replay(plans: Iterable[TicketPlan], *, sla_timers: bool = False) -> int:
    """Create the planned tickets through the services; returns how many were created.

    Realtime broadcasts and reply mail are switched off: this is history being written, nobody is
    watching it live, nobody is waiting for those replies. SLA timers too unless `sla_timers`: the
    timers run on the clock of each step, but the year of history has none (the bulk copy writes
    none for it either); the metrics history (tickets.demo.history) has them.
    """
    created = 0
    with override_settings(CHANNEL_LAYERS={}, HELPDESK_EMAIL_REPLIES=False, HELPDESK_SLA_TIMERS=sla_timers):
        objects = Objects()
        for plan in plans:
            replay_ticket(plan, objects)
            created += 1
    return created
