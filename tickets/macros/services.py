"""Macro services.

CONTRACT (to be implemented): `macro_apply` is called from the reply box and by the rules'
"apply_macro" action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tickets.models import Macro, Ticket, User


def macro_apply(*, macro: Macro, ticket: Ticket, actor: User | None, via: str | None = None) -> Ticket:
    """Apply the macro's field actions and add its reply (not implemented yet)."""
    raise NotImplementedError
