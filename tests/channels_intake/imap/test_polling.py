"""The IMAP door against a real Dovecot: new mail becomes tickets once, whatever happens on the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from channels_intake.email.imap import encode_folder_name, parse_internaldate
from channels_intake.models import Door, MailboxReceipt, RawInbound, RawInboundState
from tests.channels_intake.helpers import SUPPORT_ADDRESS, build_mail
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db


def _body_of(size: int, seed: str) -> str:
    line = f"{seed} " + "x" * 70 + "\n"
    return line * (size // len(line) + 1)


def test_new_mail_becomes_tickets_once_and_is_marked_read(dovecot, imap_user, make_mailbox, poll, support_team):
    dovecot.append(imap_user, build_mail(subject="Printer on fire", message_id="<p1@customer.example>"))
    dovecot.append(imap_user, build_mail(sender="Bo <bo@customer.example>", subject="Login broken",
                                         message_id="<p2@customer.example>"))
    mailbox = make_mailbox(imap_user)

    first = poll(mailbox)
    second = poll(mailbox)

    assert (first.stored, first.error) == (2, "")
    assert (second.stored, second.already_stored, second.error) == (0, 0, "")
    tickets = list(Ticket.objects.order_by("pk"))
    assert [ticket.subject for ticket in tickets] == ["Printer on fire", "Login broken"]
    assert {ticket.team_id for ticket in tickets} == {support_team.pk}
    rows = list(RawInbound.objects.order_by("pk"))
    assert [(row.door, row.state) for row in rows] == [(Door.IMAP, RawInboundState.PROCESSED)] * 2
    assert rows[0].envelope_recipients == [SUPPORT_ADDRESS]
    assert all("\\Seen" in flags for flags in dovecot.messages(imap_user).values())
    assert mailbox.last_uid == 2
    assert mailbox.last_uidvalidity == dovecot.uidvalidity(imap_user)
    assert mailbox.last_success_at is not None and mailbox.last_error == ""


def test_mail_read_by_a_person_before_the_poll_is_still_fetched(dovecot, imap_user, make_mailbox, poll):
    dovecot.append(imap_user, build_mail(subject="Already opened in Outlook"), flags="\\Seen")

    result = poll(make_mailbox(imap_user))

    assert result.stored == 1
    assert Ticket.objects.get().subject == "Already opened in Outlook"


def test_reply_appended_later_threads_to_its_ticket(dovecot, imap_user, make_mailbox, poll):
    mailbox = make_mailbox(imap_user)
    dovecot.append(imap_user, build_mail(subject="Printer on fire", message_id="<thread-1@customer.example>"))
    poll(mailbox)

    dovecot.append(imap_user, build_mail(subject="Re: Printer on fire", body="Now it is smoking.",
                                         message_id="<thread-2@customer.example>",
                                         in_reply_to="<thread-1@customer.example>",
                                         references="<thread-1@customer.example>"))
    result = poll(mailbox)

    assert result.stored == 1
    ticket = Ticket.objects.get()
    assert [message.body_text.strip() for message in ticket.messages.order_by("pk")][-1].startswith("Now it is smoking.")
    assert ticket.messages.count() == 2


def test_mail_is_moved_to_the_chosen_folder_after_storing(dovecot, imap_user, make_mailbox, poll):
    for number in range(3):
        dovecot.append(imap_user, build_mail(subject=f"Question {number}"))
    mailbox = make_mailbox(imap_user, after_fetch="move", move_to_folder="已处理")

    first = poll(mailbox)
    second = poll(mailbox)

    assert (first.stored, first.error, first.warnings) == (3, "", [])
    assert second.stored == 0
    assert dovecot.messages(imap_user) == {}  # nothing left in INBOX
    moved = dovecot.messages(imap_user, folder="已处理")
    assert len(moved) == 3
    assert all("\\Seen" not in flags and "\\Deleted" not in flags for flags in moved.values())
    assert Ticket.objects.count() == 3
    with dovecot.client(imap_user) as imap:
        _, folders = imap.list()
    assert any(encode_folder_name("已处理").encode() in line for line in folders)  # created under its UTF-7 name


def test_messages_are_taken_in_uid_order_and_at_most_max_per_poll(dovecot, imap_user, make_mailbox, poll):
    for number in range(5):
        dovecot.append(imap_user, build_mail(subject=f"Mail {number}"))
    mailbox = make_mailbox(imap_user)

    first = poll(mailbox, max_messages=2)
    assert first.stored == 2 and mailbox.last_uid == 2
    rest = poll(mailbox, max_messages=10)

    assert rest.stored == 3
    assert list(Ticket.objects.order_by("pk").values_list("subject", flat=True)) == [f"Mail {n}" for n in range(5)]
    seen = dovecot.messages(imap_user)
    assert all("\\Seen" in flags for flags in seen.values())


@pytest.mark.parametrize(("after_fetch", "command"), [("mark_seen", b"UID STORE"), ("move", b"UID MOVE")])
def test_connection_cut_between_storing_and_flagging_loses_and_duplicates_nothing(
    dovecot, imap_user, make_mailbox, poll, cutting_relay, after_fetch, command
):
    for number in range(3):
        dovecot.append(imap_user, build_mail(subject=f"Order {number}", message_id=f"<cut-{number}@customer.example>"))
    relay = cutting_relay(client_pattern=command)  # the first flag or move never reaches the server
    mailbox = make_mailbox(imap_user, port=relay.port, after_fetch=after_fetch,
                           move_to_folder="Done" if after_fetch == "move" else "")

    cut = poll(mailbox)

    assert relay.cuts == 1
    assert cut.stored == 1 and "Connection" in cut.error
    assert mailbox.last_uid == 0  # the first message was stored but not yet flagged: not done
    assert "Connection" in mailbox.last_error
    assert all("\\Seen" not in flags for flags in dovecot.messages(imap_user).values())
    assert len(dovecot.messages(imap_user)) == 3

    again = poll(mailbox)  # the relay lets the next connection through

    assert (again.stored, again.already_stored, again.error) == (2, 1, "")
    assert RawInbound.objects.count() == 3
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["Order 0", "Order 1", "Order 2"]
    assert Message.objects.count() == 3
    if after_fetch == "move":
        assert dovecot.messages(imap_user) == {}
        assert len(dovecot.messages(imap_user, folder="Done")) == 3
    else:
        assert all("\\Seen" in flags for flags in dovecot.messages(imap_user).values())
    assert mailbox.last_uid == 3 and mailbox.last_error == ""


def test_connection_cut_anywhere_mid_transfer_gives_every_message_exactly_once(
    dovecot, imap_user, make_mailbox, poll, cutting_relay
):
    for number in range(4):
        dovecot.append(imap_user, build_mail(subject=f"Report {number}", body=_body_of(20_000, f"report{number}")))
    mailbox = make_mailbox(imap_user)
    errors = []

    # Cut points from the greeting through each message's body: every poll gets a little further.
    for budget in (200, 1_500, 12_000, 30_000, 55_000, 75_000):
        relay = cutting_relay(server_bytes=budget)
        mailbox.port = relay.port
        mailbox.save(update_fields=["port"])
        result = poll(mailbox)
        errors.append(result.error)
        stored = RawInbound.objects.count()
        assert stored <= 4
        # Never flagged before it is stored.
        assert sum("\\Seen" in flags for flags in dovecot.messages(imap_user).values()) <= stored

    assert all("Connection" in error for error in errors[:4]), errors
    mailbox.port = dovecot.port
    mailbox.save(update_fields=["port"])
    final = poll(mailbox)

    assert final.error == ""
    assert RawInbound.objects.count() == 4
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [f"Report {n}" for n in range(4)]
    assert all("\\Seen" in flags for flags in dovecot.messages(imap_user).values())
    assert [receipt.uid for receipt in MailboxReceipt.objects.filter(mailbox=mailbox).order_by("uid")] == [1, 2, 3, 4]


def test_uidvalidity_change_reads_the_folder_again_without_duplicates(dovecot, imap_user, make_mailbox, poll):
    dovecot.create_folder(imap_user, "Support")
    old = [
        build_mail(subject="First", message_id="<uv-1@customer.example>"),
        # Without a Message-ID only the content can tell it was stored before.
        b"From: Cy <cy@customer.example>\r\nTo: support@example.com\r\nSubject: No id\r\n\r\nHello there.\r\n",
    ]
    for raw in old:
        dovecot.append(imap_user, raw, folder="Support")
    mailbox = make_mailbox(imap_user, folder="Support")
    assert poll(mailbox).stored == 2
    before = mailbox.last_uidvalidity

    # The folder is rebuilt (a server migration, a restore): same mail, new UIDs, new UIDVALIDITY.
    with dovecot.client(imap_user) as imap:
        assert imap.delete('"Support"')[0] == "OK"
    dovecot.create_folder(imap_user, "Support")
    for raw in [build_mail(subject="Brand new", message_id="<uv-3@customer.example>"), *old]:
        dovecot.append(imap_user, raw, folder="Support")
    assert dovecot.uidvalidity(imap_user, "Support") != before

    result = poll(mailbox)

    assert (result.stored, result.already_stored, result.error) == (1, 2, "")
    assert any("UIDVALIDITY" in note for note in result.notes)
    assert RawInbound.objects.count() == 3
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["Brand new", "First", "No id"]
    assert all("\\Seen" in flags for flags in dovecot.messages(imap_user, "Support").values())
    assert mailbox.last_uidvalidity != before and mailbox.last_uid == 3
    assert poll(mailbox).stored == 0


def test_same_message_twice_in_the_mailbox_is_stored_once(dovecot, imap_user, make_mailbox, poll):
    raw = build_mail(subject="Sent to two of our aliases", message_id="<twice@customer.example>")
    dovecot.append(imap_user, raw)
    dovecot.append(imap_user, raw)

    result = poll(make_mailbox(imap_user))

    assert (result.stored, result.already_stored) == (1, 1)
    assert RawInbound.objects.count() == 1
    assert all("\\Seen" in flags for flags in dovecot.messages(imap_user).values())


def test_wrong_password_is_recorded_and_nothing_is_lost(dovecot, imap_user, make_mailbox, poll):
    dovecot.append(imap_user, build_mail(subject="Waiting for a fix"))
    mailbox = make_mailbox(imap_user, password="Tr0ub4dor&3-wrong")

    failed = poll(mailbox)

    assert failed.stored == 0 and "Sign-in refused" in failed.error
    assert "Sign-in refused" in mailbox.last_error and mailbox.last_error_at is not None
    assert mailbox.last_success_at is None
    assert RawInbound.objects.count() == 0
    assert all("\\Seen" not in flags for flags in dovecot.messages(imap_user).values())

    mailbox.password = "secret"
    mailbox.save()
    fixed = poll(mailbox)

    assert fixed.stored == 1 and mailbox.last_error == ""
    assert Ticket.objects.get().subject == "Waiting for a fix"


def test_unreachable_server_is_recorded(imap_user, make_mailbox, poll):
    from tests.channels_intake.helpers import free_port

    mailbox = make_mailbox(imap_user, port=free_port())

    result = poll(mailbox)

    assert "Connection failed while connecting" in result.error
    assert "Connection failed" in mailbox.last_error


def test_missing_folder_is_recorded(dovecot, imap_user, make_mailbox, poll):
    dovecot.append(imap_user, build_mail())
    mailbox = make_mailbox(imap_user, folder="Nonexistent")

    result = poll(mailbox)

    assert "Nonexistent" in result.error and "Nonexistent" in mailbox.last_error
    assert RawInbound.objects.count() == 0


def test_database_failure_leaves_the_mail_unread_on_the_server(dovecot, imap_user, make_mailbox, poll):
    dovecot.append(imap_user, build_mail(subject="During the outage"))
    mailbox = make_mailbox(imap_user)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_insert() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_insert BEFORE INSERT ON channels_intake_rawinbound "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_insert()"
        )

    with pytest.raises(DatabaseError, match="disk full"):
        poll(mailbox)

    mailbox.refresh_from_db()
    assert "disk full" in mailbox.last_error
    assert mailbox.last_uid == 0
    assert all("\\Seen" not in flags for flags in dovecot.messages(imap_user).values())

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_refuse_insert ON channels_intake_rawinbound")
    assert poll(mailbox).stored == 1
    assert Ticket.objects.get().subject == "During the outage"


def test_two_pollers_never_poll_one_mailbox_at_once(dovecot, imap_user, make_mailbox, poll):
    dovecot.append(imap_user, build_mail())
    mailbox = make_mailbox(imap_user)
    # Another worker, on its own database connection, is polling this mailbox.
    other = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [0x494D4150, mailbox.pk])

        busy = poll(mailbox)

        assert busy.busy and busy.stored == 0
        assert RawInbound.objects.count() == 0
        assert all("\\Seen" not in flags for flags in dovecot.messages(imap_user).values())
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [0x494D4150, mailbox.pk])
    finally:
        other.close()

    assert poll(mailbox).stored == 1


def test_message_larger_than_the_limit_is_left_unread_and_said(dovecot, imap_user, make_mailbox, poll, settings):
    settings.HELPDESK_EMAIL_MAX_BYTES = 10_000
    dovecot.append(imap_user, build_mail(subject="Huge", body=_body_of(20_000, "huge")))
    dovecot.append(imap_user, build_mail(subject="Small"))
    mailbox = make_mailbox(imap_user)

    result = poll(mailbox)

    assert (result.stored, result.left_in_mailbox) == (1, 1)
    assert Ticket.objects.get().subject == "Small"
    flags = dovecot.messages(imap_user)
    assert "\\Seen" not in flags[1] and "\\Seen" in flags[2]
    assert "larger than HELPDESK_EMAIL_MAX_BYTES" in mailbox.last_error


def test_disabled_mailbox_is_not_polled(dovecot, imap_user, make_mailbox, poll):
    dovecot.append(imap_user, build_mail())
    mailbox = make_mailbox(imap_user, is_enabled=False)

    assert poll(mailbox).stored == 0
    assert poll(mailbox, include_disabled=True).stored == 1


def test_mail_received_before_the_start_date_is_left_alone(dovecot, imap_user, make_mailbox, poll):
    now = timezone.now()
    with dovecot.client(imap_user) as imap:
        # INTERNALDATE is when the server received it: years of mail were there before we connected.
        imap.append("INBOX", None, now - timedelta(days=400), build_mail(subject="From last year"))
        imap.append("INBOX", None, now - timedelta(minutes=5), build_mail(subject="This morning"))
    mailbox = make_mailbox(imap_user, fetch_since=now - timedelta(hours=1))

    result = poll(mailbox)

    assert (result.stored, result.older_skipped) == (1, 1)
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["This morning"]
    flags = dovecot.messages(imap_user)
    assert "\\Seen" not in flags[1] and "\\Seen" in flags[2]  # the old one is untouched
    assert mailbox.last_uid == 2
    assert poll(mailbox).older_skipped == 0  # not looked at again


@pytest.mark.parametrize(("value", "expected"), [
    (b"17-Jul-1996 02:44:25 -0700", datetime(1996, 7, 17, 9, 44, 25, tzinfo=UTC)),
    (b" 1-Jan-2027 00:00:00 +0800", datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC)),
    (b"31-Feb-2026 00:00:00 +0000", None),
    (b"yesterday", None),
])
def test_internaldate_is_read_with_its_zone(value, expected):
    assert parse_internaldate(value) == expected
