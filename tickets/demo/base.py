"""The demo's people and configuration: logins, teams, organizations, customers, fields, views.

Everything here is found-or-created by a natural key (username, slug, email, key, name), so
running it again changes nothing. `catalog()` then describes it to the ticket generator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from tickets.demo import content
from tickets.demo.content import EN, ZH_HANS, ZH_HANT
from tickets.demo.sla import ensure_sla
from tickets.models import (
    AgentProfile,
    Customer,
    CustomFieldDefinition,
    Organization,
    Role,
    SavedView,
    Team,
    TeamMembership,
    User,
)

DEMO_PASSWORD = "demo"  # noqa: S105 - the documented demo password (PRODUCT.md), demo data only
DEMO_CUSTOMER_EMAIL = "customer@example.com"

# (slug, name, addresses)
TEAMS = (
    ("support", "Support", ["support@example.com"]),
    ("billing", "Billing", ["billing@example.com"]),
    ("tech", "技术支持", ["tech@example.com"]),
)


@dataclass(frozen=True)
class StaffSpec:
    username: str
    display_name: str
    first_name: str
    last_name: str
    role: str
    teams: tuple[str, ...] = ()
    leads: tuple[str, ...] = ()
    language: str = EN
    timezone: str = "UTC"
    languages: tuple[str, ...] = (EN,)
    skills: tuple[str, ...] = ()


STAFF = (
    StaffSpec("admin", "Avery Admin", "Avery", "Admin", Role.ADMIN, timezone="Europe/London"),
    StaffSpec("agent", "Alex Chen", "Alex", "Chen", Role.AGENT, teams=("support",), timezone="America/Los_Angeles",
              languages=(EN, ZH_HANS), skills=("login", "shipping")),
    StaffSpec("manager", "Morgan Hayes", "Morgan", "Hayes", Role.MANAGER, timezone="America/New_York"),
    StaffSpec("sarah.johnson", "Sarah Johnson", "Sarah", "Johnson", Role.TEAM_LEAD, teams=("support",),
              leads=("support",), timezone="Europe/London", skills=("account",)),
    StaffSpec("wang.fang", "王芳", "芳", "王", Role.AGENT, teams=("support", "tech"), language=ZH_HANS,
              timezone="Asia/Shanghai", languages=(ZH_HANS, EN), skills=("login", "bug")),
    StaffSpec("lin.yijun", "林怡君", "怡君", "林", Role.AGENT, teams=("support",), language=ZH_HANT,
              timezone="Asia/Taipei", languages=(ZH_HANT, ZH_HANS, EN), skills=("shipping",)),
    StaffSpec("emily.davis", "Emily Davis", "Emily", "Davis", Role.TEAM_LEAD, teams=("billing",), leads=("billing",),
              timezone="America/Chicago", skills=("billing", "refund")),
    StaffSpec("chen.zhiming", "陳志明", "志明", "陳", Role.AGENT, teams=("billing",), language=ZH_HANT,
              timezone="Asia/Taipei", languages=(ZH_HANT, EN), skills=("billing",)),
    StaffSpec("michael.brown", "Michael Brown", "Michael", "Brown", Role.AGENT, teams=("billing",),
              timezone="America/New_York", skills=("invoice",)),
    StaffSpec("liu.yang", "刘洋", "洋", "刘", Role.TEAM_LEAD, teams=("tech",), leads=("tech",), language=ZH_HANS,
              timezone="Asia/Shanghai", languages=(ZH_HANS, EN), skills=("api", "bug")),
    StaffSpec("james.wilson", "James Wilson", "James", "Wilson", Role.AGENT, teams=("tech",),
              timezone="Europe/Berlin", skills=("performance",)),
    StaffSpec("zhao.lei", "赵磊", "磊", "赵", Role.AGENT, teams=("tech", "support"), language=ZH_HANS,
              timezone="Asia/Shanghai", languages=(ZH_HANS,), skills=("bug", "api")),
)

CUSTOM_FIELDS: tuple[tuple[str, str, str, list[str], bool], ...] = (
    # key, label, type, choices, customer visible
    ("order_number", "Order number", CustomFieldDefinition.FieldType.TEXT, [], True),
    ("plan", "Plan", CustomFieldDefinition.FieldType.SELECT, list(content.PLANS), True),
    ("device", "Device", CustomFieldDefinition.FieldType.SELECT, list(content.DEVICES), False),
)


@dataclass(frozen=True)
class CustomerRef:
    id: int
    greeting_name: str  # how agents address them ("Mary", "王芳")
    language: str
    organization_id: int | None
    user_id: int | None


@dataclass
class Catalog:
    """What the ticket generator needs to know about the base data; picklable for worker processes."""

    now: float
    auto_close_days: int
    team_ids: dict[str, int]
    team_agents: dict[int, list[int]]
    team_leads: dict[int, int]
    agent_names: dict[int, str]
    customers: list[CustomerRef]
    demo_customer: CustomerRef
    custom_field_keys: frozenset[str]
    run_token: str = field(default="")


def _password() -> str:
    # One hash for every demo login: hashing is deliberately slow.
    return make_password(DEMO_PASSWORD)


def ensure_teams() -> dict[str, Team]:
    teams = {}
    for slug, name, addresses in TEAMS:
        team, _ = Team.objects.get_or_create(slug=slug, defaults={"name": name, "email_addresses": addresses})
        teams[slug] = team
    _ensure_demo_email_settings(teams["support"])
    return teams


def _ensure_demo_email_settings(support: Team) -> None:
    """Support acknowledges new mail and holds spam, so `make run` shows both (admin → Team email settings)."""
    from channels_intake.models import TeamEmailSettings

    TeamEmailSettings.objects.get_or_create(
        team=support,
        defaults={"acknowledgement_enabled": True, "spam_score_threshold": Decimal("5.0"), "blocked_senders": ["spam.example"]},
    )


def ensure_staff(teams: dict[str, Team], password_hash: str) -> dict[str, User]:
    users = {}
    for spec in STAFF:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "password": password_hash,
                "email": f"{spec.username}@example.com",
                "display_name": spec.display_name,
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "role": spec.role,
                "language": spec.language,
                "timezone": spec.timezone,
                "is_staff": spec.role == Role.ADMIN,
                "is_superuser": spec.role == Role.ADMIN,
                "email_verified_at": timezone.now(),
            },
        )
        users[spec.username] = user
        if created:
            AgentProfile.objects.get_or_create(
                user=user, defaults={"languages": list(spec.languages), "skills": list(spec.skills)}
            )
            for slug in spec.teams:
                TeamMembership.objects.get_or_create(
                    team=teams[slug], user=user, defaults={"is_lead": slug in spec.leads}
                )
    return users


def ensure_organizations() -> list[Organization]:
    organizations = []
    for name, domains, _tz, _language in content.ORGANIZATIONS:
        organization, _ = Organization.objects.get_or_create(name=name, defaults={"domains": domains})
        organizations.append(organization)
    return organizations


def ensure_custom_fields() -> None:
    for position, (key, label, field_type, choices, visible) in enumerate(CUSTOM_FIELDS):
        CustomFieldDefinition.objects.get_or_create(
            key=key,
            defaults={"label": label, "field_type": field_type, "choices": choices, "is_customer_visible": visible,
                      "position": position},
        )


def ensure_saved_views(teams: dict[str, Team], users: dict[str, User]) -> None:
    views = (
        # name, owner, team, filters, sort, position
        ("Urgent and high", None, teams["support"], {"priority": "urgent,high", "status": "unsolved"}, "-updated", 0),
        ("Waiting on the customer", users["agent"], None, {"assignee": "me", "status": "pending"}, "-updated", 1),
        ("Chat and phone", users["agent"], None, {"channel": "chat,phone", "status": "new,open"}, "-created", 2),
        ("Refunds", None, teams["billing"], {"tag": "refund", "status": "unsolved"}, "-updated", 0),
        ("Bugs by priority", None, teams["tech"], {"tag": "bug", "status": "unsolved"}, "-priority", 0),
        ("Email backlog", users["manager"], None, {"channel": "email", "status": "unsolved"}, "created", 0),
    )
    for name, owner, team, filters, sort, position in views:
        SavedView.objects.get_or_create(
            name=name, owner=owner, team=team, defaults={"filters": filters, "sort": sort, "position": position}
        )


def _pool_customer(index: int) -> dict:
    """The index-th generated customer: same index, same person, on every run."""
    rng = random.Random(index * 7919 + 17)
    language = rng.choices((EN, ZH_HANS, ZH_HANT), weights=(50, 35, 15))[0]
    if language == EN:
        first, last = rng.choice(content.ENGLISH_FIRST_NAMES), rng.choice(content.ENGLISH_LAST_NAMES)
        name, greeting, local = f"{first} {last}", first, f"{first}.{last}".lower()
    else:
        surnames, given = (
            (content.SIMPLIFIED_SURNAMES, content.SIMPLIFIED_GIVEN_NAMES)
            if language == ZH_HANS
            else (content.TRADITIONAL_SURNAMES, content.TRADITIONAL_GIVEN_NAMES)
        )
        (surname, surname_latin), (given_name, given_latin) = rng.choice(surnames), rng.choice(given)
        name = greeting = surname + given_name
        local = f"{given_latin}.{surname_latin}"
    organizations = [o for o in content.ORGANIZATIONS if o[3] == language]
    if rng.random() < 0.6:
        org_name, domains, tz, _ = rng.choice(organizations)
        domain = domains[0]
    else:
        org_name, domain, tz = None, rng.choice(content.PERSONAL_DOMAINS[language]), rng.choice(content.TIMEZONES[language])
    phones = []
    if rng.random() < 0.7:
        prefix, digits = rng.choice(content.PHONE_PATTERNS[language])
        phones.append(prefix + "".join(rng.choice("0123456789") for _ in range(digits)))
    tier = rng.choices(list(Customer.Tier.values), weights=(80, 15, 5))[0]
    return {
        "name": name, "greeting": greeting, "email": f"{local}.{index}@{domain}", "language": language,
        "timezone": tz, "phone_numbers": phones, "organization": org_name, "tier": tier,
    }


def customer_pool_size(tickets: int) -> int:
    return max(40, min(tickets // 5, 50_000))


def ensure_customers(size: int, organizations: list[Organization]) -> None:
    by_name = {o.name: o for o in organizations}
    batch: list[Customer] = []
    for index in range(size):
        person = _pool_customer(index)
        organization = by_name.get(person["organization"])
        batch.append(Customer(
            name=person["name"], email=person["email"], phone_numbers=person["phone_numbers"],
            organization=organization, language=person["language"], timezone=person["timezone"], tier=person["tier"],
            sees_organization_tickets=organization is not None and index % 25 == 0,
        ))
        if len(batch) >= 5000:
            Customer.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        Customer.objects.bulk_create(batch, ignore_conflicts=True)


def ensure_demo_customer(password_hash: str) -> Customer:
    user, _ = User.objects.get_or_create(
        username=DEMO_CUSTOMER_EMAIL,
        defaults={"password": password_hash, "email": DEMO_CUSTOMER_EMAIL, "role": Role.CUSTOMER,
                  "first_name": "Jordan", "last_name": "Lee", "language": EN, "timezone": "America/Los_Angeles",
                  "email_verified_at": timezone.now()},
    )
    customer = Customer.objects.filter(email__iexact=DEMO_CUSTOMER_EMAIL).first()
    if customer is None:
        customer = Customer.objects.create(
            user=user, name="Jordan Lee", email=DEMO_CUSTOMER_EMAIL, phone_numbers=["+14155550123"],
            language=EN, timezone="America/Los_Angeles",
        )
    elif customer.user_id is None:
        customer.user = user
        customer.save(update_fields=["user"])
    return customer


def ensure_base_data(*, tickets: int) -> None:
    """Create (or find) the demo's people and configuration; safe to run any number of times."""
    password_hash = _password()
    with transaction.atomic():
        teams = ensure_teams()
        users = ensure_staff(teams, password_hash)
        organizations = ensure_organizations()
        ensure_custom_fields()
        ensure_saved_views(teams, users)
        ensure_sla(users)
        ensure_demo_customer(password_hash)
        ensure_customers(customer_pool_size(tickets), organizations)


