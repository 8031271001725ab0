"""Screening inbound mail per team: blocked and allowed senders, the spam threshold, the sender rate,
and releasing what was suspended. Suspended mail is kept (raw bytes, reason, note), never ticketed,
never answered, and never dropped."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from decimal import Decimal

import pytest

from channels_intake.base import InboundMessage
from channels_intake.email.classify import matching_sender_entry, normalise_sender_entry
from channels_intake.email.smtp import IntakeController, IntakeHandler
from channels_intake.models import Door, RawInbound, RawInboundState, SuspensionReason, TeamEmailSettings
from channels_intake.services import ingest, raw_inbound_release, raw_inbound_store
from tests.channels_intake.helpers import SUPPORT_ADDRESS, build_mail, free_port
from tests.factories import make_team, make_user
from tickets.models import Channel, Message, Role, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(celery_eager, support_team, django_capture_on_commit_callbacks):
    """Store a mail as a door would and run the queued processing; returns the row as it ended."""

    def deliver(raw: bytes, *, recipients: tuple[str, ...] = (SUPPORT_ADDRESS,)) -> RawInbound:
        with django_capture_on_commit_callbacks(execute=True):
            row = raw_inbound_store(
                raw=raw, door=Door.SMTP, envelope_sender="ann@customer.example", envelope_recipients=recipients
            )
        row.refresh_from_db()
        return row

    return deliver


@pytest.fixture
def release(celery_eager, django_capture_on_commit_callbacks):
    def release(row: RawInbound, actor=None) -> RawInbound:
        with django_capture_on_commit_callbacks(execute=True):
            assert raw_inbound_release(raw_inbound_id=row.pk, actor=actor)
        row.refresh_from_db()
        return row

    return release


def rules(team, **fields) -> TeamEmailSettings:
    team_settings = TeamEmailSettings(team=team, **fields)
    team_settings.full_clean()
    team_settings.save()
    return team_settings


def assert_suspended(row: RawInbound, reason: str) -> None:
    assert (row.state, row.suspension_reason) == (RawInboundState.SUSPENDED, reason)
    assert row.ticket is None and row.message is None
    assert b"Subject:" in bytes(row.raw)  # kept as it arrived


# --- the sender lists -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "stored"),
    [("Ann@Customer.Example", "ann@customer.example"), ("@Customer.example", "customer.example"),
     ("customer.example.", "customer.example"), ("  ", ""), ("bücher.example", "xn--bcher-kva.example")],
)
def test_sender_entries_are_stored_lower_cased_with_domains_bare(entry, stored):
    assert normalise_sender_entry(entry) == stored


@pytest.mark.parametrize("entry", ["customer", "*.customer.example", "a@@customer.example", "ann smith@x.example",
                                   "ann@", "@", "ann@customer_example"])
def test_sender_entries_that_are_no_address_or_domain_are_refused(entry):
    with pytest.raises(ValueError):
        normalise_sender_entry(entry)


@pytest.mark.parametrize(
    ("address", "matched"),
    [("ann@customer.example", "customer.example"), ("ANN@MAIL.Customer.Example", "customer.example"),
     ("ann@badcustomer.example", ""), ("ann@customer.example.evil", ""), ("customer.example", "")],
)
def test_a_domain_entry_covers_its_subdomains_and_nothing_that_merely_ends_alike(address, matched):
    assert matching_sender_entry(address, ["customer.example"]) == matched


def test_entries_written_without_the_admin_form_still_match():
    assert matching_sender_entry("ann@mail.customer.example", ["", "@Customer.Example."]) == "customer.example"
    assert matching_sender_entry("Ann@Customer.example", [" ANN@customer.example "]) == "ann@customer.example"


def test_mail_from_a_blocked_domain_is_suspended_and_kept_not_ticketed(deliver, support_team):
    rules(support_team, blocked_senders=["@Customer.example"])

    row = deliver(build_mail(sender="Ann <ann@mail.customer.example>"))

    assert_suspended(row, SuspensionReason.BLOCKED)
    assert "blocked" in row.note and "customer.example" in row.note
    assert Ticket.objects.count() == 0 and Message.objects.count() == 0
    assert RawInbound.objects.count() == 1


def test_a_blocked_address_blocks_that_address_only(deliver, support_team):
    rules(support_team, blocked_senders=["spammer@customer.example"])

    blocked = deliver(build_mail(sender="SPAMMER@Customer.Example"))
    colleague = deliver(build_mail(sender="ann@customer.example"))
    lookalike = deliver(build_mail(sender="spammer@customer.example.org"))

    assert_suspended(blocked, SuspensionReason.BLOCKED)
    assert colleague.state == lookalike.state == RawInboundState.PROCESSED
    assert Ticket.objects.count() == 2


def test_a_team_block_list_does_not_hold_mail_for_another_team(deliver, support_team):
    make_team(name="Billing", slug="billing", email_addresses=["billing@example.com"])
    rules(support_team, blocked_senders=["customer.example"])

    row = deliver(build_mail(to="billing@example.com"), recipients=("billing@example.com",))

    assert row.state == RawInboundState.PROCESSED
    assert row.ticket.team.slug == "billing"


def test_a_reply_from_a_sender_blocked_later_is_suspended_not_added_to_the_thread(deliver, support_team):
    first = deliver(build_mail(message_id="<thread-1@customer.example>"))
    rules(support_team, blocked_senders=["ann@customer.example"])

    reply = deliver(build_mail(body="More of the same", in_reply_to="<thread-1@customer.example>"))

    assert_suspended(reply, SuspensionReason.BLOCKED)
    assert first.ticket.messages.count() == 1


def test_an_allowed_address_wins_over_its_blocked_domain(deliver, support_team):
    rules(support_team, blocked_senders=["customer.example"], allowed_senders=["boss@customer.example"])

    boss = deliver(build_mail(sender="boss@customer.example"))
    other = deliver(build_mail(sender="ann@customer.example"))

    assert boss.state == RawInboundState.PROCESSED and boss.ticket is not None
    assert_suspended(other, SuspensionReason.BLOCKED)


# --- spam -------------------------------------------------------------------------------------


def test_mail_scored_at_or_over_the_threshold_is_suspended_with_the_score(deliver, support_team):
    rules(support_team, spam_score_threshold=Decimal("5.0"))

    at = deliver(build_mail(headers={"X-Spam-Score": "5.0"}))
    over = deliver(build_mail(headers={"X-Spam-Status": "No, score=7.3 required=8.0 tests=FOO"}))
    under = deliver(build_mail(headers={"X-Spam-Score": "4.9"}))

    assert_suspended(at, SuspensionReason.SPAM)
    assert_suspended(over, SuspensionReason.SPAM)
    assert "7.3" in over.note and "5" in over.note
    assert under.state == RawInboundState.PROCESSED


def test_flagged_spam_is_suspended_only_when_the_team_screens_spam(deliver, support_team):
    flagged = {"X-Spam-Flag": "YES"}
    unscreened = deliver(build_mail(headers=flagged))
    rules(support_team, spam_score_threshold=Decimal("10"))

    screened = deliver(build_mail(headers=flagged))

    assert unscreened.state == RawInboundState.PROCESSED
    assert_suspended(screened, SuspensionReason.SPAM)


def test_an_allowed_sender_bypasses_the_spam_threshold(deliver, support_team):
    rules(support_team, spam_score_threshold=Decimal("5"), allowed_senders=["customer.example"])

    row = deliver(build_mail(headers={"X-Spam-Score": "12.5", "X-Spam-Flag": "YES"}))

    assert row.state == RawInboundState.PROCESSED
    assert row.ticket is not None


def test_an_allowed_sender_is_still_caught_when_the_mail_comes_from_our_own_address(deliver, support_team):
    rules(support_team, allowed_senders=["example.com"])

    row = deliver(build_mail(sender=f"Support <{SUPPORT_ADDRESS}>"))

    assert_suspended(row, SuspensionReason.LOOP)


def test_an_allowed_sender_delivering_the_same_mail_twice_gets_one_ticket(deliver, support_team):
    rules(support_team, allowed_senders=["customer.example"])
    raw = build_mail(message_id="<twice@customer.example>")

    first, second = deliver(raw), deliver(raw)

    assert (first.state, second.state) == (RawInboundState.PROCESSED, RawInboundState.DUPLICATE)
    assert Ticket.objects.count() == 1


# --- the sender rate --------------------------------------------------------------------------


def test_a_sender_over_the_rate_has_further_mails_suspended(deliver, settings):
    settings.HELPDESK_EMAIL_SENDER_MAX_PER_MINUTE = 3

    rows = [deliver(build_mail(subject=f"Flood {n}")) for n in range(5)]
    someone_else = deliver(build_mail(sender="bob@customer.example"))

    assert [row.state for row in rows] == [RawInboundState.PROCESSED] * 3 + [RawInboundState.SUSPENDED] * 2
    assert all(row.suspension_reason == SuspensionReason.SENDER_RATE for row in rows[3:])
    assert "within a minute" in rows[3].note
    assert someone_else.state == RawInboundState.PROCESSED
    assert Ticket.objects.count() == 4


def test_the_sender_rate_ignores_case_and_forgets_mail_older_than_a_minute(deliver, settings):
    settings.HELPDESK_EMAIL_SENDER_MAX_PER_MINUTE = 2
    deliver(build_mail(sender="Ann@Customer.Example"))
    deliver(build_mail(sender="ann@customer.example"))
    assert_suspended(deliver(build_mail(sender="ANN@customer.example")), SuspensionReason.SENDER_RATE)

    RawInbound.objects.update(received_at=RawInbound.objects.earliest("pk").received_at - timedelta(seconds=61))

    assert deliver(build_mail(sender="ann@customer.example")).state == RawInboundState.PROCESSED


def test_an_allowed_sender_bypasses_the_sender_rate(deliver, support_team, settings):
    settings.HELPDESK_EMAIL_SENDER_MAX_PER_MINUTE = 1
    rules(support_team, allowed_senders=["ann@customer.example"])

    rows = [deliver(build_mail(subject=f"Batch {n}")) for n in range(3)]

    assert {row.state for row in rows} == {RawInboundState.PROCESSED}


# --- release ----------------------------------------------------------------------------------


def test_releasing_a_suspended_mail_tickets_it_and_records_who_released_it(deliver, release, support_team):
    rules(support_team, blocked_senders=["customer.example"])
    row = deliver(build_mail(subject="Not spam after all"))
    admin = make_user(role=Role.ADMIN, is_staff=True, is_superuser=True)

    row = release(row, admin)

    assert row.state == RawInboundState.PROCESSED
    assert row.ticket.subject == "Not spam after all"
    assert (row.released_by, row.suspension_reason) == (admin, SuspensionReason.BLOCKED)
    assert row.released_at is not None
    assert row.note.startswith("Released from suspension. Opened ticket")


def test_a_released_mail_from_a_flooding_spammy_sender_is_not_suspended_again(deliver, release, support_team,
                                                                              settings):
    settings.HELPDESK_EMAIL_SENDER_MAX_PER_MINUTE = 1
    rules(support_team, spam_score_threshold=Decimal("1"))
    deliver(build_mail(subject="first"))  # no score: processed
    held = deliver(build_mail(subject="second", headers={"X-Spam-Score": "3"}))  # spam, and over the rate
    assert held.suspension_reason == SuspensionReason.SPAM

    assert release(held).state == RawInboundState.PROCESSED


def test_only_suspended_mail_can_be_released(deliver, support_team):
    processed = deliver(build_mail())
    failed = deliver(b"\x00\x01 not a mail at all")

    assert failed.state == RawInboundState.FAILED
    assert not raw_inbound_release(raw_inbound_id=processed.pk, actor=None)
    assert not raw_inbound_release(raw_inbound_id=failed.pk, actor=None)
    assert not raw_inbound_release(raw_inbound_id=10**9, actor=None)
    failed.refresh_from_db()
    assert (failed.state, failed.released_at) == (RawInboundState.FAILED, None)


def test_a_released_mail_is_not_ticketed_twice(deliver, release, support_team):
    rules(support_team, blocked_senders=["customer.example"])
    row = deliver(build_mail(message_id="<held@customer.example>"))
    copy = deliver(build_mail(message_id="<held@customer.example>"))
    assert copy.state == RawInboundState.DUPLICATE
    # Meanwhile the same message reached a ticket another way (an import through the API, say).
    ingest(InboundMessage(channel=Channel.EMAIL, sender_email="ann@customer.example", subject="Imported",
                          body_text="Imported copy", external_id="held@customer.example"))

    row = release(row)

    assert row.state == RawInboundState.DUPLICATE
    assert Ticket.objects.count() == 1
    assert not raw_inbound_release(raw_inbound_id=row.pk, actor=None)


# --- through the real SMTP listener -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_blocked_mail_sent_over_smtp_is_accepted_then_suspended(celery_eager, support_team):
    rules(support_team, blocked_senders=["customer.example"])
    handler = IntakeHandler(max_workers=2)
    port = free_port()
    controller = IntakeController(handler, host="127.0.0.1", port=port)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            refused = client.sendmail("ann@customer.example", [SUPPORT_ADDRESS], build_mail(subject="Buy now"))
    finally:
        controller.stop()
        handler.close()

    # The sender is not told (no bounce to feed a spammer's address list); the admin sees it held.
    assert refused == {}
    row = RawInbound.objects.get()
    assert_suspended(row, SuspensionReason.BLOCKED)
    assert row.subject == "Buy now"
    assert Ticket.objects.count() == 0
