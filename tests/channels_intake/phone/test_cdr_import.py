"""The CDR batch import (channels_intake.phone.cdr_import): what each record becomes, idempotence,
customers matched and created, complete tickets (events, SLA timers), progress and failures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files import File
from django.utils import timezone

from channels_intake.phone.cdr_import import cdr_import_create, cdr_import_run
from channels_intake.phone.models import AgentExtension, Call, CallState, CdrImport, CdrImportState
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tests.realtime_helpers import events_during
from tickets.models import Customer, Event, Message, SlaPolicy, SlaTimer, Status, Ticket
from tickets.sla.services import sla_timers_sync

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "phone"
TARGETS = {priority: {"first_response": 30, "resolution": 240} for priority in ("low", "normal", "high", "urgent")}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def support(db):
    return make_team(name="Support", slug="support")


@pytest.fixture
def agent_1001(support):
    agent = make_agent(support, username="ann")
    AgentExtension.objects.create(user=agent, extension="1001")
    return agent


def stored(name: str, **options) -> CdrImport:
    with (FIXTURES / name).open("rb") as handle:
        return cdr_import_create(upload=File(handle, name=name), actor=None, **{"format": "asterisk", **options})


def run(name: str, **options):
    chunk_size = options.pop("chunk_size", None)
    team = options.pop("team", None)
    cdr_import = stored(name, **options)
    summary = cdr_import_run(cdr_import_id=cdr_import.pk, chunk_size=chunk_size, team=team)
    cdr_import.refresh_from_db()
    return cdr_import, summary


def test_asterisk_file_becomes_solved_call_tickets_callback_tickets_and_a_report(support, agent_1001):
    cdr_import, summary = run("master_header.csv", timezone_name="Asia/Shanghai")

    assert cdr_import.state == CdrImportState.DONE
    assert (cdr_import.total_rows, cdr_import.processed_rows) == (10, 10)
    # 2 answered (in, out), 3 missed inbound, 1 internal (skipped), 1 repeated uniqueid, 3 bad rows.
    assert (cdr_import.imported_rows, cdr_import.duplicate_rows, summary.skipped_rows) == (5, 1, 1)
    assert cdr_import.errors == [
        {"line": 7, "reason": "Expected 18 columns, found 10."},
        {"line": 8, "reason": "start “30.11.2026 12:00” is not a date and time (expected YYYY-MM-DD HH:MM:SS)."},
        {"line": 9, "reason": "The uniqueid is empty."},
    ]
    assert cdr_import.finished_at is not None
    assert Call.objects.filter(provider="asterisk").count() == 5
    assert not Call.objects.filter(call_id="1764473400.9").exists()  # agent to agent

    answered = Call.objects.select_related("ticket", "message").get(call_id="1764465302.1")
    assert (answered.state, answered.direction, answered.agent, answered.team) == (
        CallState.ENDED, "inbound", agent_1001, support
    )
    assert answered.started_at == datetime(2026, 11, 30, 1, 15, 2, tzinfo=UTC)
    assert answered.duration_seconds == 240
    ticket = answered.ticket
    assert (ticket.status, ticket.channel, ticket.team, ticket.assignee, ticket.tags) == (
        Status.SOLVED, "phone", support, agent_1001, []
    )
    assert ticket.subject == "Call from +86 138 1234 5678"
    assert ticket.solved_at is not None and ticket.number >= 1
    assert ticket.message_count == 1 == ticket.messages.count()
    assert answered.message.ticket_id == ticket.pk
    assert answered.message.body_text.startswith("Inbound call from +86 138 1234 5678")
    assert answered.message.external_id == "call:asterisk:1764465302.1"
    assert ticket.requester.name == "Alice Wang"
    assert ticket.requester.phone_numbers == ["+8613812345678"]

    callbacks = Ticket.objects.filter(tags__contains=["callback"]).order_by("pk")
    assert [(t.subject, t.status, t.channel, t.assignee_id) for t in callbacks] == [
        ("Call back +86 139 1234 5678", Status.NEW, "phone", None),
        ("Call back +44 20 7946 0000", Status.NEW, "phone", None),
        ("Call back +86 136 5555 6666", Status.NEW, "phone", None),
    ]
    assert {call.state for call in Call.objects.filter(ticket__in=callbacks)} == {CallState.MISSED}

    outbound = Call.objects.select_related("ticket").get(call_id="1764471600.7")
    assert (outbound.direction, outbound.to_number, outbound.ticket.status, outbound.ticket.subject) == (
        "outbound", "+8613700001111", Status.SOLVED, "Call to +86 137 0000 1111"
    )
    assert (summary.tickets_created, summary.callback_tickets, summary.customers_created) == (5, 3, 5)


def test_every_imported_ticket_has_its_created_event_for_the_audit_trail(support, agent_1001):
    run("master_header.csv", timezone_name="UTC")

    tickets = Ticket.objects.filter(channel="phone")
    events = Event.objects.filter(ticket__in=tickets, kind="created")
    assert events.count() == tickets.count() == 5
    assert set(events.values_list("via", "actor_kind")) == {("cdr_import", "system")}
    solved = Event.objects.get(ticket__calls__call_id="1764465302.1", kind="created")
    assert solved.to_value == {"status": "solved", "priority": "normal", "team": support.pk, "channel": "phone"}


def test_importing_the_same_file_again_adds_nothing(support, agent_1001):
    run("master_header.csv", timezone_name="UTC")
    counts = (Call.objects.count(), Ticket.objects.count(), Message.objects.count(), Customer.objects.count(),
              Event.objects.count())

    again, summary = run("master_header.csv", timezone_name="UTC")

    assert (again.state, again.imported_rows, again.duplicate_rows) == (CdrImportState.DONE, 0, 6)
    assert (Call.objects.count(), Ticket.objects.count(), Message.objects.count(), Customer.objects.count(),
            Event.objects.count()) == counts
    assert summary.tickets_created == 0


def test_rerunning_a_finished_import_changes_nothing(support):
    cdr_import, _summary = run("master_header.csv", timezone_name="UTC")

    cdr_import_run(cdr_import_id=cdr_import.pk)

    cdr_import.refresh_from_db()
    assert (cdr_import.imported_rows, cdr_import.duplicate_rows) == (5, 1)
    assert Call.objects.count() == 5


def test_known_caller_is_matched_by_any_of_their_numbers(support):
    known = make_customer(name="Alice (CRM)")
    Customer.objects.filter(pk=known.pk).update(phone_numbers=["+8613000000000", "+8613812345678"])

    run("master_header.csv", timezone_name="UTC")

    call = Call.objects.get(call_id="1764465302.1")
    assert call.customer_id == known.pk
    assert call.ticket.requester_id == known.pk
    assert Customer.objects.filter(phone_numbers__contains=["+8613812345678"]).count() == 1


def test_gbk_caller_names_create_customers_named_in_chinese(support):
    cdr_import, _summary = run("master_headerless_gbk.csv", timezone_name="Asia/Shanghai")

    assert (cdr_import.imported_rows, cdr_import.errors) == (3, [])
    names = {numbers[0]: name for numbers, name in Customer.objects.values_list("phone_numbers", "name")}
    assert names == {
        "+8613800138000": "张伟", "+8613900139000": "李娜", "+8613700137000": "王芳（北京）",
    }
    first = Call.objects.get(call_id="1764464400.1")
    assert first.started_at == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def test_one_new_caller_calling_twice_is_one_customer(support):
    cdr_import, _summary = run("master_header.csv", timezone_name="UTC", chunk_size=2)

    # Alice's number appears on two good rows (one a repeated uniqueid) and three bad ones.
    assert Customer.objects.filter(phone_numbers__contains=["+8613812345678"]).count() == 1
    assert cdr_import.processed_rows == 10


def test_generic_csv_import_with_column_mapping(support, agent_1001):
    mapping = {
        "call_id": "Call ID", "from": "Caller", "to": "Callee", "start": "Start time", "answer": "Answered",
        "end": "Ended", "duration": "Talk seconds", "disposition": "Result", "caller_name": "Name",
        "agent_extension": "Extension", "direction": "Direction",
    }

    cdr_import, _summary = run("generic_calls.csv", format="csv", column_mapping=mapping,
                               timezone_name="Asia/Shanghai")

    assert (cdr_import.imported_rows, [error["line"] for error in cdr_import.errors]) == (3, [5, 6])
    assert set(Call.objects.values_list("provider", flat=True)) == {"csv"}
    assert Call.objects.get(call_id="c-1001").ticket.assignee == agent_1001
    assert Call.objects.get(call_id="c-1002").ticket.tags == ["callback"]


def test_team_named_for_the_import_gets_the_tickets(support, agent_1001):
    billing = make_team(name="Billing", slug="billing")

    run("master_header.csv", timezone_name="UTC", team=billing)

    assert set(Ticket.objects.values_list("team__slug", flat=True)) == {"billing"}
    # The agent is not in Billing: the solved call ticket is not assigned to them.
    assert Call.objects.get(call_id="1764465302.1").ticket.assignee is None


def test_unreadable_file_fails_the_import_with_the_reason(support):
    cdr_import, summary = run("master_header.csv", timezone_name="Mars/Olympus")

    assert cdr_import.state == CdrImportState.FAILED
    assert cdr_import.errors == [{"line": 0, "reason": "Unknown time zone “Mars/Olympus”."}]
    assert Call.objects.count() == 0


def test_progress_is_written_per_chunk(support):
    cdr_import, _summary = run("master_header.csv", timezone_name="UTC", chunk_size=3)

    assert (cdr_import.processed_rows, cdr_import.total_rows, cdr_import.imported_rows) == (10, 10, 5)


# --- SLA -----------------------------------------------------------------------------------------


@pytest.fixture
def callback_policy(support):
    return SlaPolicy.objects.create(name="Callbacks", position=1, tags=["callback"], targets=TARGETS)


def test_callback_tickets_get_sla_timers_that_a_later_sync_leaves_as_they_are(callback_policy, support):
    run("master_header.csv", timezone_name="UTC")

    callbacks = list(Ticket.objects.filter(tags__contains=["callback"]))
    assert len(callbacks) == 3
    for ticket in callbacks:
        timers = {timer.metric: timer for timer in SlaTimer.objects.filter(ticket=ticket)}
        assert set(timers) == {"first_response", "resolution"}
        assert timers["first_response"].due_at == ticket.created_at + timezone.timedelta(minutes=30)
        assert ticket.sla_due_at == timers["first_response"].due_at
        assert Event.objects.filter(ticket=ticket, kind="sla_started").count() == 2
        assert sla_timers_sync(ticket=ticket, now=timezone.now(), reason="check") == []
    # Solved call tickets have nothing left to measure.
    assert not SlaTimer.objects.filter(ticket__status=Status.SOLVED).exists()


def test_callback_ticket_timers_match_those_of_a_ticket_opened_the_usual_way(callback_policy, support):
    run("master_header.csv", timezone_name="UTC")
    imported = Ticket.objects.filter(tags__contains=["callback"]).first()
    usual = make_ticket(requester=imported.requester, team=support, tags=["callback"], channel="phone")

    def shape(ticket: Ticket) -> list[tuple]:
        return sorted(
            (timer.metric, timer.policy_id, timer.target_minutes, timer.state, timer.due_at - ticket.created_at,
             timer.is_business_hours)
            for timer in SlaTimer.objects.filter(ticket=ticket)
        )

    def sla_events(ticket: Ticket) -> list[tuple]:
        return sorted(
            (event.kind, event.actor_kind, event.via, event.field, event.to_value["target_minutes"],
             event.to_value["policy"], event.to_value["reason"])
            for event in Event.objects.filter(ticket=ticket, kind__startswith="sla_")
        )

    assert shape(imported) == shape(usual)
    assert sla_events(imported) == sla_events(usual)


def test_sla_timers_switched_off_start_none(settings, callback_policy, support):
    settings.HELPDESK_SLA_TIMERS = False

    run("master_header.csv", timezone_name="UTC")

    assert not SlaTimer.objects.exists()


# --- the import's shortcuts say what the live call path says ------------------------------------


@pytest.mark.parametrize("raw", ["13812345678", "+442079460000", "00442079460000", "021 6123 4567", "1001",
                                 "anonymous", "", "+1 (650) 253-0000"])
def test_number_forms_match_normalize_and_format(raw):
    from channels_intake.phone.cdr_import import number_forms
    from channels_intake.phone.numbers import format_number, normalize_number

    e164 = normalize_number(raw)
    assert number_forms(raw) == ((e164, format_number(e164)) if e164 else ("", ""))


@pytest.mark.parametrize(("state", "direction", "duration"), [
    (CallState.ENDED, "inbound", 245), (CallState.ENDED, "outbound", 59), (CallState.MISSED, "inbound", None),
])
def test_imported_entries_and_subjects_read_like_live_calls(state, direction, duration):
    from channels_intake.phone.cdr_import import CallTexts
    from channels_intake.phone.numbers import format_number
    from channels_intake.phone.services import _subject, call_summary

    number = "+8613812345678"
    call = Call(provider="asterisk", call_id="x", direction=direction, state=state, duration_seconds=duration,
                from_number=number if direction == "inbound" else "", to_number=number if direction == "outbound" else "")
    texts = CallTexts.current()

    assert texts.entry(state=state, direction=direction, number_text=format_number(number),
                       duration_seconds=duration) == call_summary(call, with_notes=False)
    assert texts.subject(direction=direction, number_text=format_number(number),
                         is_callback=state == CallState.MISSED) == _subject(call)


def test_callback_timers_counted_in_business_hours_are_what_the_sla_module_computes(support):
    from tickets.models import BusinessHours

    office = BusinessHours.objects.create(name="Shanghai office", timezone="Asia/Shanghai",
                                          weekly={str(day): ["09:00-18:00"] for day in range(5)})
    SlaPolicy.objects.create(name="Callbacks in office hours", position=1, tags=["callback"], targets=TARGETS,
                             calendar=office)

    run("master_header.csv", timezone_name="UTC")

    callbacks = list(Ticket.objects.filter(tags__contains=["callback"]))
    assert SlaTimer.objects.filter(ticket__in=callbacks).count() == 6
    for ticket in callbacks:
        # Recomputed from their start under the policy and calendar: nothing moves.
        assert sla_timers_sync(ticket=ticket, now=timezone.now(), reason="check", force_recompute=True) == []
        assert ticket.sla_due_at == min(SlaTimer.objects.filter(ticket=ticket).values_list("due_at", flat=True))


# --- realtime ------------------------------------------------------------------------------------




@pytest.mark.django_db(transaction=True)
def test_the_team_queue_hears_of_new_callback_tickets_once_per_chunk(settings, tmp_path):
    from helpdesk import realtime

    settings.MEDIA_ROOT = str(tmp_path)
    support = make_team(name="Support", slug="support")

    events = events_during([realtime.team_group(support.pk)],
                            lambda: run("master_header.csv", timezone_name="UTC", chunk_size=100))

    newest = Ticket.objects.filter(tags__contains=["callback"]).order_by("-pk").first()
    assert [(event["type"], event["ticket"]["number"], event["imported"]) for event in events] == [
        ("ticket.created", newest.number, True)
    ]
    assert events[0]["ticket"]["team"] == support.pk and events[0]["ticket"]["status"] == "new"
