"""The breach/warning scan: each fires exactly once, concurrent scanners share the work, a crashed
scan loses nothing, and the query reads the partial index however many timers are running."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from tests.tickets.sla.conftest import local, set_fields, ticket_at
from tickets.models import Event, Metric, SlaTimer, Status, Ticket, TimerState
from tickets.sla.services import SlaFiring, _due_breaches, _due_warnings, sla_scan_due, sla_timers_sync

MONDAY_0900 = local(2026, 12, 7, 9, 0)


def open_ticket(at=MONDAY_0900) -> Ticket:
    ticket = ticket_at(at)
    sla_timers_sync(ticket=ticket, now=at, reason="created")
    return ticket


def fired_events(kind: str) -> list[tuple[int, str]]:
    return sorted(Event.objects.filter(kind=kind).values_list("ticket_id", "field"))


@pytest.mark.django_db
def test_warning_then_breach_fire_once_each(policy):
    ticket = open_ticket()  # first response due 10:00, warning at 09:45

    assert sla_scan_due(now=local(2026, 12, 7, 9, 44)) == []
    warnings = sla_scan_due(now=local(2026, 12, 7, 9, 46))
    assert [(f.kind, f.metric) for f in warnings] == [("warning", Metric.FIRST_RESPONSE)]
    assert sla_scan_due(now=local(2026, 12, 7, 9, 50)) == []

    breaches = sla_scan_due(now=local(2026, 12, 7, 10, 1))
    assert breaches == [SlaFiring(kind="breach", timer_id=breaches[0].timer_id, ticket_id=ticket.pk,
                                  metric=Metric.FIRST_RESPONSE, due_at=local(2026, 12, 7, 10, 0), escalates=True)]
    timer = SlaTimer.objects.get(pk=breaches[0].timer_id)
    assert timer.breached_at == local(2026, 12, 7, 10, 0) and timer.state == TimerState.RUNNING
    assert sla_scan_due(now=local(2026, 12, 7, 10, 30)) == []
    event = Event.objects.get(kind="sla_breached")
    assert (event.actor_kind, event.actor_user, event.via, event.field) == ("sla", None, "sla", "first_response")
    assert fired_events("sla_warning") == [(ticket.pk, "first_response")]


@pytest.mark.django_db
def test_a_breach_due_before_its_warning_fired_suppresses_the_warning(policy):
    ticket = open_ticket()

    fired = sla_scan_due(now=local(2026, 12, 7, 10, 5))

    assert [(f.kind, f.metric) for f in fired] == [("breach", Metric.FIRST_RESPONSE)]
    assert fired_events("sla_warning") == []
    assert sla_scan_due(now=local(2026, 12, 7, 16, 0)) == [
        SlaFiring(kind="warning", timer_id=SlaTimer.objects.get(ticket=ticket, metric="resolution").pk,
                  ticket_id=ticket.pk, metric="resolution", due_at=local(2026, 12, 7, 17, 0)),
    ]


@pytest.mark.django_db
def test_paused_and_met_timers_never_fire(policy):
    pending = open_ticket()
    set_fields(pending, status=Status.PENDING)
    sla_timers_sync(ticket=Ticket.objects.get(pk=pending.pk), now=local(2026, 12, 7, 9, 10), reason="status")
    answered = open_ticket()
    reply = local(2026, 12, 7, 9, 20)
    set_fields(answered, status=Status.SOLVED, solved_at=reply, first_responded_at=reply, last_agent_reply_at=reply)
    sla_timers_sync(ticket=Ticket.objects.get(pk=answered.pk), now=reply, reason="solved")

    assert sla_scan_due(now=local(2026, 12, 9, 9, 0)) == []


@pytest.mark.django_db
def test_a_scan_that_crashes_before_commit_loses_no_breach(policy):
    ticket = open_ticket()
    due = local(2026, 12, 7, 10, 1)

    def crash(firing: SlaFiring) -> None:
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError):
        sla_scan_due(now=due, on_fire=crash)

    assert SlaTimer.objects.get(ticket=ticket, metric="first_response").breached_at is None
    assert fired_events("sla_breached") == []
    assert [f.kind for f in sla_scan_due(now=due)] == ["breach"]
    assert fired_events("sla_breached") == [(ticket.pk, "first_response")]


@pytest.mark.django_db
def test_the_batch_size_bounds_one_scan_and_the_next_takes_the_rest(policy):
    tickets = [open_ticket() for _ in range(3)]

    first = sla_scan_due(now=local(2026, 12, 7, 10, 1), batch_size=2)
    second = sla_scan_due(now=local(2026, 12, 7, 10, 1), batch_size=2)

    assert (len(first), [f.kind for f in second]) == (2, ["breach"])
    assert sorted(f.ticket_id for f in first + second) == sorted(t.pk for t in tickets)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_scanners_fire_each_breach_once(policy):
    tickets = [open_ticket() for _ in range(6)]
    now = local(2026, 12, 7, 10, 1)
    claimed = threading.Event()
    release = threading.Event()
    results: dict[str, list[SlaFiring]] = {}
    errors: list[BaseException] = []

    def hold_locks(firing: SlaFiring) -> None:
        claimed.set()
        release.wait(timeout=30)

    def scan(name: str, batch_size: int, on_fire=None) -> None:
        try:
            results[name] = sla_scan_due(now=now, batch_size=batch_size, on_fire=on_fire)
        except BaseException as error:  # reported below; a thread's exception would vanish
            errors.append(error)
        finally:
            connection.close()

    first = threading.Thread(target=scan, args=("first", 4, hold_locks))
    first.start()
    assert claimed.wait(timeout=30)
    # The first scanner holds its four rows, uncommitted: the second skips them instead of waiting.
    second = threading.Thread(target=scan, args=("second", 100))
    second.start()
    second.join(timeout=30)
    release.set()
    first.join(timeout=30)

    assert errors == []
    assert (len(results["first"]), len(results["second"])) == (4, 2)
    fired_ids = [f.timer_id for f in results["first"] + results["second"]]
    assert len(set(fired_ids)) == 6
    assert sorted(ticket for ticket, _ in fired_events("sla_breached")) == sorted(t.pk for t in tickets)
    assert sla_scan_due(now=now) == []


@pytest.mark.django_db
def test_the_scan_reads_the_partial_indexes_among_many_running_timers(policy):
    ticket = open_ticket()
    # 50,000 history rows in one statement (bulk_create takes ~20 s): nine in ten running, due from
    # 2027 on, the rest met. Nothing is due at `now`, as on a quiet tick with a million timers.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tickets_slatimer (ticket_id, metric, policy_id, target_minutes, is_business_hours, state,
                is_current, started_at, paused_seconds, due_at, warning_at, met_at, created_at, updated_at)
            SELECT %s, 'resolution', %s, 480, true, CASE WHEN n %% 10 = 0 THEN 'met' ELSE 'running' END,
                false, %s, 0, %s + n * interval '1 second', %s + n * interval '1 second',
                CASE WHEN n %% 10 = 0 THEN %s END, now(), now()
            FROM generate_series(1, 50000) AS n
            """,
            [ticket.pk, policy.pk, MONDAY_0900, local(2027, 1, 1, 9, 0), local(2027, 1, 1, 8, 0), MONDAY_0900],
        )
        cursor.execute("ANALYZE tickets_slatimer")
    assert SlaTimer.objects.filter(state=TimerState.RUNNING).count() > 45_000
    now = local(2026, 12, 7, 9, 30)

    breach_plan = _due_breaches(now=now, limit=500).explain()
    warning_plan = _due_warnings(now=now, limit=500).explain()

    assert "sla_timer_due_idx" in breach_plan, breach_plan
    assert "sla_timer_warning_idx" in warning_plan, warning_plan
    assert "Seq Scan on tickets_slatimer" not in breach_plan + warning_plan


@pytest.mark.django_db(transaction=True)
def test_the_scan_skips_a_ticket_a_service_is_changing_and_fires_it_after_the_commit(policy):
    ticket = open_ticket()
    other = open_ticket()
    now = local(2026, 12, 7, 10, 1)
    locked, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def service_holding_the_ticket() -> None:
        # What a ticket service does first: lock the ticket row, then (later) sync its timers.
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
                locked.set()
                done.wait(timeout=30)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    service = threading.Thread(target=service_holding_the_ticket)
    service.start()
    assert locked.wait(timeout=30)
    try:
        first = sla_scan_due(now=now)  # must not wait for the service's transaction
    finally:
        done.set()
        service.join(timeout=30)

    assert errors == []
    assert [(f.ticket_id, f.kind) for f in first] == [(other.pk, "breach")]
    assert [(f.ticket_id, f.kind) for f in sla_scan_due(now=now)] == [(ticket.pk, "breach")]
