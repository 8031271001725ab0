"""Mailbox credentials: TLS with verified certificates, no clear text beyond loopback, encrypted at rest."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from channels_intake.models import MailboxAccount, SecretUnavailable, seal_secret, unseal_secret
from tests.channels_intake.helpers import build_mail
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("security", ["ssl", "starttls"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_tls_mailbox_with_a_verified_certificate_is_polled(
    dovecot, imap_user, make_mailbox, poll, settings, security, host
):
    settings.HELPDESK_IMAP_CA_FILE = dovecot.ca_file  # the test CA, as for an in-house server
    dovecot.append(imap_user, build_mail(subject=f"Over {security}"))
    mailbox = make_mailbox(imap_user, host=host, security=security,
                           port=dovecot.ssl_port if security == "ssl" else dovecot.port)

    result = poll(mailbox)

    assert (result.stored, result.error) == (1, "")
    assert Ticket.objects.get().subject == f"Over {security}"
    logins = [line for line in (dovecot.base / "dovecot.log").read_text().splitlines()
              if "Login:" in line and f"user=<{imap_user}>" in line]
    assert "TLS" in logins[-1]  # the poller's (the test seeded the mailbox in clear, before)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_certificate_nobody_vouches_for_is_refused(dovecot, imap_user, make_mailbox, poll, settings, security):
    settings.HELPDESK_IMAP_CA_FILE = ""  # the system's CAs only: they never signed the test certificate
    dovecot.append(imap_user, build_mail())
    mailbox = make_mailbox(imap_user, security=security, port=dovecot.ssl_port if security == "ssl" else dovecot.port)

    result = poll(mailbox)

    assert result.stored == 0
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert "CERTIFICATE_VERIFY_FAILED" in mailbox.last_error


def test_no_tls_is_only_accepted_for_loopback_servers(make_mailbox, imap_user, support_team):
    mailbox = MailboxAccount(team=support_team, name="Remote", host="imap.example.com", port=143, security="none",
                             username=imap_user)

    with pytest.raises(ValidationError) as refused:
        mailbox.full_clean()

    assert "security" in refused.value.message_dict
    for host in ("127.0.0.1", "::1", "localhost"):
        mailbox.host = host
        mailbox.full_clean()  # accepted


def test_poller_refuses_clear_text_to_a_remote_server_even_if_saved(imap_user, make_mailbox, poll):
    mailbox = make_mailbox(imap_user)
    MailboxAccount.objects.filter(pk=mailbox.pk).update(host="imap.example.com")

    result = poll(mailbox)

    assert "without TLS" in result.error


def test_credentials_are_stored_encrypted(make_mailbox, imap_user):
    mailbox = make_mailbox(imap_user, password="correct horse battery staple")
    mailbox.oauth_client_secret = "client-secret-xyz"
    mailbox.oauth_refresh_token = "refresh-token-xyz"
    mailbox.oauth_access_token = "access-token-xyz"
    mailbox.save()

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM channels_intake_mailboxaccount WHERE id = %s", [mailbox.pk])
        stored = " ".join(str(value) for value in cursor.fetchone())

    for secret in ("correct horse battery staple", "client-secret-xyz", "refresh-token-xyz", "access-token-xyz"):
        assert secret not in stored
    fresh = MailboxAccount.objects.get(pk=mailbox.pk)
    assert fresh.password == "correct horse battery staple"
    assert (fresh.oauth_client_secret, fresh.oauth_refresh_token, fresh.oauth_access_token) == (
        "client-secret-xyz", "refresh-token-xyz", "access-token-xyz",
    )


def test_encryption_key_setting_overrides_secret_key_and_rotates(settings):
    settings.HELPDESK_FIELD_ENCRYPTION_KEY = ""
    from_secret_key = seal_secret("pw-1")

    settings.HELPDESK_FIELD_ENCRYPTION_KEY = "first-dedicated-key-0123456789abcdef"
    with pytest.raises(SecretUnavailable):
        unseal_secret(from_secret_key)  # a dedicated key replaces the SECRET_KEY-derived one
    old = seal_secret("pw-2")

    settings.HELPDESK_FIELD_ENCRYPTION_KEY = "second-dedicated-key-0123456789abcd, first-dedicated-key-0123456789abcdef"
    assert unseal_secret(old) == "pw-2"  # still readable after rotation
    new = seal_secret("pw-3")
    settings.HELPDESK_FIELD_ENCRYPTION_KEY = "second-dedicated-key-0123456789abcd"
    assert unseal_secret(new) == "pw-3"  # sealed with the first key of the list


def test_secret_key_change_keeps_old_secrets_readable_through_fallbacks(settings):
    settings.HELPDESK_FIELD_ENCRYPTION_KEY = ""
    sealed = seal_secret("pw")
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-secret-key-0123456789abcdefghij", [old_key]

    assert unseal_secret(sealed) == "pw"


def test_password_sealed_under_a_lost_key_is_an_error_on_the_account(
    dovecot, imap_user, make_mailbox, poll, settings
):
    dovecot.append(imap_user, build_mail())
    mailbox = make_mailbox(imap_user)
    settings.HELPDESK_FIELD_ENCRYPTION_KEY = "a-key-the-password-was-not-sealed-with"

    result = poll(mailbox)

    assert result.stored == 0
    assert "cannot be decrypted" in result.error and "Enter it again" in mailbox.last_error
