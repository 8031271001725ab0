"""Plain factory functions for tests: real rows in the real database, no mocks."""

from __future__ import annotations

import itertools
from typing import Any

from tickets.models import AgentProfile, Customer, Organization, Role, Team, TeamMembership, Ticket, User
from tickets.services import ticket_create

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery-9"


def make_team(name: str | None = None, **fields: Any) -> Team:
    n = next(_counter)
    name = name or f"Team {n}"
    return Team.objects.create(name=name, slug=fields.pop("slug", f"team-{n}"), **fields)


def make_user(*, role: str = Role.AGENT, username: str | None = None, teams: list[Team] = (), lead_of: list[Team] = (),
              password: str = PASSWORD, **fields: Any) -> User:
    n = next(_counter)
    username = username or f"{role}{n}"
    user = User.objects.create_user(username=username, password=password, role=role,
                                    email=fields.pop("email", f"{username}@staff.example"), **fields)
    if role != Role.CUSTOMER:
        AgentProfile.objects.create(user=user)
    for team in teams:
        TeamMembership.objects.create(team=team, user=user, is_lead=team in lead_of)
    return user


def make_agent(*teams: Team, **fields: Any) -> User:
    return make_user(role=Role.AGENT, teams=list(teams), **fields)


def make_organization(name: str | None = None, **fields: Any) -> Organization:
    return Organization.objects.create(name=name or f"Org {next(_counter)}", **fields)


def make_customer(*, email: str | None = None, with_login: bool = True, organization: Organization | None = None,
                  sees_organization_tickets: bool = False, name: str | None = None, password: str = PASSWORD) -> Customer:
    n = next(_counter)
    email = email or f"customer{n}@example.com"
    user = None
    if with_login:
        user = User.objects.create_user(username=email, email=email, password=password, role=Role.CUSTOMER)
    return Customer.objects.create(user=user, email=email, name=name or f"Customer {n}", organization=organization,
                                   sees_organization_tickets=sees_organization_tickets)


def make_ticket(*, requester: Customer | None = None, team: Team | None = None, subject: str = "Printer is on fire",
                body: str = "It started this morning.", **fields: Any) -> Ticket:
    requester = requester or make_customer()
    return ticket_create(requester=requester, subject=subject, body_text=body, team=team, **fields)