def catalog(*, tickets: int, now: float | None = None) -> Catalog:
    """Describe the base data (after ensure_base_data) for the ticket generator."""
    teams = {t.slug: t for t in Team.objects.filter(slug__in=[slug for slug, _, _ in TEAMS])}
    staff = {u.username: u for u in User.objects.filter(username__in=[s.username for s in STAFF])}
    team_agents: dict[int, list[int]] = {team.pk: [] for team in teams.values()}
    team_leads: dict[int, int] = {}
    for spec in STAFF:
        for slug in spec.teams:
            team_agents[teams[slug].pk].append(staff[spec.username].pk)
        for slug in spec.leads:
            team_leads[teams[slug].pk] = staff[spec.username].pk
    size = customer_pool_size(tickets)
    people = {}
    for index in range(size):
        person = _pool_customer(index)
        people[person["email"]] = (index, person["greeting"])
    rows = Customer.objects.annotate(lower_email=Lower("email")).filter(lower_email__in=list(people)).values_list(
        "id", "email", "language", "organization_id", "user_id"
    )
    customers = []
    for pk, email, language, organization_id, user_id in rows:
        index, greeting = people[email.lower()]
        customers.append((index, CustomerRef(pk, greeting, language or EN, organization_id, user_id)))
    customers.sort(key=lambda pair: pair[0])
    demo = Customer.objects.get(email__iexact=DEMO_CUSTOMER_EMAIL)
    now_value = now if now is not None else timezone.now().timestamp()
    return Catalog(
        now=now_value,
        auto_close_days=settings.HELPDESK_AUTO_CLOSE_DAYS,
        team_ids={slug: team.pk for slug, team in teams.items()},
        team_agents=team_agents,
        team_leads=team_leads,
        agent_names={u.pk: u.name for u in staff.values()},
        customers=[ref for _, ref in customers],
        demo_customer=CustomerRef(demo.pk, "Jordan", EN, demo.organization_id, demo.user_id),
        custom_field_keys=frozenset(CustomFieldDefinition.objects.values_list("key", flat=True)),
        run_token=f"{int(now_value):x}",
    )
