"""IMAP mailboxes for admins (admin pages, write-only credentials) and the ways polls start
(`manage.py fetch_mail`, the beat job)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from channels_intake.models import MailboxAccount, RawInbound
from tests.channels_intake.helpers import build_mail
from tests.factories import make_user
from tickets.models import Role, Ticket

pytestmark = pytest.mark.django_db
LIST_URL = "/admin/channels_intake/mailboxaccount/"
PASSWORD = "Tr0ub4dor&3-wrong"


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True))
    return client


def _form_data(mailbox: MailboxAccount, **changes: object) -> dict[str, object]:
    data = {
        "team": mailbox.team_id, "name": mailbox.name, "is_enabled": "on", "host": mailbox.host,
        "port": mailbox.port, "security": mailbox.security, "username": mailbox.username,
        "auth_method": mailbox.auth_method, "password": "", "folder": mailbox.folder,
        "after_fetch": mailbox.after_fetch, "move_to_folder": mailbox.move_to_folder,
        "oauth_provider": mailbox.oauth_provider, "oauth_token_url": mailbox.oauth_token_url,
        "oauth_scope": mailbox.oauth_scope, "oauth_client_id": mailbox.oauth_client_id,
        "oauth_client_secret": "", "oauth_refresh_token": "",
    }
    data.update(changes)
    return data


def test_failing_mailbox_shows_its_error_in_the_admin_and_never_its_password(
    admin_client, dovecot, imap_user, make_mailbox, poll
):
    dovecot.append(imap_user, build_mail())
    mailbox = make_mailbox(imap_user, password=PASSWORD)
    poll(mailbox)

    listing = admin_client.get(LIST_URL).content.decode()
    page = admin_client.get(f"{LIST_URL}{mailbox.pk}/change/").content.decode()

    assert "Error: Sign-in refused" in listing
    assert "Sign-in refused" in page and "AUTHENTICATIONFAILED" in page
    assert PASSWORD not in listing and PASSWORD not in page
    assert mailbox.password_sealed not in page
    assert 'name="password"' in page and 'type="password"' in page


def test_admin_saves_a_new_password_encrypted_and_blank_keeps_it(admin_client, imap_user, make_mailbox):
    mailbox = make_mailbox(imap_user)

    response = admin_client.post(f"{LIST_URL}{mailbox.pk}/change/", _form_data(mailbox, password="n3w-pass"))
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.password == "n3w-pass" and "n3w-pass" not in mailbox.password_sealed

    response = admin_client.post(f"{LIST_URL}{mailbox.pk}/change/", _form_data(mailbox, name="Renamed"))
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.name, mailbox.password) == ("Renamed", "n3w-pass")


def test_pointing_the_mailbox_elsewhere_starts_from_the_first_uid_without_duplicates(
    admin_client, dovecot, imap_user, make_mailbox, poll
):
    dovecot.append(imap_user, build_mail(subject="In the inbox", message_id="<elsewhere-1@customer.example>"))
    dovecot.create_folder(imap_user, "Archive")
    dovecot.append(imap_user, build_mail(subject="In the inbox", message_id="<elsewhere-1@customer.example>"),
                   folder="Archive")
    dovecot.append(imap_user, build_mail(subject="Only archived"), folder="Archive")
    mailbox = make_mailbox(imap_user)
    poll(mailbox)
    assert (mailbox.last_uid, mailbox.last_uidvalidity is not None) == (1, True)

    renamed = admin_client.post(f"{LIST_URL}{mailbox.pk}/change/", _form_data(mailbox, name="Renamed"))
    mailbox.refresh_from_db()
    assert renamed.status_code == 302 and mailbox.last_uid == 1  # position kept

    moved = admin_client.post(f"{LIST_URL}{mailbox.pk}/change/", _form_data(mailbox, folder="Archive"))
    mailbox.refresh_from_db()
    assert moved.status_code == 302 and (mailbox.last_uid, mailbox.last_uidvalidity) == (0, None)

    result = poll(mailbox)

    assert (result.stored, result.already_stored) == (1, 1)
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["In the inbox", "Only archived"]


def test_admin_creates_a_mailbox_and_asks_for_what_is_missing(admin_client, support_team):
    blank = MailboxAccount(team=support_team, name="Inbox", host="imap.example.com", port=993, security="ssl",
                           username="support@example.com")

    refused = admin_client.post(f"{LIST_URL}add/", _form_data(blank))
    assert refused.status_code == 200
    assert "Enter the mailbox" in refused.content.decode()
    assert not MailboxAccount.objects.exists()

    clear_text = admin_client.post(f"{LIST_URL}add/", _form_data(blank, security="none", password="pw"))
    assert "only allowed for a server on this machine" in clear_text.content.decode()

    created = admin_client.post(f"{LIST_URL}add/", _form_data(blank, password="pw"))
    assert created.status_code == 302
    assert MailboxAccount.objects.get().password == "pw"


def test_new_oauth_refresh_token_drops_the_old_access_token(admin_client, imap_user, make_mailbox):
    mailbox = make_mailbox(imap_user, auth_method="oauth2", oauth_provider="google", oauth_client_id="client")
    mailbox.oauth_refresh_token, mailbox.oauth_access_token = "rt-old", "at-old"
    mailbox.save()

    response = admin_client.post(f"{LIST_URL}{mailbox.pk}/change/", _form_data(mailbox, oauth_refresh_token="rt-new"))

    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.oauth_refresh_token, mailbox.oauth_access_token) == ("rt-new", "")
    assert mailbox.oauth_access_token_expires_at is None


def test_mailbox_of_a_team_without_an_address_is_refused(admin_client, imap_user, make_mailbox):
    from tests.factories import make_team

    mailbox = make_mailbox(imap_user)
    addressless = make_team(name="No address", slug="no-address")

    response = admin_client.post(f"{LIST_URL}{mailbox.pk}/change/", _form_data(mailbox, team=addressless.pk))

    assert response.status_code == 200
    assert "Give this team an email address first" in response.content.decode()


def test_agents_cannot_open_the_mailbox_admin(client, imap_user, make_mailbox):
    mailbox = make_mailbox(imap_user)
    client.force_login(make_user(role=Role.AGENT, is_staff=True))

    assert client.get(LIST_URL).status_code == 302  # to the admin login
    assert client.get(f"{LIST_URL}{mailbox.pk}/change/").status_code == 302


def test_fetch_now_action_polls_the_selected_mailbox(
    admin_client, dovecot, imap_user, make_mailbox, celery_eager, django_capture_on_commit_callbacks
):
    dovecot.append(imap_user, build_mail(subject="Fetched from the admin"))
    mailbox = make_mailbox(imap_user, is_enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(LIST_URL, {"action": "fetch_now", "_selected_action": [mailbox.pk]})

    assert response.status_code == 302
    assert Ticket.objects.get().subject == "Fetched from the admin"


# --- manage.py fetch_mail and the beat job ---------------------------------------------------------


def test_fetch_mail_command_polls_enabled_mailboxes_and_sums_up(
    dovecot, imap_user, make_mailbox, celery_eager, django_capture_on_commit_callbacks
):
    for number in range(2):
        dovecot.append(imap_user, build_mail(subject=f"Command {number}"))
    mailbox = make_mailbox(imap_user)
    output = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("fetch_mail", stdout=output)

    assert f"{mailbox.name} (#{mailbox.pk}): 2 new, 0 finished from an earlier poll" in output.getvalue()
    assert Ticket.objects.count() == 2


def test_fetch_mail_command_fails_when_a_mailbox_cannot_be_polled(dovecot, imap_user, make_mailbox):
    dovecot.append(imap_user, build_mail())
    healthy = make_mailbox(imap_user)
    broken = make_mailbox(imap_user, password=PASSWORD)
    output, errors = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match="1 of 2 mailboxes could not be polled"):
        call_command("fetch_mail", stdout=output, stderr=errors)

    assert f"(#{healthy.pk}): 1 new" in output.getvalue()
    assert f"(#{broken.pk}): " in errors.getvalue() and "Sign-in refused" in errors.getvalue()


def test_fetch_mail_command_polls_one_chosen_mailbox_even_disabled(
    dovecot, imap_user, make_mailbox, celery_eager, django_capture_on_commit_callbacks
):
    other_user = imap_user + "x"
    dovecot.append(imap_user, build_mail(subject="Chosen"))
    dovecot.append(other_user, build_mail(subject="Not chosen"))
    chosen = make_mailbox(imap_user, is_enabled=False)
    make_mailbox(other_user)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("fetch_mail", "--mailbox", str(chosen.pk), stdout=io.StringIO())

    assert list(RawInbound.objects.values_list("subject", flat=True)) == ["Chosen"]
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["Chosen"]

    with pytest.raises(CommandError, match="No IMAP mailbox with id 999999"):
        call_command("fetch_mail", "--mailbox", "999999")


def test_beat_job_polls_every_enabled_mailbox(
    dovecot, imap_user, make_mailbox, celery_eager, django_capture_on_commit_callbacks
):
    from channels_intake.tasks import poll_mailboxes

    disabled_user = imap_user + "d"
    dovecot.append(imap_user, build_mail(subject="Enabled"))
    dovecot.append(disabled_user, build_mail(subject="Disabled"))
    make_mailbox(imap_user)
    make_mailbox(disabled_user, is_enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        assert poll_mailboxes() == 1

    assert list(Ticket.objects.values_list("subject", flat=True)) == ["Enabled"]


def test_beat_schedule_polls_mailboxes_on_the_email_in_queue_every_interval(settings):
    from channels_intake.tasks import poll_mailbox, poll_mailboxes
    from helpdesk.celery import app

    entry = app.conf.beat_schedule["intake-poll-mailboxes"]

    assert entry["task"] == "channels_intake.tasks.poll_mailboxes"
    assert float(entry["schedule"]) == settings.HELPDESK_IMAP_POLL_SECONDS == 60.0
    assert poll_mailboxes.queue == poll_mailbox.queue == "email_in"


def test_new_mailbox_takes_only_mail_arriving_from_now_unless_told_otherwise(admin_client):
    from django.utils import timezone

    page = admin_client.get(f"{LIST_URL}add/").content.decode()

    today = timezone.localtime().strftime("%Y-%m-%d")
    assert f'name="fetch_since_0" value="{today}"' in page
