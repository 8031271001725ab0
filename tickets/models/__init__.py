from tickets.models.audit import ActorKind, Event
from tickets.models.message import Attachment, AuthorKind, DeliveryState, Message, Visibility
from tickets.models.notification import NotificationDelivery, NotificationState
from tickets.models.people import (
    ALL_TICKET_ROLES,
    STAFF_ROLES,
    AgentProfile,
    Customer,
    CustomerEmail,
    Organization,
    Role,
    Team,
    TeamMembership,
    User,
)
from tickets.models.saved_view import SavedView
from tickets.models.ticket import (
    ACTIVE_STATUSES,
    UNSOLVED_STATUSES,
    Channel,
    CustomFieldDefinition,
    Priority,
    Status,
    Ticket,
    TicketType,
)

__all__ = [
    "ACTIVE_STATUSES",
    "ALL_TICKET_ROLES",
    "STAFF_ROLES",
    "UNSOLVED_STATUSES",
    "ActorKind",
    "AgentProfile",
    "Attachment",
    "AuthorKind",
    "Channel",
    "CustomFieldDefinition",
    "Customer",
    "CustomerEmail",
    "DeliveryState",
    "Event",
    "Message",
    "NotificationDelivery",
    "NotificationState",
    "Organization",
    "Priority",
    "Role",
    "SavedView",
    "Status",
    "Team",
    "TeamMembership",
    "Ticket",
    "TicketType",
    "User",
    "Visibility",
]
