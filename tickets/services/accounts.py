"""Accounts: sign-in throttling, customer sign-up, email verification, personal preferences.

Sign-in throttling counts attempts in Redis with one atomic script per attempt, keyed on the
normalised username and on the client address (REMOTE_ADDR, which TrustedProxyMiddleware has
already corrected for configured proxies). An attempt is counted *before* the password is checked,
so a burst of parallel guesses cannot slip past the limit; a successful sign-in gives its
attempt back.

A customer login is linked to a Customer (and so to that address's ticket history) only once the
address is proven: by the emailed verification link or by a completed password reset.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import logging
import smtplib
import unicodedata
import zoneinfo
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from tickets.models import Customer, Role, User
from tickets.services.customers import customer_by_email, customer_find_or_create, normalize_email

logger = logging.getLogger(__name__)

EMAIL_VERIFICATION_SALT = "helpdesk.accounts.email-verification"

# INCR each key; a key without an expiry (just created) gets the window. One script, so atomic.
_COUNT_ATTEMPT = """
local counts = {}
for index, key in ipairs(KEYS) do
  counts[index] = redis.call('INCR', key)
  if redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, ARGV[1])
  end
end
return counts
"""
# Give back one attempt without ever creating a key (a missing key has nothing to give back).
_RELEASE_ATTEMPT = """
if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


# --- sign-in throttling -------------------------------------------------------------------------


@cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _redis() -> redis.Redis:
    return _redis_client(settings.REDIS_URL)


def language_codes() -> frozenset[str]:
    return frozenset(code for code, _name in settings.LANGUAGES)


def normalize_login(username: str) -> str:
    """The form of a typed username or email that the throttle counts: `Bob@X.com ` is `bob@x.com`."""
    return unicodedata.normalize("NFKC", username or "").strip().casefold()


