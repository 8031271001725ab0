"""OAuth 2.0 mailboxes (Microsoft 365, Gmail): XOAUTH2 sign-in with access tokens renewed on their own.

The provider is a local HTTP server (`oauth_provider`); Dovecot checks each XOAUTH2 token against
the same provider's introspection endpoint, so a sign-in succeeds exactly when the provider issued
the token and has not revoked it.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_intake.email.imap import OAuthError, oauth_refresh, xoauth2_string
from channels_intake.models import MailboxAccount, RawInbound
from tests.channels_intake.helpers import build_mail
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def oauth_mailbox(make_mailbox, oauth_provider):
    def make(user: str, **fields: object) -> MailboxAccount:
        mailbox = make_mailbox(
            user, password="", auth_method="oauth2", oauth_provider="custom", oauth_token_url=oauth_provider.token_url,
            oauth_client_id=oauth_provider.client_id, **fields,
        )
        mailbox.oauth_client_secret = oauth_provider.client_secret
        mailbox.oauth_refresh_token = oauth_provider.grant(user)
        mailbox.save()
        return mailbox

    return make


def test_xoauth2_string_is_the_documented_sasl_response():
    raw = xoauth2_string(username="someuser@example.com", access_token="ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")

    assert raw == b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
    # What goes on the wire (imaplib adds the base64): the example of Google's XOAUTH2 documentation.
    assert base64.b64encode(raw) == (
        b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRH"
        b"RXVZMjl0Q2cBAQ=="
    )


def test_first_poll_gets_an_access_token_and_signs_in_with_xoauth2(
    dovecot, imap_user, oauth_mailbox, oauth_provider, poll
):
    dovecot.append(imap_user, build_mail(subject="Via Microsoft 365"))
    mailbox = oauth_mailbox(imap_user, oauth_scope="https://outlook.office.com/IMAP.AccessAsUser.All offline_access")
    refresh_token = mailbox.oauth_refresh_token

    result = poll(mailbox)

    assert (result.stored, result.error) == (1, "")
    assert Ticket.objects.get().subject == "Via Microsoft 365"
    assert oauth_provider.token_requests == [{
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": oauth_provider.client_id,
        "client_secret": oauth_provider.client_secret,
        "scope": "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
    }]
    assert mailbox.oauth_access_token in oauth_provider.access_tokens
    expires_in = mailbox.oauth_access_token_expires_at - timezone.now()
    assert timedelta(minutes=59) < expires_in <= timedelta(hours=1)
    logins = [line for line in (dovecot.base / "dovecot.log").read_text().splitlines()
              if "Login:" in line and f"user=<{imap_user}>" in line]
    assert any("method=XOAUTH2" in line for line in logins)


def test_valid_access_token_is_reused_without_asking_the_provider(
    dovecot, imap_user, oauth_mailbox, oauth_provider, poll
):
    mailbox = oauth_mailbox(imap_user)
    poll(mailbox)
    token = mailbox.oauth_access_token
    dovecot.append(imap_user, build_mail(subject="Later"))

    result = poll(mailbox)

    assert result.stored == 1
    assert len(oauth_provider.token_requests) == 1
    assert mailbox.oauth_access_token == token


def test_expired_access_token_is_renewed_before_signing_in(dovecot, imap_user, oauth_mailbox, oauth_provider, poll):
    mailbox = oauth_mailbox(imap_user)
    poll(mailbox)
    old_token = mailbox.oauth_access_token
    MailboxAccount.objects.filter(pk=mailbox.pk).update(oauth_access_token_expires_at=timezone.now() - timedelta(seconds=5))
    oauth_provider.revoke_access_tokens()  # the provider has let it lapse too
    dovecot.append(imap_user, build_mail(subject="After an hour"))
    mailbox.refresh_from_db()

    result = poll(mailbox)

    assert (result.stored, result.error) == (1, "")
    assert len(oauth_provider.token_requests) == 2
    assert mailbox.oauth_access_token != old_token


def test_token_the_server_refuses_is_renewed_once_and_the_poll_goes_on(
    dovecot, imap_user, oauth_mailbox, oauth_provider, poll
):
    mailbox = oauth_mailbox(imap_user)
    # Believed valid for another hour, but revoked by the provider (password change, admin action).
    mailbox.oauth_access_token = "at-revoked"
    mailbox.oauth_access_token_expires_at = timezone.now() + timedelta(hours=1)
    mailbox.save()
    dovecot.append(imap_user, build_mail(subject="Token was revoked"))

    result = poll(mailbox)

    assert (result.stored, result.error) == (1, "")
    assert len(oauth_provider.token_requests) == 1
    assert mailbox.oauth_access_token != "at-revoked"


def test_rotated_refresh_token_replaces_the_old_one(dovecot, imap_user, oauth_mailbox, oauth_provider, poll):
    oauth_provider.rotate_refresh_tokens = True
    mailbox = oauth_mailbox(imap_user)
    first_refresh_token = mailbox.oauth_refresh_token
    poll(mailbox)
    assert mailbox.oauth_refresh_token not in ("", first_refresh_token)
    MailboxAccount.objects.filter(pk=mailbox.pk).update(oauth_access_token_expires_at=timezone.now())
    dovecot.append(imap_user, build_mail(subject="With the rotated token"))
    mailbox.refresh_from_db()

    result = poll(mailbox)

    assert (result.stored, result.error) == (1, "")
    assert oauth_provider.token_requests[-1]["refresh_token"] not in ("", first_refresh_token)


def test_revoked_refresh_token_is_recorded_and_nothing_is_lost(
    dovecot, imap_user, oauth_mailbox, oauth_provider, poll
):
    dovecot.append(imap_user, build_mail(subject="Needs reconnecting"))
    mailbox = oauth_mailbox(imap_user)
    oauth_provider.refresh_tokens.clear()

    result = poll(mailbox)

    assert result.stored == 0
    assert "invalid_grant" in result.error and "revoked" in result.error
    assert "invalid_grant" in mailbox.last_error
    assert RawInbound.objects.count() == 0
    assert all("\\Seen" not in flags for flags in dovecot.messages(imap_user).values())


def test_wrong_client_secret_is_recorded(imap_user, oauth_mailbox, poll):
    mailbox = oauth_mailbox(imap_user)
    mailbox.oauth_client_secret = "not-the-secret"
    mailbox.save()

    result = poll(mailbox)

    assert "invalid_client" in result.error and "HTTP 401" in result.error


def test_token_for_another_user_is_refused_by_the_server(dovecot, imap_user, oauth_mailbox, oauth_provider, poll):
    mailbox = oauth_mailbox(imap_user)
    mailbox.oauth_refresh_token = oauth_provider.grant("someone-else")
    mailbox.save()

    result = poll(mailbox)

    assert "XOAUTH2 sign-in refused" in result.error
    assert len(oauth_provider.token_requests) == 1  # renewed once, not in a loop


def test_refresh_token_never_goes_over_plain_http_to_another_host(make_mailbox, imap_user, oauth_provider):
    mailbox = make_mailbox(imap_user, password="", auth_method="oauth2", oauth_provider="custom",
                           oauth_token_url="http://login.example.com/token", oauth_client_id="c")
    mailbox.oauth_refresh_token = "rt-secret"
    mailbox.save()

    with pytest.raises(OAuthError, match="must be https"):
        oauth_refresh(mailbox=mailbox)


def test_provider_defaults_fill_the_token_url_and_scope(make_mailbox, imap_user):
    microsoft = make_mailbox(imap_user, auth_method="oauth2", oauth_provider="microsoft", oauth_client_id="c")
    google = make_mailbox(imap_user, auth_method="oauth2", oauth_provider="google", oauth_client_id="c")

    assert microsoft.effective_oauth_token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert microsoft.effective_oauth_scope == "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
    assert google.effective_oauth_token_url == "https://oauth2.googleapis.com/token"
    assert google.effective_oauth_scope == ""
