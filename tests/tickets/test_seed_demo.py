"""seed_demo: the demo logins of PRODUCT.md, idempotent base data, and consistent ticket histories
whether they are written through the services or with COPY."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.utils import timezone

from tickets.demo import DEMO_CUSTOMER_EMAIL, content, seed
from tickets.demo.base import catalog, ensure_base_data
from tickets.demo.bulk import load_plans, reserve_numbers
from tickets.demo.plan import ASSIGN, CUSTOMER, NOTE, PRIORITY, REPLY, STATUS, TAG, plan_tickets
from tickets.demo.replay import replay
from tickets.models import (
    Customer,
    CustomFieldDefinition,
    Event,
    Message,
    Organization,
    Role,
    SavedView,
    Team,
    TeamMembership,
    Ticket,
    User,
)

pytestmark = pytest.mark.django_db


def base_counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "teams": Team.objects.count(),
        "memberships": TeamMembership.objects.count(),
        "organizations": Organization.objects.count(),
        "customers": Customer.objects.count(),
        "fields": CustomFieldDefinition.objects.count(),
        "views": SavedView.objects.count(),
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
    }


def assert_histories_consistent() -> None:
    """What pages and metrics rely on: counters and timestamps on a ticket agree with its messages and events."""
    messages = defaultdict(list)
    for message in Message.objects.order_by("created_at", "id"):
        messages[message.ticket_id].append(message)
    events = defaultdict(list)
    for event in Event.objects.order_by("created_at", "id"):
        events[event.ticket_id].append(event)
    tickets = list(Ticket.objects.all())
    assert tickets
    for ticket in tickets:
        thread, trail = messages[ticket.pk], events[ticket.pk]
        public_agent = [m for m in thread if m.author_kind == "agent" and m.visibility == "public"]
        customer = [m for m in thread if m.author_kind == "customer"]
        assert ticket.message_count == len(thread)
        assert thread[0].author_kind == "customer" and thread[0].created_at == ticket.created_at
        assert ticket.first_responded_at == (public_agent[0].created_at if public_agent else None)
        assert ticket.last_agent_reply_at == (public_agent[-1].created_at if public_agent else None)
        assert ticket.last_customer_message_at == customer[-1].created_at
        assert ticket.updated_at == max([m.created_at for m in thread] + [e.created_at for e in trail])
        kinds = Counter(e.kind for e in trail)
        assert trail[0].kind == "created" and kinds["created"] == 1
        assert kinds["reply_added"] == sum(1 for m in thread if m.visibility == "public") - 1
        assert kinds["note_added"] == sum(1 for m in thread if m.visibility == "internal")
        assert kinds["reopened"] == ticket.reopen_count
        status_changes = [e for e in trail if e.kind == "status_changed"]
        assert ticket.status == (status_changes[-1].to_value if status_changes else trail[0].to_value["status"])
        if ticket.status in ("solved", "closed"):
            solved = [e for e in status_changes if e.to_value == "solved"]
            assert ticket.solved_at == solved[-1].created_at
        else:
            assert ticket.solved_at is None
        assert (ticket.closed_at is not None) == (ticket.status == "closed")
        if ticket.status == "closed":
            assert status_changes[-1].via == "auto_close" and status_changes[-1].actor_kind == "system"
        for event in trail:
            if event.kind in ("reply_added", "note_added"):
                assert event.to_value["message"] in {m.pk for m in thread}


def test_seed_demo_creates_the_demo_logins_with_password_demo():
    call_command("seed_demo", tickets=20)

    for username, role in (("admin", Role.ADMIN), ("agent", Role.AGENT), ("manager", Role.MANAGER),
                           (DEMO_CUSTOMER_EMAIL, Role.CUSTOMER)):
        user = authenticate(username=username, password="demo")
        assert user is not None, username
        assert user.role == role
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    agent = User.objects.get(username="agent")
    assert list(agent.teams.values_list("name", flat=True)) == ["Support"]
    customer = Customer.objects.get(email=DEMO_CUSTOMER_EMAIL)
    assert customer.user.username == DEMO_CUSTOMER_EMAIL
    demo_tickets = Ticket.objects.filter(requester=customer)
    assert demo_tickets.count() >= 3
    assert Message.objects.filter(ticket__in=demo_tickets, author_kind="agent", visibility="public").exists()


def test_seed_demo_creates_teams_owning_their_addresses():
    call_command("seed_demo", tickets=5)

    assert Team.objects.get(name="Support").email_addresses == ["support@example.com"]
    assert Team.objects.get(name="Billing").email_addresses == ["billing@example.com"]
    assert set(CustomFieldDefinition.objects.values_list("key", flat=True)) >= {"order_number", "plan", "device"}
    assert CustomFieldDefinition.objects.get(key="order_number").is_customer_visible


def test_seed_demo_prints_the_demo_logins(capsys):
    call_command("seed_demo", tickets=3)

    output = capsys.readouterr().out
    assert "password: demo" in output
    for username in ("admin", "agent", "manager", DEMO_CUSTOMER_EMAIL):
        assert username in output


def test_seed_demo_twice_creates_nothing_more():
    call_command("seed_demo", tickets=15)
    first = base_counts()

    call_command("seed_demo", tickets=15)

    assert base_counts() == first
    assert first["tickets"] == 15


def test_seeded_customers_are_multilingual_with_e164_phones():
    ensure_base_data(tickets=300)

    customers = Customer.objects.exclude(email=DEMO_CUSTOMER_EMAIL)
    assert set(customers.values_list("language", flat=True)) == {"en", "zh-hans", "zh-hant"}
    phones = [p for numbers in customers.values_list("phone_numbers", flat=True) for p in numbers]
    assert phones and all(p.startswith("+") and p[1:].isdigit() and 8 <= len(p) <= 16 for p in phones)
    assert customers.filter(organization__isnull=False).exists()
    assert Organization.objects.filter(name="华信科技有限公司", domains=["huaxin-tech.example"]).exists()


def test_tickets_seeded_through_the_services_have_consistent_histories():
    result = seed(tickets=40, method="services")

    assert result.tickets_created == 40 and result.method == "services"
    assert Ticket.objects.count() == 40
    assert_histories_consistent()


def test_tickets_seeded_with_copy_have_consistent_histories():
    result = seed(tickets=400, method="bulk", workers=1)

    assert result.tickets_created == 400 and result.method == "bulk"
    assert Ticket.objects.count() == 400
    assert Message.objects.count() == result.messages_created
    assert_histories_consistent()
    # Spread over the year, old ones done, recent ones still being worked.
    statuses = Counter(Ticket.objects.values_list("status", flat=True))
    assert statuses["closed"] > 200
    assert statuses["new"] + statuses["open"] + statuses["pending"] > 0
    oldest = Ticket.objects.order_by("created_at").first().created_at
    assert (timezone.now() - oldest).days >= 360
    numbers = list(Ticket.objects.order_by("created_at").values_list("number", flat=True))
    assert numbers == sorted(numbers)
    assert set(Ticket.objects.values_list("channel", flat=True)) == {"web", "email", "chat", "phone", "api"}
    languages = {t.body_text[:1] for t in Message.objects.filter(author_kind="customer")}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in languages) and any(ch.isascii() for ch in languages)


def _snapshot(numbers: list[int]) -> list[dict]:
    """Everything about these tickets except ids and numbers, in creation order."""
    snapshot = []
    for ticket in Ticket.objects.filter(number__in=numbers).order_by("created_at"):
        messages = list(ticket.messages.order_by("created_at", "id"))
        position = {m.pk: i for i, m in enumerate(messages)}
        snapshot.append({
            "ticket": {f.attname: getattr(ticket, f.attname) for f in Ticket._meta.concrete_fields
                       if f.attname not in ("id", "number")},
            "messages": [{f.attname: getattr(m, f.attname) for f in Message._meta.concrete_fields
                          if f.attname not in ("id", "ticket_id")} for m in messages],
            "events": [
                (e.kind, e.actor_kind, e.actor_user_id, e.via, e.field, e.from_value,
                 {"message": position[e.to_value["message"]]} if e.kind in ("reply_added", "note_added")
                 else e.to_value, e.created_at)
                for e in ticket.events.order_by("created_at", "id")
            ],
        })
    return snapshot


def test_copy_writes_exactly_the_rows_the_services_write():
    ensure_base_data(tickets=100)
    demo_catalog = catalog(tickets=100, now=timezone.now().timestamp())
    plans = plan_tickets(demo_catalog, start=0, count=100, total=100, seed=3)
    # Every kind of operation, and reopened tickets, are in the comparison.
    assert {op[0] for plan in plans for op in plan.ops} == {ASSIGN, CUSTOMER, NOTE, PRIORITY, REPLY, STATUS, TAG}
    assert any(op[0] == CUSTOMER and plan.ops[i - 1][0] == REPLY and plan.ops[i - 1][4] == "solved"
               for plan in plans for i, op in enumerate(plan.ops))

    replay(plans)
    numbers = list(Ticket.objects.values_list("number", flat=True))
    through_services = _snapshot(numbers)
    Ticket.objects.filter(number__in=numbers).delete()

    load_plans(plans, reserve_numbers(len(plans)), skip_constraint_checks=False)
    through_copy = _snapshot(list(Ticket.objects.values_list("number", flat=True)))

    assert len(through_copy) == len(through_services) == 100
    for services_ticket, copy_ticket in zip(through_services, through_copy, strict=True):
        assert copy_ticket == services_ticket


def test_every_category_tells_a_complete_story_in_each_language():
    for name, category in content.CATEGORIES.items():
        for language in content.LANGUAGES:
            texts = category[language]
            for subject, opening, ask, info, solution in category["threads"]:
                assert texts["subjects"][subject] and texts["openings"][opening] and texts["solutions"][solution], name
                if ask is not None:
                    assert texts["asks"][ask] and texts["infos"][info], name


def _index_names() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename IN ('tickets_ticket', 'tickets_message', "
                       "'tickets_event')")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_large_loads_rebuild_every_index_they_drop():
    from tickets.demo.bulk import bulk_load, drop_secondary_indexes, restore_dropped_indexes

    ensure_base_data(tickets=50)
    before = _index_names()
    assert {"message_text_trgm", "ticket_team_open_updated_idx", "event_ticket_created_idx"} <= before

    result = bulk_load(catalog(tickets=50), total=50, workers=1, drop_indexes=True)

    assert result.tickets == 50 and Ticket.objects.count() == 50
    assert _index_names() == before
    assert_histories_consistent()
    # An interrupted load (indexes dropped, never rebuilt) is repaired by the next call.
    dropped = drop_secondary_indexes()
    assert {name for name, _sql, _table in dropped} == before - _index_names()
    assert restore_dropped_indexes() == len(dropped)
    assert _index_names() == before