def _address_bucket(ip: str) -> str:
    """IPv4 addresses count alone; IPv6 by /64, since one host usually holds a whole /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip or "unknown"
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _throttle_key(kind: str, value: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    digest = hashlib.sha256(value.encode()).hexdigest()[:40]
    return f"{prefix}:login-attempts:{kind}:{digest}"


@dataclass(frozen=True)
class LoginAttempt:
    """One counted sign-in attempt. `allowed` is False once the username or the address is locked out."""

    username_key: str
    address_key: str
    allowed: bool


def login_attempt_begin(*, username: str, ip: str) -> LoginAttempt:
    """Count an attempt for (username, address) atomically and say whether it may go ahead.

    Allowed while neither count exceeds HELPDESK_LOGIN_MAX_FAILURES within
    HELPDESK_LOGIN_LOCKOUT_SECONDS (a fixed window from the first failure).
    """
    username_key = _throttle_key("user", normalize_login(username))
    address_key = _throttle_key("ip", _address_bucket(ip))
    window = max(1, int(settings.HELPDESK_LOGIN_LOCKOUT_SECONDS))
    limit = int(settings.HELPDESK_LOGIN_MAX_FAILURES)
    counts = _redis().eval(_COUNT_ATTEMPT, 2, username_key, address_key, window)
    allowed = all(int(count) <= limit for count in counts)
    return LoginAttempt(username_key=username_key, address_key=address_key, allowed=allowed)


def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """The password was right: that username starts afresh, and the address gets its attempt back.

    The address's earlier failures stay counted, so signing in to one's own account between
    guesses at others does not reset the address's lockout.
    """
    client = _redis()
    client.delete(attempt.username_key)
    client.eval(_RELEASE_ATTEMPT, 1, attempt.address_key)


def login_failures(*, username: str = "", ip: str = "") -> dict[str, int]:
    """Current counts (for tests and support tooling)."""
    client = _redis()
    result = {}
    if username:
        result["username"] = int(client.get(_throttle_key("user", normalize_login(username))) or 0)
    if ip:
        result["address"] = int(client.get(_throttle_key("ip", _address_bucket(ip))) or 0)
    return result


def login_failures_clear(*, username: str = "", ip: str = "") -> None:
    """Lift a lockout (support tooling, tests)."""
    keys = []
    if username:
        keys.append(_throttle_key("user", normalize_login(username)))
    if ip:
        keys.append(_throttle_key("ip", _address_bucket(ip)))
    if keys:
        _redis().delete(*keys)


def action_allowed(*, action: str, ip: str, limit: int, window_seconds: int) -> bool:
    """Count one use of an email-sending action (sign-up, resend, password reset) from an address.

    False once the address used it more than `limit` times within the window, so the forms
    cannot be used to flood someone's inbox.
    """
    key = _throttle_key(f"action-{action}", _address_bucket(ip))
    (count,) = _redis().eval(_COUNT_ATTEMPT, 1, key, max(1, int(window_seconds)))
    return int(count) <= limit


# --- emails ---------------------------------------------------------------------------------------


def _site_url() -> str:
    return str(settings.HELPDESK_SITE_URL).rstrip("/")


class AccountEmail(enum.StrEnum):
    """The account mails, each rendered from `accounts/email/<value>_subject.txt` and `_body.txt`."""

    VERIFY_EMAIL = "verify_email"
    ACCOUNT_EXISTS = "account_exists"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a template name, not a secret


class AccountEmailOutcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"  # the server refused it for good; the person can ask again
    NOTHING_TO_DO = "nothing"  # the account is gone or disabled


def account_email_queue(*, kind: AccountEmail, user: User, language: str = "", to: str = "") -> None:
    """Queue an account mail to `user` (or to `to`) once the current transaction commits.

    Sent by `tickets.tasks.send_account_email`, never inside the request; its links are made there.
    """
    from tickets.tasks import send_account_email

    user_id, kind_value = user.pk, AccountEmail(kind).value
    # robust: a broker outage must not fail the person's request; they can ask for the mail again.
    transaction.on_commit(lambda: send_account_email.delay(kind_value, user_id, language, to), robust=True)


def _account_email_context(kind: AccountEmail, user: User) -> dict:
    if kind == AccountEmail.VERIFY_EMAIL:
        link = _site_url() + reverse("accounts:verify_email", args=[email_verification_token(user)])
        return {"user": user, "link": link, "valid_days": max(1, email_verification_max_age() // 86400)}
    if kind == AccountEmail.ACCOUNT_EXISTS:
        return {"user": user, "reset_link": _site_url() + reverse("accounts:password_reset"),
                "login_link": _site_url() + reverse("login")}
    # What Django's PasswordResetForm gives its templates, plus our site URL.
    site = urlsplit(_site_url())
    return {
        "user": user, "email": user.email, "domain": site.netloc, "site_name": site.netloc,
        "protocol": site.scheme or "http", "site_url": _site_url(),
        "uid": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user),
    }


def account_email_send(*, kind: str, user_id: int, language: str = "", to: str = "") -> AccountEmailOutcome:
    """Render and send one account mail now (called by the task), in `language` or the user's own.

    Raises TemporaryDeliveryError when the mail server may take it later (the task retries).
    """
    from channels_intake.email.outbound import TemporaryDeliveryError, is_permanent_refusal

    kind = AccountEmail(kind)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return AccountEmailOutcome.NOTHING_TO_DO
    to = to or user.email
    if not to:
        return AccountEmailOutcome.NOTHING_TO_DO
    context = _account_email_context(kind, user)
    with translation.override(language or user.language or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string(f"accounts/email/{kind}_subject.txt", context).split())
        body = render_to_string(f"accounts/email/{kind}_body.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)
    except (smtplib.SMTPException, OSError) as error:
        if not is_permanent_refusal(error):
            raise TemporaryDeliveryError(f"{type(error).__name__}: {error}") from error
        logger.warning("account email refused for good", extra={"template": kind.value, "user_id": user_id})
        return AccountEmailOutcome.FAILED
    return AccountEmailOutcome.SENT


def email_verification_token(user: User) -> str:
    """A signed, timestamped token naming the user and the address being verified."""
    return signing.dumps({"u": user.pk, "e": normalize_email(user.email)}, salt=EMAIL_VERIFICATION_SALT)


def email_verification_max_age() -> int:
    return int(getattr(settings, "HELPDESK_EMAIL_VERIFICATION_MAX_AGE", 3 * 24 * 3600))


def email_verification_send(*, user: User) -> None:
    """Email the user a link that proves they own their address (queued on commit)."""
    account_email_queue(kind=AccountEmail.VERIFY_EMAIL, user=user, language=user.language)


def password_reset_email_send(*, user: User, language: str) -> None:
    """Email the user a link to choose a new password (queued on commit), in the language they asked in."""
    account_email_queue(kind=AccountEmail.PASSWORD_RESET, user=user, language=language)


# --- sign-up and verification ---------------------------------------------------------------------


def customer_signup(*, name: str, email: str, password: str, language: str = "") -> User | None:
    """Create an unverified customer login and email it a verification link.

    If the address already belongs to an account, nothing is created and the owner is told by
    email instead (with a way to reset the password), so the sign-up page never reveals which
    addresses have accounts. Returns the new user, or None when nothing was created.
    The password must already have passed Django's validators.
    """
    email = normalize_email(email)
    language = language if language in language_codes() else ""
    existing = User.objects.filter(email__iexact=email).first() or User.objects.filter(username__iexact=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User(
                    username=email, email=email, role=Role.CUSTOMER, display_name=" ".join(name.split())[:150],
                    language=language,
                )
                user.set_password(password)
                user.save()
                email_verification_send(user=user)
            return user
        except IntegrityError:
            # The same address signed up concurrently; treat it like an existing account.
            existing = User.objects.filter(email__iexact=email).first()
            if existing is None:
                raise
    account_email_queue(kind=AccountEmail.ACCOUNT_EXISTS, user=existing, language=existing.language or language, to=email)
    return None


def user_email_confirm(*, user: User) -> Customer | None:
    """Record that `user` owns their address; a customer login is then linked to its Customer.

    The Customer with that address (created earlier by an email ticket, say) is linked if it has no
    login yet; otherwise a new one is created. Returns the linked Customer (None for staff, or when
    the address's Customer already belongs to another login, which support must sort out).
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.email_verified_at is None:
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
        if user.role != Role.CUSTOMER:
            return None
        linked = Customer.objects.filter(user=user).first()
        if linked is not None:
            return linked
        customer = customer_by_email(user.email) or customer_find_or_create(
            email=user.email, name=user.name if user.name != user.username else "", language=user.language
        )
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.user_id is None:
            customer.user = user
            customer.save(update_fields=["user"])
            return customer
        if customer.user_id == user.pk:
            return customer
        logger.warning("verified address belongs to a customer with another login",
                       extra={"user_id": user.pk, "customer_id": customer.pk})
        return None


def customer_email_verify(*, token: str) -> User:
    """Check a verification token and confirm the address it names. Raises ValidationError if bad or expired."""
    try:
        data = signing.loads(token, salt=EMAIL_VERIFICATION_SALT, max_age=email_verification_max_age())
    except signing.SignatureExpired:
        raise ValidationError(_("This link has expired. Sign in and ask for a new one."), code="expired") from None
    except signing.BadSignature:
        raise ValidationError(_("This link is not valid."), code="invalid") from None
    if not isinstance(data, dict):
        raise ValidationError(_("This link is not valid."), code="invalid")
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    # A link sent to an earlier address of the account proves nothing about the current one.
    if user is None or normalize_email(user.email) != data.get("e"):
        raise ValidationError(_("This link is not valid."), code="invalid")
    user_email_confirm(user=user)
    return user


# --- preferences ----------------------------------------------------------------------------------


@cache
def time_zone_names() -> tuple[str, ...]:
    """The IANA zones people may choose (scanning for them is slow, and they only change on upgrade)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def user_preferences_update(
    *, user: User, display_name: str, language: str, timezone_name: str,
    notify_on_assignment: bool | None = None, notify_on_customer_reply: bool | None = None,
    notify_on_sla: bool | None = None,
) -> User:
    """Save the name, language and time zone a person sees the product in, and (staff) which
    notification mails they get; a notification choice left None stays as it is."""
    errors = {}
    if language and language not in language_codes():
        errors["language"] = _("Choose one of the offered languages.")
    if timezone_name and timezone_name not in time_zone_names():
        errors["timezone"] = _("Choose a time zone from the list.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        user.display_name = " ".join(display_name.split())[:150]
        user.language = language
        user.timezone = timezone_name
        fields = ["display_name", "language", "timezone"]
        if user.is_staff_member:
            for field, value in (("notify_on_assignment", notify_on_assignment),
                                 ("notify_on_customer_reply", notify_on_customer_reply),
                                 ("notify_on_sla", notify_on_sla)):
                if value is not None:
                    setattr(user, field, bool(value))
                    fields.append(field)
        user.save(update_fields=fields)
        Customer.objects.filter(user=user).update(language=language, timezone=timezone_name)
    return user
