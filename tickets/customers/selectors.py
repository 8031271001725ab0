"""Reads of the customer 360: a customer's or an organization's overview for a viewer, the customer
search, and the candidate duplicate customers.

Customers and organizations are staff-only records; any staff member may open any of them. Their
tickets, and whatever comes from tickets (satisfaction answers, SLA breaches, contacts), are read
only through `helpdesk.permissions.visible_tickets`: an agent of one team sees none of another
team's tickets of the same customer. The health score is the customer's (tickets.customers.health)
and is computed over all their tickets.

Each overview costs a fixed number of queries, however many tickets the customer has: lists are
capped and counts are aggregates.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import connection, transaction
from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404

from helpdesk import permissions
from metrics.models import SurveyResponse
from tickets.customers.health import HealthScore, health_score, health_scores, health_trend
from tickets.models import (
    UNSOLVED_STATUSES,
    AuthorKind,
    Channel,
    Customer,
    CustomerEmail,
    CustomFieldDefinition,
    HealthSnapshot,
    Message,
    Organization,
    SlaTimer,
    Ticket,
)

TICKETS_LIMIT = 200
SURVEYS_LIMIT = 50
BREACHES_LIMIT = 50
ORGANIZATION_CUSTOMERS_LIMIT = 200
CUSTOMERS_PER_PAGE = 50
DUPLICATES_LIMIT = 200

@dataclass(frozen=True)
class ChannelContacts:
    channel: str
    label: str
    tickets: int
    inbound_messages: int
    last_inbound_at: datetime.datetime | None


@dataclass
class TicketsSummary:
    """What a viewer may see of a set of tickets (a customer's or an organization's)."""

    tickets: list[Ticket]
    ticket_count: int
    open_count: int
    channels: list[ChannelContacts]
    last_contact_at: datetime.datetime | None
    satisfaction: list[SurveyResponse]
    sla_breaches: list[SlaTimer]


@dataclass
class CustomerOverview:
    customer: Customer
    other_emails: list[str]
    has_login: bool
    custom_fields: list[dict[str, Any]]
    summary: TicketsSummary
    health: HealthScore
    trend: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class OrganizationOverview:
    organization: Organization
    customers: list[Customer]
    customer_count: int
    customer_scores: dict[int, HealthScore]
    summary: TicketsSummary
    health: HealthScore
    trend: list[dict[str, Any]] = field(default_factory=list)


# --- access ---------------------------------------------------------------------------------------


def access_customer(viewer: Any, customer_id: int | str) -> Customer:
    """The customer with this id for a staff viewer; Http404 for anyone else or an unknown id."""
    if not permissions.is_staff_member(viewer) or not viewer.is_active:
        raise Http404
    try:
        return Customer.objects.select_related("organization", "user").get(pk=int(customer_id))
    except (Customer.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def access_organization(viewer: Any, organization_id: int | str) -> Organization:
    if not permissions.is_staff_member(viewer) or not viewer.is_active:
        raise Http404
    try:
        return Organization.objects.get(pk=int(organization_id))
    except (Organization.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


# --- overviews ------------------------------------------------------------------------------------


def _tickets_summary(viewer: Any, tickets: QuerySet[Ticket]) -> TicketsSummary:
    """Five queries: the latest tickets, counts per channel, inbound messages per channel, the
    satisfaction answers and the SLA breaches, each over the tickets `viewer` may see.

    Satisfaction is the answers to those tickets: answers without a ticket (a customer's NPS survey)
    are left out, as SurveyResponse has no index by customer to find them without a scan.
    """
    visible = permissions.visible_tickets(viewer, tickets.filter(merged_into__isnull=True))
    visible_ids = visible.values("pk")
    rows = list(visible.select_related("requester", "team", "assignee").order_by("-created_at", "-id")[:TICKETS_LIMIT])
    per_channel = {
        row["channel"]: row
        for row in visible.order_by().values("channel").annotate(
            tickets=Count("id"), open=Count("id", filter=Q(status__in=UNSOLVED_STATUSES)),
        )
    }
    inbound = {
        row["channel"]: row
        for row in Message.objects.filter(ticket__in=visible_ids, author_kind=AuthorKind.CUSTOMER)
        .order_by().values("channel").annotate(messages=Count("id"), last=Max("created_at"))
    }
    labels = dict(Channel.choices)
    channels = [
        ChannelContacts(
            channel=channel, label=str(labels[channel]),
            tickets=per_channel.get(channel, {}).get("tickets", 0),
            inbound_messages=inbound.get(channel, {}).get("messages", 0),
            last_inbound_at=inbound.get(channel, {}).get("last"),
        )
        for channel in labels
        if channel in per_channel or channel in inbound
    ]
    last_contacts = [entry.last_inbound_at for entry in channels if entry.last_inbound_at]
    satisfaction = list(
        SurveyResponse.objects.filter(ticket__in=visible_ids)
        .select_related("ticket").only("kind", "score", "comment", "responded_at", "channel", "ticket__number",
                                       "ticket__subject")
        .order_by("-responded_at", "-id")[:SURVEYS_LIMIT]
    )
    breaches = list(
        SlaTimer.objects.filter(ticket__in=visible_ids, breached_at__isnull=False)
        .select_related("ticket").only("metric", "target_minutes", "due_at", "breached_at", "met_at", "state",
                                       "ticket__number", "ticket__subject", "ticket__status")
        .order_by("-breached_at", "-id")[:BREACHES_LIMIT]
    )
    return TicketsSummary(
        tickets=rows,
        ticket_count=sum(row["tickets"] for row in per_channel.values()),
        open_count=sum(row["open"] for row in per_channel.values()),
        channels=channels,
        last_contact_at=max(last_contacts) if last_contacts else None,
        satisfaction=satisfaction,
        sla_breaches=breaches,
    )


def _custom_field_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    definitions = CustomFieldDefinition.objects.filter(applies_to=CustomFieldDefinition.AppliesTo.CUSTOMER)
    return [
        {"key": definition.key, "label": definition.label, "type": definition.field_type,
         "choices": definition.choices, "is_required": definition.is_required,
         "value": (values or {}).get(definition.key)}
        for definition in definitions.order_by("position", "key")
    ]


def customer_overview(*, viewer: Any, customer_id: int | str) -> CustomerOverview:
    """Everything the customer page shows, as far as `viewer` may see it (Http404 if not at all)."""
    customer = access_customer(viewer, customer_id)
    other_emails = list(CustomerEmail.objects.filter(customer=customer).order_by("email").values_list("email", flat=True))
    score = health_score(customer=customer)
    return CustomerOverview(
        customer=customer,
        other_emails=other_emails,
        has_login=customer.user_id is not None,
        custom_fields=_custom_field_rows(customer.custom_fields),
        summary=_tickets_summary(viewer, Ticket.objects.filter(requester=customer)),
        health=score,
        trend=health_trend(customer=customer, today=score),
    )


def organization_overview(*, viewer: Any, organization_id: int | str) -> OrganizationOverview:
    """The organization page: its tickets rolled up (as far as `viewer` may see them), its customers
    (the first ORGANIZATION_CUSTOMERS_LIMIT by name) with their scores, its score and trend."""
    organization = access_organization(viewer, organization_id)
    members = Customer.objects.filter(organization=organization)
    customers = list(members.order_by("name", "id")[:ORGANIZATION_CUSTOMERS_LIMIT])
    customer_count = len(customers) if len(customers) < ORGANIZATION_CUSTOMERS_LIMIT else members.count()
    score = health_score(organization=organization)
    return OrganizationOverview(
        organization=organization,
        customers=customers,
        customer_count=customer_count,
        customer_scores=health_scores(subject="customer", ids=[customer.pk for customer in customers]),
        summary=_tickets_summary(viewer, Ticket.objects.filter(organization=organization)),
        health=score,
        trend=health_trend(organization=organization, today=score),
    )


# --- lists ----------------------------------------------------------------------------------------


def customer_search(*, viewer: Any, query: str = "", page: int | str = 1) -> Page:
    """A page of customers matching `query` in the name, an email address or a phone number.

    A query with an @ is an address (the primary, or another of the customer's); one that reads as
    a phone number matches any of a customer's numbers (the GIN index on phone_numbers).
    """
    if not permissions.is_staff_member(viewer):
        raise Http404
    query = " ".join((query or "").split())[:200]
    customers = Customer.objects.select_related("organization").annotate(
        latest_score=Subquery(
            HealthSnapshot.objects.filter(customer=OuterRef("pk")).order_by("-day").values("score")[:1]
        )
    )
    if query:
        condition = Q(name__icontains=query) | Q(email__icontains=query)
        if "@" in query:
            condition |= Q(pk__in=CustomerEmail.objects.filter(email__icontains=query).values("customer_id"))
        if any(ch.isdigit() for ch in query) and not any(ch.isalpha() for ch in query):
            from channels_intake.phone.numbers import normalize_number

            number = normalize_number(query)
            if number:
                condition |= Q(phone_numbers__contains=[number])
        customers = customers.filter(condition)
    paginator = Paginator(customers.order_by("name", "id"), CUSTOMERS_PER_PAGE)
    return paginator.get_page(page)


# --- duplicates -----------------------------------------------------------------------------------

# Providers that deliver "name+anything@" to "name@"; Gmail also ignores dots in the local part.
PLUS_ADDRESSING_DOMAINS = (
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "icloud.com", "me.com",
    "fastmail.com", "proton.me", "protonmail.com", "yahoo.com",
)
DOTS_IGNORED_DOMAINS = ("gmail.com", "googlemail.com")


class DuplicateReason:
    PHONE = "phone"
    EMAIL = "email"
    OTHER_EMAIL = "other_email"
    NAME_ORGANIZATION = "name_organization"


@dataclass(frozen=True)
class DuplicatePair:
    first: Customer
    second: Customer
    reasons: list[str]


_DUPLICATES_SQL = """
WITH addresses AS (
    SELECT id AS customer_id, split_part(lower(email), '@', 1) AS local, split_part(lower(email), '@', 2) AS domain
      FROM {customer} WHERE email <> ''
),
normalized AS MATERIALIZED (
    SELECT customer_id,
           CASE WHEN domain = ANY(%(plus_domains)s) THEN
                    CASE WHEN domain = ANY(%(dots_domains)s) THEN replace(split_part(local, '+', 1), '.', '')
                         ELSE split_part(local, '+', 1) END
                ELSE local END
           || '@' || CASE WHEN domain = 'googlemail.com' THEN 'gmail.com' ELSE domain END AS address
      FROM addresses
),
-- Each reason first finds the values that more than one customer has (one hashed pass over the
-- customers), then pairs only the few customers that have them: pairing first would compare every
-- customer with every other.
customer_numbers AS MATERIALIZED (
    SELECT id, number FROM {customer}, unnest(phone_numbers) AS number
),
shared_numbers AS (
    SELECT number FROM customer_numbers GROUP BY number HAVING count(DISTINCT id) > 1
),
shared_addresses AS (
    SELECT address FROM normalized GROUP BY address HAVING count(*) > 1
),
shared_names AS (
    SELECT organization_id, lower(btrim(name)) AS name
      FROM {customer} WHERE organization_id IS NOT NULL AND btrim(name) <> ''
     GROUP BY 1, 2 HAVING count(*) > 1
),
pairs AS (
    -- Two customers whose number arrays overlap: they have an element in common.
    SELECT DISTINCT a.id AS first_id, b.id AS second_id, 'phone' AS reason
      FROM shared_numbers s
      JOIN customer_numbers a ON a.number = s.number
      JOIN customer_numbers b ON b.number = s.number AND a.id < b.id
    UNION ALL
    SELECT a.customer_id, b.customer_id, 'email'
      FROM shared_addresses s
      JOIN normalized a ON a.address = s.address
      JOIN normalized b ON b.address = s.address AND a.customer_id < b.customer_id
    UNION ALL
    SELECT LEAST(c.id, e.customer_id), GREATEST(c.id, e.customer_id), 'other_email'
      FROM {customer} c JOIN {other} e ON lower(e.email) = lower(c.email) AND e.customer_id <> c.id
     WHERE c.email <> ''
    UNION ALL
    SELECT a.id, b.id, 'name_organization'
      FROM shared_names s
      JOIN {customer} a ON a.organization_id = s.organization_id AND lower(btrim(a.name)) = s.name
      JOIN {customer} b ON b.organization_id = s.organization_id AND lower(btrim(b.name)) = s.name AND a.id < b.id
)
SELECT first_id, second_id, array_agg(DISTINCT reason ORDER BY reason)
  FROM pairs
 GROUP BY first_id, second_id
 ORDER BY second_id DESC, first_id DESC
 LIMIT %(limit)s
"""  # noqa: S608 (table names from the models, values as parameters)


def duplicate_candidates(*, viewer: Any, limit: int = DUPLICATES_LIMIT) -> list[DuplicatePair]:
    """Pairs of customers that look like one person, newest first, each with why:

    - phone: they share a phone number (their arrays of numbers overlap);
    - email: their addresses are equal once lower-cased, "+tags" dropped (and dots, for Gmail) at
      providers known to ignore them;
    - other_email: another address of one is the primary address of the other;
    - name_organization: the same name (ignoring case) in the same organization.

    Two queries: the pairs, then the customers.
    """
    if not permissions.is_staff_member(viewer):
        raise Http404
    sql = _DUPLICATES_SQL.format(customer=Customer._meta.db_table, other=CustomerEmail._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        # The groupings hash every customer's address and name; for this query only, in memory.
        cursor.execute("SET LOCAL work_mem = '32MB'")
        cursor.execute(sql, {"plus_domains": list(PLUS_ADDRESSING_DOMAINS), "dots_domains": list(DOTS_IGNORED_DOMAINS),
                             "limit": limit})
        rows = cursor.fetchall()
    ids = {customer_id for first, second, _reasons in rows for customer_id in (first, second)}
    customers = Customer.objects.select_related("organization").prefetch_related(
        Prefetch("other_emails", queryset=CustomerEmail.objects.order_by("email"))
    ).annotate(ticket_count=Count("tickets")).in_bulk(ids) if ids else {}
    return [DuplicatePair(first=customers[first], second=customers[second], reasons=list(reasons))
            for first, second, reasons in rows if first in customers and second in customers]
