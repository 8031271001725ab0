"""Shapes of the REST API v1: what comes in (validated) and what goes out.

Output serializers declare their fields for the OpenAPI schema but render with a hand-written
`to_representation`, because a list of 50 tickets through generic field machinery costs more
than the database query behind it. `tests/tickets/api/test_schema.py` checks both stay in step.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets import selectors
from tickets.models import (
    STAFF_ROLES,
    Attachment,
    AuthorKind,
    Channel,
    Customer,
    CustomFieldDefinition,
    Message,
    Organization,
    Priority,
    Status,
    Team,
    Ticket,
    TicketType,
    User,
    Visibility,
)
from tickets.services.customers import normalize_email

# ---------------------------------------------------------------------------------------------
# Rendering helpers


def iso(value: datetime.datetime | None) -> str | None:
    """UTC, ISO 8601 with a Z, whatever time zone the request activated."""
    if value is None:
        return None
    if value.tzinfo is not datetime.UTC:  # values read from PostgreSQL already are UTC: skip the conversion
        value = value.astimezone(datetime.UTC)
    return value.isoformat()[:-6] + "Z"


def team_ref(team: Team | None) -> dict[str, Any] | None:
    return None if team is None else {"id": team.pk, "name": team.name, "slug": team.slug}


def user_ref(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": user.pk, "name": user.name}


def organization_ref(organization: Organization | None) -> dict[str, Any] | None:
    return None if organization is None else {"id": organization.pk, "name": organization.name}


# ---------------------------------------------------------------------------------------------
# Errors (documentation only: helpdesk.api_errors writes them)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("A stable machine-readable code, e.g. invalid, not_found, throttled."))
    message = serializers.CharField(help_text=_("A human-readable explanation."))
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text=_("For invalid input: the messages per field."),
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# ---------------------------------------------------------------------------------------------
# Small references embedded in other objects


class TeamRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    slug = serializers.CharField(read_only=True)


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class OrganizationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class RequesterSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)


class SlaTargetSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=["first_response", "next_response", "resolution"], read_only=True)
    policy = serializers.CharField(read_only=True, allow_null=True, help_text=_("The SLA policy's name."))
    target_minutes = serializers.IntegerField(read_only=True)
    due_at = serializers.DateTimeField(
        read_only=True, help_text=_("When the target is due (UTC). While paused, the due time as of the pause."),
    )
    paused = serializers.BooleanField(read_only=True, help_text=_("The clock stands still (pending, on hold)."))
    met_at = serializers.DateTimeField(read_only=True, allow_null=True)
    breached_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text=_("The instant the target was missed; null while not missed."),
    )


def sla_data(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SLA targets (selectors.sla_targets_from_json) with their instants as UTC ISO 8601."""
    return [
        {**target, "due_at": iso(target["due_at"]), "met_at": iso(target["met_at"]),
         "breached_at": iso(target["breached_at"])}
        for target in targets
    ]


# ---------------------------------------------------------------------------------------------
# Tickets


