"""Fixtures of the rule engine tests: rules stored as the admin pages store them (validated by the
vocabulary), the engine told after each write, as the rules' services do."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from tests.factories import make_agent, make_team
from tickets.models import Rule, RuleKind, Team, TriggerEvent, User
from tickets.rules.engine import rules_changed
from tickets.rules.vocabulary import validate_actions, validate_conditions

_numbers = itertools.count(1)


def make_rule(
    *, kind: str = RuleKind.TRIGGER, events: Sequence[str] = (TriggerEvent.CREATED,),
    all: Sequence[dict[str, Any]] = (), any: Sequence[dict[str, Any]] = (),  # noqa: A002 - the stored names
    actions: Sequence[dict[str, Any]] = (), position: int = 0, name: str | None = None, is_active: bool = True,
) -> Rule:
    rule = Rule.objects.create(
        kind=kind, name=name or f"Rule {next(_numbers)}", position=position, is_active=is_active,
        events=list(events) if kind == RuleKind.TRIGGER else [],
        conditions=validate_conditions({"all": list(all), "any": list(any)}),
        actions=validate_actions(list(actions)),
    )
    rules_changed()
    return rule


def cond(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


@pytest.fixture
def team(db) -> Team:
    return make_team(name="Support")


@pytest.fixture
def agent(team: Team) -> User:
    return make_agent(team, display_name="Ana Agent")
