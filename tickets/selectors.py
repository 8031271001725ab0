"""Reads of tickets. Every function takes the caller and starts from `permissions.visible_tickets`."""

from __future__ import annotations

import base64
import binascii
import json
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from helpdesk import permissions
from tickets.models import (
    UNSOLVED_STATUSES,
    Attachment,
    Channel,
    Customer,
    Event,
    Message,
    Priority,
    SavedView,
    SlaTimer,
    Status,
    Team,
    TeamMembership,
    Ticket,
    TicketType,
    TimerState,
    User,
    Visibility,
)

PRIORITY_RANK = Case(
    When(priority=Priority.LOW, then=Value(0)),
    When(priority=Priority.NORMAL, then=Value(1)),
    When(priority=Priority.HIGH, then=Value(2)),
    When(priority=Priority.URGENT, then=Value(3)),
    output_field=IntegerField(),
)
STATUS_RANK = Case(*[When(status=s, then=Value(i)) for i, s in enumerate(Status.values)], output_field=IntegerField())

# The only sort keys accepted from a request (CVE-2018-7196 was an unchecked sort parameter).
SORT_FIELDS: dict[str, str] = {
    "number": "number",
    "subject": "subject",
    "requester": "requester__name",
    "status": "status_rank",
    "priority": "priority_rank",
    "team": "team__name",
    "assignee": "assignee__username",
    "updated": "updated_at",
    "created": "created_at",
    # The nearest due time of the running SLA targets (Ticket.sla_due_at, indexed); none sort last.
    "due": "sla_due_at",
}
DATETIME_SORT_PATHS = frozenset({"updated_at", "created_at", "sla_due_at"})
# "Breaching soon": the nearest SLA target is due within this time, or already missed.
BREACHING_SOON = timedelta(hours=1)
DEFAULT_SORT = "-updated"
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 200


class InvalidQuery(ValueError):
    """A filter, sort or cursor from the request that is not allowed or not well formed."""


