"""The only code that changes tickets. Entry points (views, APIs, consumers, tasks, adapters) call these."""

from tickets.services.attachments import IncomingFile, attachment_store, incoming_from_upload, safe_filename
from tickets.services.ticket_create import ticket_create
from tickets.services.ticket_fields import (
    ticket_assign,
    ticket_move_to_team,
    ticket_set_priority,
    ticket_set_status,
    ticket_tag,
    ticket_update,
    tickets_bulk_update,
    tickets_close_solved,
)
from tickets.services.ticket_merge import ticket_merge
from tickets.services.ticket_messages import TicketClosed, ticket_add_note, ticket_reply

__all__ = [
    "IncomingFile",
    "TicketClosed",
    "attachment_store",
    "incoming_from_upload",
    "safe_filename",
    "ticket_add_note",
    "ticket_assign",
    "ticket_create",
    "ticket_merge",
    "ticket_move_to_team",
    "ticket_reply",
    "ticket_set_priority",
    "ticket_set_status",
    "ticket_tag",
    "ticket_update",
    "tickets_bulk_update",
    "tickets_close_solved",
]