class TicketSerializer(serializers.Serializer):
    """A ticket as the caller may see it. Context: `custom_field_keys` (None = all) and `link` ({number}).

    Lists render rows of plain values with `ticket_row_data` instead, to the same JSON.
    """

    id = serializers.IntegerField(read_only=True)
    number = serializers.IntegerField(read_only=True, help_text=_("The human ticket number used in URLs."))
    subject = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=Status.choices, read_only=True)
    priority = serializers.ChoiceField(choices=Priority.choices, read_only=True)
    type = serializers.ChoiceField(choices=TicketType.choices, read_only=True)
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True)
    requester = RequesterSerializer(read_only=True)
    organization = OrganizationRefSerializer(read_only=True, allow_null=True)
    team = TeamRefSerializer(read_only=True, allow_null=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    custom_fields = serializers.DictField(
        read_only=True, help_text=_("Values by field key; customers only get customer-visible fields.")
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    first_responded_at = serializers.DateTimeField(read_only=True, allow_null=True)
    solved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    reopen_count = serializers.IntegerField(read_only=True)
    message_count = serializers.IntegerField(read_only=True)
    url = serializers.URLField(read_only=True, help_text=_("The ticket's page in the agent workspace or the portal."))
    sla = SlaTargetSerializer(
        many=True, read_only=True,
        help_text=_("The ticket's current SLA targets (first response, next response, resolution), each with its "
                    "policy, target, due time and whether it was met or missed. Staff only: empty for customers."),
    )

    def to_representation(self, ticket: Ticket) -> dict[str, Any]:
        keys = self.context.get("custom_field_keys")
        custom_fields = ticket.custom_fields or {}
        if keys is not None:
            custom_fields = {k: v for k, v in custom_fields.items() if k in keys}
        requester = ticket.requester
        link = self.context.get("link") or ""
        # Staff only (custom_field_keys None): customers do not see policy names and targets.
        sla = sla_data(selectors.ticket_sla_targets(ticket=ticket)) if keys is None else []
        return {
            "id": ticket.pk,
            "number": ticket.number,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
            "type": ticket.type,
            "channel": ticket.channel,
            "requester": {"id": requester.pk, "name": requester.name, "email": requester.email},
            "organization": organization_ref(ticket.organization) if ticket.organization_id else None,
            "team": team_ref(ticket.team) if ticket.team_id else None,
            "assignee": user_ref(ticket.assignee) if ticket.assignee_id else None,
            "tags": list(ticket.tags or []),
            "custom_fields": custom_fields,
            "created_at": iso(ticket.created_at),
            "updated_at": iso(ticket.updated_at),
            "first_responded_at": iso(ticket.first_responded_at),
            "solved_at": iso(ticket.solved_at),
            "closed_at": iso(ticket.closed_at),
            "reopen_count": ticket.reopen_count,
            "message_count": ticket.message_count,
            "url": link.replace("{number}", str(ticket.number)),
            "sla": sla,
        }


# The columns `ticket_row_data` reads (selectors.ticket_row_page reads them as plain values).
TICKET_ROW_COLUMNS = (
    "id", "number", "subject", "status", "priority", "type", "channel", "tags", "custom_fields",
    "created_at", "updated_at", "first_responded_at", "solved_at", "closed_at", "reopen_count", "message_count",
    "requester_id", "requester__name", "requester__email",
    "organization_id", "organization__name",
    "team_id", "team__name", "team__slug",
    "assignee_id", "assignee__display_name", "assignee__first_name", "assignee__last_name", "assignee__username",
)


def ticket_row_data(row: Any, *, custom_field_keys: frozenset[str] | None, link: str) -> dict[str, Any]:
    """TicketSerializer's JSON from a row of TICKET_ROW_COLUMNS (a list of them costs no model instances)."""
    custom_fields = row.custom_fields or {}
    if custom_field_keys is not None:
        custom_fields = {k: v for k, v in custom_fields.items() if k in custom_field_keys}
    if row.assignee_id:
        # The same name as User.name: display name, else full name, else username.
        name = row.assignee__display_name or f"{row.assignee__first_name} {row.assignee__last_name}".strip() \
            or row.assignee__username
        assignee = {"id": row.assignee_id, "name": name}
    else:
        assignee = None
    return {
        "id": row.id,
        "number": row.number,
        "subject": row.subject,
        "status": row.status,
        "priority": row.priority,
        "type": row.type,
        "channel": row.channel,
        "requester": {"id": row.requester_id, "name": row.requester__name, "email": row.requester__email},
        "organization": {"id": row.organization_id, "name": row.organization__name} if row.organization_id else None,
        "team": {"id": row.team_id, "name": row.team__name, "slug": row.team__slug} if row.team_id else None,
        "assignee": assignee,
        "tags": list(row.tags or []),
        "custom_fields": custom_fields,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "first_responded_at": iso(row.first_responded_at),
        "solved_at": iso(row.solved_at),
        "closed_at": iso(row.closed_at),
        "reopen_count": row.reopen_count,
        "message_count": row.message_count,
        "url": link.replace("{number}", str(row.number)),
        # Read with the row (selectors.sla_targets_annotation) when the caller is staff.
        "sla": sla_data(selectors.sla_targets_from_json(row.sla_targets)) if hasattr(row, "sla_targets") else [],
    }


class TicketPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, read_only=True)
    previous = serializers.URLField(allow_null=True, read_only=True)
    results = TicketSerializer(many=True, read_only=True)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}], "nullable": True,
                      "description": "A team id or slug."})
class TeamField(serializers.Field):
    """A team given by id or slug."""

    default_error_messages = {"unknown": _("Unknown team.")}

    def to_internal_value(self, data: Any) -> Team:
        query = Team.objects.all()
        if isinstance(data, bool):
            self.fail("unknown")
        if isinstance(data, int) or (isinstance(data, str) and data.strip().isdigit()):
            team = query.filter(pk=int(data)).first()
        elif isinstance(data, str) and data.strip():
            team = query.filter(slug=data.strip()).first()
        else:
            team = None
        if team is None:
            raise serializers.ValidationError(self.error_messages["unknown"], code="unknown")
        return team

    def to_representation(self, value: Team) -> Any:
        return value.pk


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["me"]}], "nullable": True,
                      "description": "A staff user id, or \"me\"."})
