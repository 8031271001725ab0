"""The rule engine: evaluating conditions and running actions (triggers and automations).

CONTRACT (to be implemented by the engine's owner; the admin pages code against it):
- `triggers_run(ticket=…, context=…)`: called by tickets.services.reactions inside the change's
  transaction.
- `rule_preview(...)`: what a rule would do to a ticket, without changing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tickets.models import Ticket
    from tickets.services.reactions import ChangeContext


@dataclass(frozen=True)
class ConditionResult:
    condition: dict[str, Any]  # as stored: {"field", "operator", "value"}
    group: str  # "all" or "any"
    holds: bool
    # The ticket's value the condition looked at, as shown to a person ("pending", "3.5 h", …).
    actual: str


@dataclass(frozen=True)
class RulePreview:
    matches: bool
    conditions: list[ConditionResult] = field(default_factory=list)
    # One line per action, in order, saying what it would do to this ticket ("Add tags: vip").
    actions: list[str] = field(default_factory=list)
    # Why it would not run even though it matches (e.g. an automation that already fired for
    # this occurrence), empty otherwise.
    note: str = ""


def rules_changed() -> None:
    """Call after any Rule or Webhook write commits: the engine's cached rule list is stale."""


def triggers_run(*, ticket: Ticket, context: ChangeContext) -> None:
    """Run the active triggers for `context.event` over the ticket, in order (not implemented yet)."""


def rule_preview(
    *, kind: str, events: list[str], conditions: dict[str, Any], actions: list[dict[str, Any]], ticket: Ticket,
    now: datetime | None = None, event: str | None = None,
) -> RulePreview:
    """What the rule (saved or being edited) would do to `ticket` now, changing nothing.

    `event`: for a trigger, the event to imagine (default: its first event; change operators then
    see no change). Not implemented yet.
    """
    raise NotImplementedError
