"""The allowed status changes. Services call `check_transition`; nothing else sets a status."""

from __future__ import annotations

from django.utils.translation import gettext as _

from tickets.models import Status

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED}),
    Status.OPEN: frozenset({Status.PENDING, Status.ON_HOLD, Status.SOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.ON_HOLD, Status.SOLVED}),
    Status.ON_HOLD: frozenset({Status.OPEN, Status.PENDING, Status.SOLVED}),
    Status.SOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    # Closed is final: a new message on a closed ticket opens a follow-up ticket instead.
    Status.CLOSED: frozenset(),
}


class TransitionNotAllowed(Exception):
    def __init__(self, from_status: str, to_status: str) -> None:
        self.from_status = from_status
        self.to_status = to_status
        super().__init__(
            _("A ticket cannot go from %(from)s to %(to)s.")
            % {"from": Status(from_status).label, "to": Status(to_status).label}
        )


def is_allowed(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS[from_status]


def check_transition(from_status: str, to_status: str) -> None:
    if not is_allowed(from_status, to_status):
        raise TransitionNotAllowed(from_status, to_status)


def next_statuses(from_status: str) -> list[str]:
    return [s for s in Status.values if s in ALLOWED_TRANSITIONS[from_status]]
