"""Assignment routing services.

CONTRACT (to be implemented): `assignment_after_change` is called by tickets.services.reactions after
the triggers ran; `ticket_escalate` is called by the "Escalate" button and the rule action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tickets.models import Ticket, User
    from tickets.services.reactions import ChangeContext


def assignment_after_change(*, ticket: Ticket, context: ChangeContext) -> None:
    """Assign the ticket by its team's strategy when it needs an agent (not implemented yet)."""


def ticket_escalate(*, ticket: Ticket, actor: User | None, via: str | None = None) -> Ticket:
    """Move the ticket to its team's next escalation level (not implemented yet)."""
    raise NotImplementedError


def ticket_assign_by_routing(*, ticket: Ticket, via: str | None = None) -> User | None:
    """Assign the ticket now by its team's strategy (the rules' "assign: routing"); returns the
    agent, or None when nobody is available (not implemented yet)."""
    return None