@dataclass
class TicketFilters:
    statuses: list[str] = field(default_factory=list)
    team_ids: list[int] = field(default_factory=list)
    no_team: bool = False
    assignee_ids: list[int] = field(default_factory=list)
    unassigned: bool = False
    priorities: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    requester_id: int | None = None
    organization_id: int | None = None
    updated_after: datetime | None = None
    created_after: datetime | None = None
    q: str = ""
    # Tickets whose nearest running SLA target is due within BREACHING_SOON or overdue (`sla=breaching`).
    sla_breaching: bool = False
    # Search only public messages: set for customers, so a search cannot probe internal notes.
    search_public_messages_only: bool = False

    @classmethod
    def from_params(cls, params: Any, *, user: User | None = None) -> TicketFilters:
        """Parse query parameters (a QueryDict or dict of lists/strings); raises InvalidQuery."""

        def values(key: str) -> list[str]:
            if hasattr(params, "getlist"):
                raw = params.getlist(key)
            else:
                raw = params.get(key, [])
                raw = raw if isinstance(raw, list) else [raw]
            out: list[str] = []
            for item in raw:
                out += [part.strip() for part in str(item).split(",") if part.strip()]
            return out

        def choice_list(key: str, allowed: list[str]) -> list[str]:
            chosen = values(key)
            bad = [v for v in chosen if v not in allowed]
            if bad:
                raise InvalidQuery(f"{key}: unknown value {bad[0]!r}")
            return chosen

        def ids(raw: list[str], key: str) -> list[int]:
            try:
                return [int(v) for v in raw]
            except ValueError:
                raise InvalidQuery(f"{key}: expected ids") from None

        def when(key: str) -> datetime | None:
            raw = values(key)
            if not raw:
                return None
            parsed = parse_datetime(raw[0])
            if parsed is None:
                raise InvalidQuery(f"{key}: expected an ISO 8601 date-time")
            return parsed

        filters = cls(
            statuses=_expand_statuses(values("status")),
            priorities=choice_list("priority", Priority.values),
            channels=choice_list("channel", Channel.values),
            types=choice_list("type", TicketType.values),
            tags=[t.lower() for t in values("tag")],
            updated_after=when("updated_after"),
            created_after=when("created_after"),
            q=" ".join(values("q"))[:200],
            search_public_messages_only=user is not None and not permissions.can_see_internal_notes(user),
        )
        sla = choice_list("sla", ["breaching"])
        if sla and user is not None and not permissions.is_staff_member(user):
            # Customers are not shown SLA targets; a filter on them would tell them anyway.
            raise InvalidQuery("sla: only for staff")
        filters.sla_breaching = "breaching" in sla
        teams = values("team")
        filters.no_team = "none" in teams
        filters.team_ids = ids([t for t in teams if t != "none"], "team")
        assignees = values("assignee")
        filters.unassigned = "none" in assignees
        if "me" in assignees:
            if user is None:
                raise InvalidQuery("assignee: 'me' needs a signed-in user")
            assignees = [str(user.pk) if a == "me" else a for a in assignees]
        filters.assignee_ids = ids([a for a in assignees if a != "none"], "assignee")
        requester = values("requester")
        filters.requester_id = ids(requester, "requester")[0] if requester else None
        organization = values("organization")
        filters.organization_id = ids(organization, "organization")[0] if organization else None
        return filters

    def as_q(self) -> Q:
        condition = Q()
        if self.statuses:
            condition &= Q(status__in=self.statuses)
        if self.team_ids or self.no_team:
            condition &= Q(team_id__in=self.team_ids) | (Q(team__isnull=True) if self.no_team else Q(pk__in=[]))
        if self.assignee_ids or self.unassigned:
            condition &= Q(assignee_id__in=self.assignee_ids) | (
                Q(assignee__isnull=True) if self.unassigned else Q(pk__in=[])
            )
        if self.priorities:
            condition &= Q(priority__in=self.priorities)
        if self.channels:
            condition &= Q(channel__in=self.channels)
        if self.types:
            condition &= Q(type__in=self.types)
        if self.tags:
            condition &= Q(tags__contains=self.tags)
        if self.requester_id:
            condition &= Q(requester_id=self.requester_id)
        if self.organization_id:
            condition &= Q(organization_id=self.organization_id)
        if self.updated_after:
            condition &= Q(updated_at__gt=self.updated_after)
        if self.created_after:
            condition &= Q(created_at__gt=self.created_after)
        if self.sla_breaching:
            condition &= Q(sla_due_at__lte=timezone.now() + BREACHING_SOON)
        if self.q:
            condition &= _search_condition(self.q, public_only=self.search_public_messages_only)
        return condition

    def apply(self, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        return queryset.filter(self.as_q())


def _expand_statuses(raw: list[str]) -> list[str]:
    statuses: list[str] = []
    for value in raw:
        if value == "unsolved":
            statuses += list(UNSOLVED_STATUSES)
        elif value in Status.values:
            statuses.append(value)
        else:
            raise InvalidQuery(f"status: unknown value {value!r}")
    return list(dict.fromkeys(statuses))


def _search_condition(q: str, *, public_only: bool = False) -> Q:
    """Subject or any message text contains every word (trigram-indexed, so Chinese substrings work too)."""
    q = q.strip()
    if q.lstrip("#").isdigit() and len(q.lstrip("#")) < 12:
        return Q(number=int(q.lstrip("#"))) | Q(subject__upper__contains=q.upper())
    condition = Q()
    for word in q.split()[:8]:
        word_upper = word.upper()
        messages = Message.objects.filter(body_text__upper__contains=word_upper)
        if public_only:
            messages = messages.filter(visibility=Visibility.PUBLIC)
        condition &= Q(subject__upper__contains=word_upper) | Q(pk__in=messages.values("ticket_id"))
    return condition


@dataclass
class TicketPage:
    tickets: list[Any]  # Tickets, or QueueRows from queue_page
    next_cursor: str | None
    previous_cursor: str | None
    sort: str


def _encode_cursor(values: list[Any], direction: str) -> str:
    raw = json.dumps({"v": values, "d": direction}, default=str, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[list[Any], str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values, direction = data["v"], data["d"]
        if not isinstance(values, list) or len(values) != 2 or direction not in ("next", "prev"):
            raise ValueError
        return values, direction
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
        raise InvalidQuery("cursor: not a valid cursor") from None


def parse_sort(sort: str | None) -> tuple[str, bool]:
    sort = (sort or DEFAULT_SORT).strip()
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_FIELDS:
        raise InvalidQuery(f"sort: unknown field {key!r}")
    return key, descending


def _sort_value(ticket: Ticket, path: str) -> Any:
    value: Any = ticket
    for part in path.split("__"):
        value = getattr(value, part, None) if value is not None else None
    return value


def ticket_queryset(*, user: User) -> QuerySet[Ticket]:
    return permissions.visible_tickets(user)


def ticket_page(
    *, user: User, filters: TicketFilters, sort: str | None = None, cursor: str | None = None,
    page_size: int = PAGE_SIZE_DEFAULT, fields: Sequence[str] | None = None,
) -> TicketPage:
    """One page of the tickets `user` may see, keyset-paginated on (sort value, id).

    Stays as fast on page 1,000 as on page 1: no OFFSET, and the open-queue indexes match the
    default sort. `fields` (names for `.only()`) loads just the columns a caller shows; other
    fields still load on access, one query per row, so list every one used.
    """

    def fetch(queryset: QuerySet[Ticket], path: str, limit: int) -> list[Ticket]:
        queryset = queryset.select_related("requester", "team", "assignee")
        if fields is not None:
            queryset = queryset.only(*fields)
        return list(queryset[:limit])

    return _keyset_page(filters.apply(ticket_queryset(user=user)), sort=sort, cursor=cursor, page_size=page_size,
                        fetch=fetch, sort_value=_sort_value)


def ticket_row_page(
    *, user: User, filters: TicketFilters, columns: Sequence[str], sort: str | None = None,
    cursor: str | None = None, page_size: int = PAGE_SIZE_DEFAULT, annotations: dict[str, Any] | None = None,
) -> TicketPage:
    """`ticket_page`'s tickets as named tuples of `columns` (values_list names, e.g. "requester__name").

    For callers that render many rows (the API list): no Ticket, Customer, Team or User instances are
    built, which is most of the Python cost of a page. The sort column is added when not among `columns`.
    """

    def fetch(queryset: QuerySet[Ticket], path: str, limit: int) -> list[Any]:
        names = tuple(columns) if path in columns else (*columns, path)
        if annotations:
            queryset = queryset.annotate(**annotations)
            names = (*names, *annotations)
        return list(queryset.values_list(*names, named=True)[:limit])

    return _keyset_page(filters.apply(ticket_queryset(user=user)), sort=sort, cursor=cursor, page_size=page_size,
                        fetch=fetch, sort_value=lambda row, path: getattr(row, path))


@dataclass(frozen=True, slots=True)
class SlaBadge:
    """The nearest unmet SLA target of a ticket, as the queue's SLA column shows it: the running
    target due first, else (every target stands still) the paused one due first."""

    metric: str
    due_at: datetime
    warning_at: datetime | None
    breached_at: datetime | None
    is_paused: bool


def sla_badges(ticket_ids: Iterable[int]) -> dict[int, SlaBadge]:
    """SlaBadge per ticket id (tickets without an unmet target have none), in one query.

    The caller has already decided the tickets may be seen (they are rows of its page).
    """
    ticket_ids = list(ticket_ids)
    if not ticket_ids:
        return {}
    badges: dict[int, SlaBadge] = {}
    timers = SlaTimer.objects.filter(
        ticket_id__in=ticket_ids, is_current=True, state__in=[TimerState.RUNNING, TimerState.PAUSED]
    ).values_list("ticket_id", "metric", "state", "due_at", "warning_at", "breached_at")
    for ticket_id, metric, state, due_at, warning_at, breached_at in timers:
        badge = SlaBadge(metric, due_at, warning_at, breached_at, state == TimerState.PAUSED)
        shown = badges.get(ticket_id)
        if shown is None or (shown.is_paused, shown.due_at) > (badge.is_paused, badge.due_at):
            badges[ticket_id] = badge
    return badges


def sla_targets_annotation() -> Any:
    """A ticket query's annotation: the ticket's current SLA targets (cancelled ones left out), in
    metric order, as JSON objects for `sla_targets_from_json`. Read in the ticket's own query (a
    subquery on the timers' (ticket, metric) index), so a page of tickets costs no extra query."""
    from django.contrib.postgres.expressions import ArraySubquery
    from django.db.models.functions import JSONObject

    timers = (
        SlaTimer.objects.filter(ticket_id=OuterRef("pk"), is_current=True)
        .exclude(state=TimerState.CANCELLED)
        .order_by("metric")  # first_response, next_response, resolution
        .values(json=JSONObject(
            metric="metric", policy="policy__name", target_minutes="target_minutes", due_at="due_at",
            state="state", met_at="met_at", breached_at="breached_at",
        ))
    )
    return ArraySubquery(timers)


def sla_targets_from_json(rows: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """`sla_targets_annotation`'s objects in the API shape (PRODUCT.md: ticket JSON `sla`), with
    aware datetimes: {metric, policy, target_minutes, due_at, paused, met_at, breached_at}."""

    def when(value: str | None) -> datetime | None:
        return parse_datetime(value) if value else None

    return [
        {
            "metric": row["metric"], "policy": row["policy"], "target_minutes": row["target_minutes"],
            "due_at": when(row["due_at"]), "paused": row["state"] == TimerState.PAUSED,
            "met_at": when(row["met_at"]), "breached_at": when(row["breached_at"]),
        }
        for row in rows or []
    ]


def ticket_sla_targets(*, ticket: Ticket) -> list[dict[str, Any]]:
    """One ticket's current SLA targets as `sla_targets_from_json` gives them (one query).
    The caller has already decided the ticket may be seen."""
    rows = Ticket.objects.filter(pk=ticket.pk).annotate(sla_targets=sla_targets_annotation())
    return sla_targets_from_json(rows.values_list("sla_targets", flat=True).first())


@dataclass(frozen=True, slots=True)
class SlaPauseEntry:
    started_at: datetime
    ended_at: datetime | None  # None while the pause lasts
    status: str
    status_label: str


def ticket_sla_timers(*, ticket: Ticket) -> list[SlaTimer]:
    """The ticket's current SLA timers (not cancelled) in metric order, each with its policy and
    `pause_history` (SlaPauseEntry list, oldest first), in one query.

    The caller has already decided the ticket may be seen.
    """
    from django.contrib.postgres.expressions import ArraySubquery
    from django.db.models.functions import JSONObject

    from tickets.models import Metric, SlaTimerPause

    pauses = SlaTimerPause.objects.filter(timer_id=OuterRef("pk")).order_by("started_at", "id").values(
        json=JSONObject(started_at="started_at", ended_at="ended_at", status="status")
    )
    timers: list[SlaTimer] = list(
        SlaTimer.objects.filter(ticket_id=ticket.pk, is_current=True)
        .exclude(state=TimerState.CANCELLED)
        .select_related("policy")
        .only("metric", "policy__name", "target_minutes", "is_business_hours", "state", "started_at", "paused_at",
              "due_at", "warning_at", "met_at", "breached_at", "ticket_id")
        .annotate(pause_rows=ArraySubquery(pauses))
    )
    order = {metric: position for position, metric in enumerate(Metric.values)}
    status_labels = {value: str(label) for value, label in Status.choices}
    for timer in timers:
        # JSON gives the instants as text; they are read back as aware datetimes.
        timer.pause_history = [  # type: ignore[attr-defined]
            SlaPauseEntry(
                parse_datetime(row["started_at"]),  # type: ignore[arg-type]
                parse_datetime(row["ended_at"]) if row["ended_at"] else None,
                row["status"],
                status_labels.get(row["status"], row["status"]),
            )
            for row in timer.pause_rows  # type: ignore[attr-defined]
        ]
    timers.sort(key=lambda timer: order.get(timer.metric, len(order)))
    return timers


@dataclass(frozen=True, slots=True)
class QueueRow:
    """What a row of the agent queue shows of a ticket.

    Read as plain values: at a hundred rows a page, building Ticket, Customer, Team and User
    instances (and parsing every timestamp column of them) costs more Python time than the query.
    """

    id: int
    number: int
    subject: str
    status: str
    priority: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    requester_name: str
    team_name: str | None
    assignee_name: str | None
    sort_value: Any = None  # the value of the page's sort column, for its cursors
    sla: SlaBadge | None = None


_QUEUE_ROW_VALUES = (
    "id", "number", "subject", "status", "priority", "tags", "created_at", "updated_at", "requester__name",
    "team__name", "assignee_id", "assignee__display_name", "assignee__first_name", "assignee__last_name",
    "assignee__username",
)


def _queue_rows(queryset: QuerySet[Ticket], path: str, limit: int | None = None) -> list[QueueRow]:
    sorted_by = _QUEUE_ROW_VALUES.index(path) if path in _QUEUE_ROW_VALUES else len(_QUEUE_ROW_VALUES)
    columns = _QUEUE_ROW_VALUES if sorted_by < len(_QUEUE_ROW_VALUES) else (*_QUEUE_ROW_VALUES, path)
    values = queryset.values_list(*columns)
    fetched = list(values[:limit] if limit is not None else values)
    # One query for the SLA column of the whole page, none per row.
    badges = sla_badges(row[0] for row in fetched)
    rows = []
    for row in fetched:
        (pk, number, subject, status, priority, tags, created_at, updated_at, requester_name, team_name,
         assignee_id, display_name, first_name, last_name, username) = row[:15]
        # The same name as User.name: display name, else full name, else username.
        assignee_name = (display_name or f"{first_name} {last_name}".strip() or username) if assignee_id else None
        rows.append(QueueRow(pk, number, subject, status, priority, tags, created_at, updated_at, requester_name,
                             team_name, assignee_name, row[sorted_by], badges.get(pk)))
    return rows


def queue_page(
    *, user: User, filters: TicketFilters, sort: str | None = None, cursor: str | None = None,
    page_size: int = PAGE_SIZE_DEFAULT,
) -> TicketPage:
    """A page of the agent queue: `ticket_page`'s tickets, as QueueRow values."""
    return _keyset_page(filters.apply(ticket_queryset(user=user)), sort=sort, cursor=cursor, page_size=page_size,
                        fetch=_queue_rows, sort_value=lambda row, _path: row.sort_value)


def queue_row(*, user: User, filters: TicketFilters, number: int) -> QueueRow | None:
    """One row of the queue (a live update); None when the ticket is not visible or does not match."""
    rows = _queue_rows(filters.apply(ticket_queryset(user=user)).filter(number=number), "id")
    return rows[0] if rows else None


def _keyset_page(
    queryset: QuerySet[Ticket], *, sort: str | None, cursor: str | None, page_size: int,
    fetch: Callable[[QuerySet[Ticket], str, int], list[Any]], sort_value: Callable[[Any, str], Any],
) -> TicketPage:
    """Sort `queryset`, continue after `cursor` and `fetch(queryset, sort path, limit)` one page of rows."""
    key, descending = parse_sort(sort)
    page_size = max(1, min(int(page_size), PAGE_SIZE_MAX))
    path = SORT_FIELDS[key]
    if path == "priority_rank":
        queryset = queryset.annotate(priority_rank=PRIORITY_RANK)
    elif path == "status_rank":
        queryset = queryset.annotate(status_rank=STATUS_RANK)

    direction = "next"
    if cursor:
        (cursor_value, cursor_id), direction = _decode_cursor(cursor)
        if path in DATETIME_SORT_PATHS and cursor_value is not None:
            cursor_value = parse_datetime(str(cursor_value))
            if cursor_value is None:
                raise InvalidQuery("cursor: not a valid cursor")
        forward_desc = descending if direction == "next" else not descending
        op = "lt" if forward_desc else "gt"
        if cursor_value is None:
            # NULLs sort last ascending / first descending in PostgreSQL; only id breaks the tie.
            tie = Q(**{f"{path}__isnull": True, f"id__{op}": cursor_id})
            after = tie if forward_desc is False else (Q(**{f"{path}__isnull": False}) | tie)
        else:
            after = Q(**{f"{path}__{op}": cursor_value}) | Q(**{path: cursor_value, f"id__{op}": cursor_id})
            if not forward_desc:
                after |= Q(**{f"{path}__isnull": True})
        queryset = queryset.filter(after)
    else:
        forward_desc = descending
    order = [f"-{path}", "-id"] if forward_desc else [path, "id"]
    rows = fetch(queryset.order_by(*order), path, page_size + 1)
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if direction == "prev":
        rows.reverse()

    def cursor_for(row: Any, towards: str) -> str:
        return _encode_cursor([sort_value(row, path), row.id], towards)

    next_cursor = previous_cursor = None
    if rows:
        if direction == "next":
            next_cursor = cursor_for(rows[-1], "next") if has_more else None
            previous_cursor = cursor_for(rows[0], "prev") if cursor else None
        else:
            previous_cursor = cursor_for(rows[0], "prev") if has_more else None
            next_cursor = cursor_for(rows[-1], "next")
    return TicketPage(tickets=rows, next_cursor=next_cursor, previous_cursor=previous_cursor,
                      sort=("-" if descending else "") + key)


def ticket_get(*, user: User, number: int | str) -> Ticket:
    """The ticket if `user` may see it, else Http404."""
    return permissions.access_ticket_by_number(user, number)


def ticket_messages(*, user: User, ticket: Ticket) -> QuerySet[Message]:
    """The thread as `user` may see it: customers never get internal notes."""
    return (
        Message.objects.filter(ticket=ticket)
        .filter(permissions.visible_message_filter(user))
        .select_related("author_user", "author_customer")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at", "id")
    )


# What a timeline shows of people: their names (User.name), never password hashes or login times.
_USER_NAME_FIELDS = ("username", "display_name", "first_name", "last_name")


def ticket_timeline(
    *, user: User, ticket: Ticket, known_users: Iterable[User] = ()
) -> list[tuple[str, Message | Event]]:
    """Messages and (for staff) audit events, merged in time order, with the columns a timeline shows.

    Authors and actors are not joined into every row: they are nearly always the ticket's requester
    and staff the page has loaded anyway (`known_users`, and `user`), so they are set from those, and
    anyone else is read in one query for users and one for customers.
    """
    messages = list(
        ticket_messages(user=user, ticket=ticket)
        .select_related(None)
        .only("author_kind", "author_user_id", "author_customer_id", "visibility", "body_html", "channel",
              "delivery_state", "created_at")
        .prefetch_related(None)
        .prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.only("message_id", "filename", "size").order_by("id"))
        )
    )
    events: list[Event] = []
    if permissions.is_staff_member(user):
        events = list(
            Event.objects.filter(ticket=ticket)
            .exclude(kind__in=["reply_added", "note_added"])
            .only("kind", "actor_user_id", "via", "field", "from_value", "to_value", "created_at")
            .order_by("created_at", "id")
        )
    _set_people(ticket, messages, events, known_users=[*known_users, user])
    if any(message.channel == Channel.PHONE for message in messages):
        # Calls show as call entries (what was recorded about each call): one query, only on threads with calls.
        from channels_intake.phone.selectors import calls_attach

        calls_attach(messages)
    entries: list[tuple[str, Message | Event]] = [("message", m) for m in messages]
    entries += [("event", e) for e in events]
    entries.sort(key=lambda entry: (entry[1].created_at, entry[0] == "message"))
    return entries


def _set_people(ticket: Ticket, messages: list[Message], events: list[Event], *, known_users: list[User]) -> None:
    """Give messages their author and events their actor, from the objects at hand where possible."""
    users = {known.pk: known for known in known_users}
    customers = {ticket.requester_id: ticket.requester}
    wanted_users = {m.author_user_id for m in messages} | {e.actor_user_id for e in events}
    missing_users = {pk for pk in wanted_users if pk is not None and pk not in users}
    if missing_users:
        users.update((person.pk, person) for person in User.objects.filter(pk__in=missing_users).only(*_USER_NAME_FIELDS))
    missing_customers = {m.author_customer_id for m in messages} - customers.keys() - {None}
    if missing_customers:
        customers.update((person.pk, person) for person in Customer.objects.filter(pk__in=missing_customers).only("name"))
    for message in messages:
        if message.author_user_id in users:
            message.author_user = users[message.author_user_id]
        if message.author_customer_id in customers:
            message.author_customer = customers[message.author_customer_id]
    for event in events:
        if event.actor_user_id in users:
            event.actor_user = users[event.actor_user_id]


def attachment_get(*, user: User, attachment_id: int) -> Attachment:
    """An attachment of a ticket the user may see, on a message they may see; else Http404."""
    from django.http import Http404

    attachment = (
        Attachment.objects.filter(pk=attachment_id, ticket__in=permissions.visible_tickets(user))
        .select_related("message")
        .first()
    )
    if attachment is None:
        raise Http404
    if attachment.message is not None and not attachment.message.is_public and not permissions.can_see_internal_notes(user):
        raise Http404
    return attachment


def requester_other_tickets(*, user: User, ticket: Ticket, limit: int = 8) -> list[Ticket]:
    """The requester's latest other tickets, with what the requester card lists (number, subject, status)."""
    return list(
        permissions.visible_tickets(user)
        .filter(requester_id=ticket.requester_id)
        .exclude(pk=ticket.pk)
        .only("number", "subject", "status")
        .order_by("-updated_at")[:limit]
    )


@dataclass(frozen=True)
class BuiltInView:
    slug: str
    name: Any
    params: dict[str, str]


def builtin_views(user: User) -> list[BuiltInView]:
    views = [
        BuiltInView("mine", _("My open tickets"), {"assignee": "me", "status": "new,open,on_hold"}),
        BuiltInView("breaching", _("Breaching soon"), {"sla": "breaching", "sort": "due"}),
        BuiltInView("unassigned", _("Unassigned in my teams"), {"assignee": "none", "status": "unsolved"}),
        BuiltInView("open", _("All open in my teams"), {"status": "new,open"}),
        BuiltInView("pending", _("Pending"), {"status": "pending"}),
        BuiltInView("solved", _("Recently solved"), {"status": "solved", "sort": "-updated"}),
    ]
    return views


def saved_views_for(user: User) -> list[SavedView]:
    """The user's own views and their teams' shared views; `led_by_user` says whether the user leads
    the view's team (read in the same query: the sidebar asks it of every shared view)."""
    team_ids = permissions.team_ids_of(user)
    leads = TeamMembership.objects.filter(user=user, team_id=OuterRef("team_id"), is_lead=True)
    return list(
        SavedView.objects.filter(Q(owner=user) | Q(team_id__in=team_ids, owner__isnull=True))
        .annotate(led_by_user=Exists(leads))
        .order_by("position", "name")
    )


def view_params(view: BuiltInView | SavedView) -> dict[str, str]:
    if isinstance(view, SavedView):
        params = {k: (",".join(v) if isinstance(v, list) else str(v)) for k, v in view.filters.items()}
        params["sort"] = view.sort
        return params
    return dict(view.params)


def view_counts(*, user: User, views: list[BuiltInView | SavedView]) -> dict[int, int]:
    """Ticket count per view (by position in `views`) in one query of FILTER aggregates."""
    aggregates = {}
    conditions: list[Q] = []
    for index, view in enumerate(views):
        params = {k: v for k, v in view_params(view).items() if k != "sort"}
        try:
            filters = TicketFilters.from_params(params, user=user)
        except InvalidQuery:
            continue
        condition = filters.as_q()
        aggregates[f"view_{index}"] = Count("pk", filter=condition)
        conditions.append(condition)
    if not aggregates:
        return {}
    queryset = ticket_queryset(user=user)
    # Only rows some view counts need be read: the status conditions let the (team, status) indexes
    # skip the closed history (5x faster at 1M tickets). An unfiltered view needs every row.
    if all(conditions):
        queryset = queryset.filter(reduce(operator.or_, conditions))
    totals = queryset.aggregate(**aggregates)
    return {int(key.removeprefix("view_")): value for key, value in totals.items()}


def teams_for(user: User) -> QuerySet[Team]:
    if permissions.reads_all_tickets(user):
        return Team.objects.all()
    return Team.objects.filter(pk__in=permissions.team_ids_of(user))