class AssigneeField(serializers.Field):
    """A staff user by id, or "me"."""

    default_error_messages = {"unknown": _("Unknown agent.")}

    def to_internal_value(self, data: Any) -> User:
        request = self.context.get("request")
        if request is None or not request.user.is_staff_member:
            # Checked before any lookup, so customers cannot probe which staff ids exist.
            raise serializers.ValidationError(_("Only support staff can set this field."), code="staff_only")
        if data == "me":
            data = request.user.pk
        if isinstance(data, bool):
            self.fail("unknown")
        try:
            user_id = int(data)
        except (TypeError, ValueError):
            self.fail("unknown")
        user = User.objects.filter(pk=user_id, is_active=True, role__in=STAFF_ROLES).first()
        if user is None:
            raise serializers.ValidationError(self.error_messages["unknown"], code="unknown")
        return user

    def to_representation(self, value: User) -> Any:
        return value.pk


def _tag_list(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=64), max_length=50, **kwargs)


class TicketCreateSerializer(serializers.Serializer):
    """Open a ticket. Staff name the requester by email; customers always open their own."""

    STAFF_ONLY_FIELDS = ("requester_email", "requester_name", "priority", "assignee", "tags")

    subject = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="",
                                        help_text=_("The first message, as plain text."))
    description_html = serializers.CharField(required=False, allow_blank=True, default="",
                                             help_text=_("The first message as HTML (sanitised); instead of description."))
    requester_email = serializers.EmailField(required=False, help_text=_("Staff only: found or created."))
    requester_name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, help_text=_("Staff only."))
    type = serializers.ChoiceField(choices=TicketType.choices, required=False)
    team = TeamField(required=False, allow_null=True)
    assignee = AssigneeField(required=False, allow_null=True, help_text=_("Staff only."))
    tags = _tag_list(required=False, help_text=_("Staff only."))
    custom_fields = serializers.DictField(required=False, default=dict,
                                          help_text=_("Values by field key; customers may set customer-visible fields."))
    files = serializers.ListField(child=serializers.FileField(), required=False, default=list,
                                  help_text=_("Attachments (multipart requests only)."))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context["request"]
        is_staff = request.user.is_staff_member
        errors: dict[str, Any] = {}
        if not is_staff:
            for name in self.STAFF_ONLY_FIELDS:
                if name in self.initial_data:
                    errors[name] = [_("Only support staff can set this field.")]
            team = attrs.get("team")
            if team is not None and not team.is_customer_selectable:
                errors["team"] = [_("Unknown team.")]
        elif not attrs.get("requester_email"):
            errors["requester_email"] = [_("This field is required.")]
        if not (attrs.get("description") or "").strip() and not (attrs.get("description_html") or "").strip() \
                and not attrs.get("files"):
            errors["description"] = [_("Describe the request.")]
        assignee, team = attrs.get("assignee"), attrs.get("team")
        if is_staff and assignee is not None and team is not None and not assignee.reads_all_tickets \
                and not assignee.team_memberships.filter(team=team).exists():
            errors["assignee"] = [_("This agent is not a member of the team.")]
        if errors:
            raise serializers.ValidationError(errors)
        if attrs.get("requester_email"):
            attrs["requester_email"] = normalize_email(attrs["requester_email"])
        return attrs


class TicketUpdateSerializer(serializers.Serializer):
    """Change some fields of a ticket. Customers may only set status to solved or open."""

    subject = serializers.CharField(max_length=255, required=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    type = serializers.ChoiceField(choices=TicketType.choices, required=False)
    team = TeamField(required=False, allow_null=True)
    assignee = AssigneeField(required=False, allow_null=True)
    tags = _tag_list(required=False, help_text=_("Replaces all tags."))
    add_tags = _tag_list(required=False)
    remove_tags = _tag_list(required=False)
    custom_fields = serializers.DictField(required=False, help_text=_("Merged into the current values; null removes."))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": [_("Nothing to change.")]})
        return attrs


class TicketMergeSerializer(serializers.Serializer):
    into = serializers.IntegerField(help_text=_("Number of the ticket that keeps the conversation."))


# ---------------------------------------------------------------------------------------------
# Messages


class AuthorSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AuthorKind.choices, read_only=True)
    id = serializers.IntegerField(read_only=True, allow_null=True,
                                  help_text=_("A user id for staff, a customer id for customers."))
    name = serializers.CharField(read_only=True)


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    filename = serializers.CharField(read_only=True)
    content_type = serializers.CharField(read_only=True)
    size = serializers.IntegerField(read_only=True)
    is_inline = serializers.BooleanField(read_only=True)
    url = serializers.URLField(read_only=True, allow_null=True)


