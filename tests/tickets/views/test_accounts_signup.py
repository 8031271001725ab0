"""Customer sign-up, email verification, password reset: nobody can claim someone else's history."""

from __future__ import annotations

import itertools
import re

import pytest
from django.core import mail, signing

from tests.factories import PASSWORD, make_customer, make_ticket
from tickets.models import Customer, Role, User
from tickets.services import accounts
from tickets.services.customers import customer_find_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mail_tasks_run_in_process(celery_eager):
    """Account mails are sent by a Celery task queued on commit; here it runs where it is queued."""

_addresses = itertools.count(1)
STRONG_PASSWORD = "plum-orbit-ladder-52"


def fresh_ip() -> str:
    n = next(_addresses)
    return f"198.18.{n // 250}.{n % 250 + 1}"


def sign_up(client, email="dora@example.com", name="Dora", password=STRONG_PASSWORD, confirm=None, ip=None):
    return client.post("/accounts/signup/", {
        "name": name, "email": email, "password": password, "password_confirm": confirm or password,
    }, REMOTE_ADDR=ip or fresh_ip())


def link_in(message) -> str:
    return re.search(r"http://\S+", message.body).group(0)


def path_of(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def test_sign_up_creates_an_unverified_customer_login_and_emails_a_link(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = sign_up(client)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/signup/sent/"
    user = User.objects.get(email="dora@example.com")
    assert (user.username, user.role, user.display_name, user.email_verified_at) == (
        "dora@example.com", Role.CUSTOMER, "Dora", None)
    assert user.check_password(STRONG_PASSWORD)
    assert not Customer.objects.filter(user=user).exists()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dora@example.com"]
    assert mail.outbox[0].subject == "Confirm your email address"
    assert "/accounts/verify/" in link_in(mail.outbox[0])
    page = client.get(response["Location"]).content.decode()
    assert "We sent a message to <strong>dora@example.com</strong>" in page


def test_weak_or_mismatched_password_is_refused(client):
    weak = sign_up(client, password="password")
    mismatched = sign_up(client, password=STRONG_PASSWORD, confirm=STRONG_PASSWORD + "x")

    assert weak.status_code == 200
    assert "This password is too common." in weak.content.decode()
    assert "The passwords do not match." in mismatched.content.decode()
    assert not User.objects.filter(email="dora@example.com").exists()
    assert mail.outbox == []


def test_sign_up_with_a_taken_address_reveals_nothing_and_tells_the_owner(client, django_capture_on_commit_callbacks):
    owner = make_customer(email="dora@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = sign_up(client, email="Dora@Example.com", name="Impostor")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/signup/sent/"
    assert User.objects.filter(email__iexact="dora@example.com").count() == 1
    owner.user.refresh_from_db()
    assert owner.user.check_password(PASSWORD)
    assert [m.subject for m in mail.outbox] == ["You already have an account"]
    assert "/accounts/password/reset/" in mail.outbox[0].body


def test_verification_link_confirms_and_creates_the_customer(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client)

    response = client.get(path_of(link_in(mail.outbox[0])))

    assert response.status_code == 200
    assert "Email confirmed" in response.content.decode()
    user = User.objects.get(email="dora@example.com")
    assert user.email_verified_at is not None
    customer = Customer.objects.get(user=user)
    assert (customer.email, customer.name) == ("dora@example.com", "Dora")


def test_unverified_sign_up_cannot_see_earlier_tickets_of_that_address(client, django_capture_on_commit_callbacks):
    earlier = customer_find_or_create(email="dora@example.com", name="Dora from email")
    ticket = make_ticket(requester=earlier, subject="My salary details")
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client)
    user = User.objects.get(email="dora@example.com")
    client.force_login(user)

    home = client.get("/portal/")
    detail = client.get(f"/portal/requests/{ticket.number}/")
    live = client.get(f"/portal/requests/{ticket.number}/live/")

    assert home.status_code == 200
    assert "Confirm your email address" in home.content.decode()
    assert "My salary details" not in home.content.decode()
    assert detail.status_code == 404
    assert live.status_code == 404
    earlier.refresh_from_db()
    assert earlier.user_id is None


def test_after_verification_the_earlier_customer_and_tickets_are_linked(client, django_capture_on_commit_callbacks):
    earlier = customer_find_or_create(email="dora@example.com", name="Dora from email")
    ticket = make_ticket(requester=earlier, subject="Invoice question")
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client)
    user = User.objects.get(email="dora@example.com")
    client.force_login(user)

    response = client.get(path_of(link_in(mail.outbox[0])))

    assert response.status_code == 302
    assert response["Location"] == "/"
    earlier.refresh_from_db()
    assert earlier.user_id == user.pk
    assert Customer.objects.filter(email__iexact="dora@example.com").count() == 1
    assert "Invoice question" in client.get("/portal/").content.decode()
    assert client.get(f"/portal/requests/{ticket.number}/").status_code == 200


def tampered(token: str) -> list[str]:
    value, timestamp, signature = token.rsplit(":", 2)
    other_user = signing.dumps({"u": 999999, "e": "dora@example.com"}, salt="some.other.salt")
    return [
        f"{value}:{timestamp}:{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        f"{value}x:{timestamp}:{signature}",
        other_user,
        "not-a-token",
    ]


def test_tampered_verification_tokens_are_refused(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client)
    user = User.objects.get(email="dora@example.com")
    token = accounts.email_verification_token(user)

    for bad in tampered(token):
        response = client.get(f"/accounts/verify/{bad}/")
        assert response.status_code == 400, bad
        assert "This link is not valid." in response.content.decode()

    user.refresh_from_db()
    assert user.email_verified_at is None
    assert not Customer.objects.filter(user=user).exists()


def test_expired_verification_token_is_refused(client, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client)
    settings.HELPDESK_EMAIL_VERIFICATION_MAX_AGE = -1

    response = client.get(path_of(link_in(mail.outbox[0])))

    assert response.status_code == 400
    assert "This link has expired." in response.content.decode()
    assert User.objects.get(email="dora@example.com").email_verified_at is None


def test_token_for_an_earlier_address_does_not_verify_the_new_one(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client)
    user = User.objects.get(email="dora@example.com")
    old_link = path_of(link_in(mail.outbox[0]))
    user.email = "someone.else@example.com"
    user.save()

    assert client.get(old_link).status_code == 400
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_verification_token_of_another_purpose_is_refused(client):
    user = User.objects.create_user(username="dora@example.com", email="dora@example.com", role=Role.CUSTOMER)
    # Right payload, signed for something else (another salt): must not verify.
    token = signing.dumps({"u": user.pk, "e": "dora@example.com"}, salt="helpdesk.something-else")

    assert client.get(f"/accounts/verify/{token}/").status_code == 400


def test_verified_address_already_owned_by_another_login_links_nothing(django_capture_on_commit_callbacks):
    owner = make_customer(email="dora@example.com")
    owner.user.email = "dora.new@example.com"
    owner.user.save()
    newcomer = User.objects.create_user(username="dora-newcomer", email="dora@example.com", role=Role.CUSTOMER)

    assert accounts.user_email_confirm(user=newcomer) is None
    owner.refresh_from_db()
    assert owner.user_id != newcomer.pk


def test_resend_verification_link(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client)
    client.force_login(User.objects.get(email="dora@example.com"))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/verify/resend/", REMOTE_ADDR=fresh_ip())

    assert response.status_code == 302
    assert len(mail.outbox) == 2
    assert client.get(path_of(link_in(mail.outbox[1]))).status_code == 302


def test_sign_up_is_rate_limited_per_address(client, settings, django_capture_on_commit_callbacks):
    settings.HELPDESK_EMAIL_ACTIONS_PER_HOUR = 2
    ip = fresh_ip()

    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            response = sign_up(client, email=f"victim{n}@example.com", ip=ip)

    assert response.status_code == 200
    assert "Too many requests from your network." in response.content.decode()
    assert not User.objects.filter(email="victim2@example.com").exists()
    assert len(mail.outbox) == 2


def test_signed_in_people_do_not_see_the_sign_up_form(client):
    client.force_login(make_customer().user)

    assert client.get("/accounts/signup/")["Location"] == "/"


def test_password_reset_sets_a_new_password_and_proves_the_address(client, django_capture_on_commit_callbacks):
    earlier = customer_find_or_create(email="dora@example.com", name="Dora from email")
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password/reset/", {"email": "dora@example.com"}, REMOTE_ADDR=fresh_ip())
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert [m.subject for m in mail.outbox] == ["Choose a new password"]
    form_page = client.get(path_of(link_in(mail.outbox[0])), follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(form_page.redirect_chain[-1][0], {
        "new_password1": "granite-violin-88", "new_password2": "granite-violin-88"})

    assert done["Location"] == "/accounts/password/reset/done/"
    user = User.objects.get(email="dora@example.com")
    assert user.check_password("granite-violin-88")
    assert user.email_verified_at is not None
    earlier.refresh_from_db()
    assert earlier.user_id == user.pk


def test_password_reset_for_unknown_address_looks_the_same_and_sends_nothing(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, REMOTE_ADDR=fresh_ip())

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []


def test_password_reset_link_is_single_use(client, django_capture_on_commit_callbacks):
    make_customer(email="dora@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password/reset/", {"email": "dora@example.com"}, REMOTE_ADDR=fresh_ip())
    link = path_of(link_in(mail.outbox[0]))
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(form_url, {"new_password1": "granite-violin-88", "new_password2": "granite-violin-88"})

    again = client.get(link, follow=True)

    assert "This link is not valid" in again.content.decode()


def test_verified_login_without_a_customer_is_told_to_contact_us(client):
    owner = make_customer(email="dora@example.com")
    owner.user.email = "dora.new@example.com"
    owner.user.save()
    newcomer = User.objects.create_user(username="dora-newcomer", email="dora@example.com", role=Role.CUSTOMER)
    accounts.user_email_confirm(user=newcomer)
    client.force_login(newcomer)

    body = client.get("/portal/").content.decode()

    assert "we could not connect your account to your requests yet" in body
    assert "Send the link again" not in body


def test_account_mails_leave_from_a_task_after_the_request_not_inside_it(client, django_capture_on_commit_callbacks):
    make_customer(email="erin@example.com")

    with django_capture_on_commit_callbacks(execute=False) as queued:
        sign_up(client, email="dora@example.com")
        client.post("/accounts/password/reset/", {"email": "erin@example.com"}, REMOTE_ADDR=fresh_ip())
    assert mail.outbox == []  # nothing sent while the requests ran

    for callback in queued:
        callback()

    assert sorted(m.subject for m in mail.outbox) == ["Choose a new password", "Confirm your email address"]
    reset = next(m for m in mail.outbox if m.to == ["erin@example.com"])
    assert "/accounts/password/reset/" in link_in(reset)


def test_password_reset_mail_is_in_the_language_it_was_asked_in(client, django_capture_on_commit_callbacks):
    make_customer(email="erin@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password/reset/", {"email": "erin@example.com"}, REMOTE_ADDR=fresh_ip(),
                    HTTP_ACCEPT_LANGUAGE="zh-hans")

    [message] = mail.outbox
    assert message.body.startswith("erin@example.com，您好：")
    assert "我们收到了为您的账户设置新密码的请求" in message.body
    assert message.subject != "Choose a new password"
