"""Finding and creating customers (contacts)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from tickets.models import Customer, CustomerEmail, Organization


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


# One round trip: the primary address first, else another address of the customer. Each
# lower(email) = … matches a unique functional index (email__iexact compiles to UPPER() and would
# scan every customer; the primary one is partial on email <> ''). PostgreSQL runs the two scalar
# subqueries once (the second only when the first finds no one), then fetches the customer by key.
# Written as SQL because the same query built with the ORM (Coalesce of two Subquery) costs about
# 5 ms of Python to compile, and the email intake looks a sender up twice per mail.
_CUSTOMER_BY_EMAIL_SQL = """
SELECT * FROM {customer}
 WHERE id = COALESCE((SELECT id FROM {customer} WHERE lower(email) = %s AND email <> '' LIMIT 1),
                     (SELECT customer_id FROM {other} WHERE lower(email) = %s LIMIT 1))
"""


def customer_by_email(email: str) -> Customer | None:
    email = normalize_email(email)
    if not email:
        return None
    sql = _CUSTOMER_BY_EMAIL_SQL.format(customer=Customer._meta.db_table, other=CustomerEmail._meta.db_table)
    return next(iter(Customer.objects.raw(sql, [email, email])), None)


def customer_find_or_create(*, email: str, name: str = "", language: str = "") -> Customer:
    """The customer with this address (primary or other), created if new; the organization from the domain."""
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"requester_email": _("Enter a valid email address.")}) from None
    existing = customer_by_email(email)
    if existing is not None:
        return existing
    domain = email.rsplit("@", 1)[-1]
    organization = Organization.objects.filter(domains__contains=[domain]).first()
    try:
        with transaction.atomic():
            return Customer.objects.create(
                email=email,
                name=(name or "").strip()[:200] or email.split("@")[0],
                organization=organization,
                language=language,
            )
    except IntegrityError:
        # Created concurrently by another delivery (looked up by the lower() index, not a scan).
        concurrent = customer_by_email(email)
        if concurrent is None:
            raise
        return concurrent


def customer_create(
    *, name: str, email: str = "", phone_numbers: list[str] | None = None, organization: Organization | None = None,
    sees_organization_tickets: bool = False, language: str = "", timezone: str = "",
    tier: str = Customer.Tier.STANDARD,
) -> Customer:
    """A new contact; refuses an address another customer already has (primary or other)."""
    email = normalize_email(email)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": _("Enter a valid email address.")}) from None
        if customer_by_email(email) is not None:
            raise ValidationError({"email": _("A customer with this email address already exists.")})
    if organization is None and email:
        organization = Organization.objects.filter(domains__contains=[email.rsplit("@", 1)[-1]]).first()
    try:
        with transaction.atomic():
            return Customer.objects.create(
                name=name.strip()[:200] or email.split("@")[0], email=email, phone_numbers=list(phone_numbers or []),
                organization=organization, sees_organization_tickets=sees_organization_tickets,
                language=language, timezone=timezone, tier=tier,
            )
    except IntegrityError:
        raise ValidationError({"email": _("A customer with this email address already exists.")}) from None