def attachment_data(attachment: Attachment, link: str | None) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "is_inline": attachment.is_inline,
        "url": link.replace("{id}", str(attachment.pk)) if link else None,
    }


class MessageSerializer(serializers.Serializer):
    """A reply or (for staff) internal note. Context: `attachment_link` ({id}) and `ticket_number`."""

    id = serializers.IntegerField(read_only=True)
    ticket = serializers.IntegerField(read_only=True, help_text=_("The number of the ticket holding the message."))
    visibility = serializers.ChoiceField(choices=Visibility.choices, read_only=True)
    author = AuthorSerializer(read_only=True)
    body_html = serializers.CharField(read_only=True, help_text=_("Sanitised HTML."))
    body_text = serializers.CharField(read_only=True)
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    def to_representation(self, message: Message) -> dict[str, Any]:
        if message.author_user_id and message.author_user is not None:
            author = {"kind": message.author_kind, "id": message.author_user_id, "name": message.author_user.name}
        elif message.author_customer_id and message.author_customer is not None:
            author = {"kind": message.author_kind, "id": message.author_customer_id,
                      "name": message.author_customer.name}
        else:
            author = {"kind": message.author_kind, "id": None, "name": str(_("System"))}
        link = self.context.get("attachment_link")
        number = self.context.get("ticket_number") or message.ticket.number
        return {
            "id": message.pk,
            "ticket": number,
            "visibility": message.visibility,
            "author": author,
            "body_html": message.body_html,
            "body_text": message.body_text,
            "channel": message.channel,
            "created_at": iso(message.created_at),
            "attachments": [attachment_data(a, link) for a in message.attachments.all()],
        }


class MessagePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, read_only=True)
    previous = serializers.URLField(allow_null=True, read_only=True)
    results = MessageSerializer(many=True, read_only=True)


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, default="", help_text=_("Plain text."))
    body_html = serializers.CharField(required=False, allow_blank=True, default="",
                                      help_text=_("HTML, sanitised before it is stored; instead of body."))
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PUBLIC,
                                         help_text=_("internal (a note) is for staff only."))
    status = serializers.ChoiceField(choices=Status.choices, required=False,
                                     help_text=_("Staff only, with a public reply: the ticket's new status."))
    files = serializers.ListField(child=serializers.FileField(), required=False, default=list,
                                  help_text=_("Attachments (multipart requests only)."))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("status") and attrs["visibility"] == Visibility.INTERNAL:
            raise serializers.ValidationError({"status": [_("The status can only change with a public reply.")]})
        return attrs


# ---------------------------------------------------------------------------------------------
# Auth


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254, help_text=_("Username, or email address for customers."))
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True, help_text=_("Send as `Authorization: Token <token>`."))


# ---------------------------------------------------------------------------------------------
# People, teams, tags, custom fields


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "domains", "notes", "created_at"]
        read_only_fields = fields


class CustomerSerializer(serializers.ModelSerializer):
    organization = OrganizationRefSerializer(read_only=True, allow_null=True)
    has_login = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = ["id", "name", "email", "phone_numbers", "organization", "sees_organization_tickets", "language",
                  "timezone", "tier", "has_login", "created_at"]
        read_only_fields = fields

    def get_has_login(self, customer: Customer) -> bool:
        return customer.user_id is not None


class CustomerCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    phone_numbers = serializers.ListField(child=serializers.RegexField(r"^\+[1-9]\d{1,14}$"), required=False,
                                          default=list, max_length=10, help_text=_("E.164, e.g. +4930123456."))
    organization = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all(), required=False,
                                                      allow_null=True, default=None)
    sees_organization_tickets = serializers.BooleanField(required=False, default=False)
    language = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    tier = serializers.ChoiceField(choices=Customer.Tier.choices, required=False, default=Customer.Tier.STANDARD)


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug", "email_addresses", "is_customer_selectable"]
        read_only_fields = fields


class PublicTeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug"]
        read_only_fields = fields


class StaffUserSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    teams = TeamRefSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "name", "role", "teams"]
        read_only_fields = fields


class TagCountSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    count = serializers.IntegerField(read_only=True, help_text=_("Visible tickets carrying the tag."))


class CustomFieldDefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomFieldDefinition
        fields = ["key", "label", "field_type", "choices", "is_required", "is_customer_visible", "position"]
        read_only_fields = fields


def results_of(serializer_class: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """A {"results": [...]} envelope for the schema of short, unpaginated lists."""
    return type(name, (serializers.Serializer,), {"results": serializer_class(many=True, read_only=True)})
