"""Who takes part in support: users (all roles), organizations, customers (contacts), agents, teams."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Lower, Upper
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    TEAM_LEAD = "team_lead", _("Team lead")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")


STAFF_ROLES = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.MANAGER, Role.ADMIN})
# Roles that read every ticket, whatever their team membership.
ALL_TICKET_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


class User(AbstractUser):
    """Every person who signs in. Customers sign in with their email address as username."""

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, blank=True)
    email_verified_at = models.DateTimeField(_("email verified at"), null=True, blank=True)
    # Agents' email notifications (tickets.notifications); each kind can be switched off.
    notify_on_assignment = models.BooleanField(
        _("email me when a ticket is assigned to me"), default=True,
    )
    notify_on_customer_reply = models.BooleanField(
        _("email me when a customer replies on my tickets (or my team's unassigned tickets)"), default=True,
    )
    notify_on_sla = models.BooleanField(
        _("email me SLA warnings and breaches of tickets I am responsible for"), default=True,
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("email"), name="user_email_unique_ci", condition=~models.Q(email="")
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def is_staff_member(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def reads_all_tickets(self) -> bool:
        return self.role in ALL_TICKET_ROLES or self.is_superuser


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    domains = ArrayField(models.CharField(max_length=253), default=list, blank=True, verbose_name=_("domains"))
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """A contact who asks for help. May or may not have a portal login (user)."""

    class Tier(models.TextChoices):
        STANDARD = "standard", _("Standard")
        PREMIUM = "premium", _("Premium")
        ENTERPRISE = "enterprise", _("Enterprise")

    user = models.OneToOneField(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="customer", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    phone_numbers = ArrayField(
        models.CharField(max_length=20), default=list, blank=True, verbose_name=_("phone numbers (E.164)")
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customers",
        verbose_name=_("organization"),
    )
    # Designated contacts see every ticket of their organization in the portal.
    sees_organization_tickets = models.BooleanField(_("sees all organization tickets"), default=False)
    language = models.CharField(_("language"), max_length=10, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, blank=True)
    tier = models.CharField(_("tier"), max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    # What agents know about the person, shown on the customer page (never to the customer).
    notes = models.TextField(_("notes"), blank=True, db_default="")
    # Values of the CustomFieldDefinition rows that apply to customers (validated like tickets' fields).
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True, db_default={})
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_email_unique_ci", condition=~models.Q(email=""))
        ]
        # Numbers are GIN-indexed by channels_intake's phone migration (customer_phone_numbers_gin).
        indexes = [
            models.Index(fields=["organization"], name="customer_org_idx"),
            # The customer search (name__icontains / email__icontains compile to UPPER(…) LIKE).
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="customer_name_trgm"),
            GinIndex(OpClass(Upper("email"), name="gin_trgm_ops"), name="customer_email_trgm"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.email else self.name


class CustomerEmail(models.Model):
    """Further addresses of a customer, so mail from any of them threads to the same person."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="other_emails")
    email = models.EmailField(_("email"), max_length=254)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="customer_other_email_unique_ci")]

    def __str__(self) -> str:
        return self.email


class RoutingStrategy(models.TextChoices):
    MANUAL = "manual", _("Manual only")
    ROUND_ROBIN = "round_robin", _("Round-robin among online agents")
    LOAD_BALANCED = "load_balanced", _("Fewest open tickets (within capacity)")
    SKILL_BASED = "skill_based", _("Best skill match, then fewest open tickets")


class Team(models.Model):
    """A queue: the agents who work it and the addresses it owns."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    email_addresses = ArrayField(
        models.EmailField(max_length=254), default=list, blank=True, verbose_name=_("email addresses")
    )
    is_customer_selectable = models.BooleanField(_("customers may choose it on the web form"), default=True)
    members = models.ManyToManyField(User, through="TeamMembership", related_name="teams", verbose_name=_("members"))
    # How new tickets of the team find an agent (tickets.routing).
    routing_strategy = models.CharField(
        _("assignment routing"), max_length=16, choices=RoutingStrategy.choices, default=RoutingStrategy.MANUAL,
        db_default=RoutingStrategy.MANUAL,
    )
    # The agent who first replies owns the ticket and gets the customer's later messages, unless
    # they have been away or offline for longer than `ownership_away_minutes`.
    first_contact_ownership = models.BooleanField(_("first replier owns the ticket"), default=False,
                                                  db_default=False)
    ownership_away_minutes = models.PositiveIntegerField(_("owner away for longer than (minutes)"), default=60,
                                                         db_default=60)
    # The next escalation level (L1 → L2 → engineering): "Escalate" moves a ticket there.
    escalates_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="escalated_from",
        verbose_name=_("escalates to"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="team_memberships")
    is_lead = models.BooleanField(_("team lead"), default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class AgentProfile(models.Model):
    """What routing needs to know about an agent (skills, languages, capacity)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="agent_profile")
    skills = ArrayField(models.CharField(max_length=64), default=list, blank=True, verbose_name=_("skills"))
    languages = ArrayField(models.CharField(max_length=10), default=list, blank=True, verbose_name=_("languages"))
    capacity = models.PositiveIntegerField(_("capacity (open tickets)"), default=25)
    # Live chats routing offers an agent at once (channels_intake.chat); 0 takes no chats.
    chat_capacity = models.PositiveIntegerField(_("chat capacity (concurrent chats)"), default=3)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return str(self.user)
