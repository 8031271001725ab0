"""Which addresses are ours: the teams' addresses (`Team.email_addresses`) and signed reply addresses.

A team's addresses are edited with the team (admin, API); the first team listing an address gets
its mail. `support+<token>@…` belongs to us when `support@…` does and the token is valid (a ticket's
signed reply token, or a side conversation's `sc-<token>`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings

from channels_intake.email.tokens import split_address, ticket_id_from_token
from tickets.collaboration.side_conversations import token_from_tag
from tickets.models import Team


class RecipientVerdict(enum.Enum):
    ACCEPT = "accept"
    UNKNOWN = "unknown"  # no team owns the address
    # A tagged address of ours whose tag is no valid reply token.
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - a verdict, no secret


def normalise_address(address: str) -> str:
    return (address or "").strip().strip("<>").strip().lower()


def _settings_addresses() -> set[str]:
    """The addresses we send from: mail From them coming back in is a loop."""
    values = (getattr(settings, "DEFAULT_FROM_EMAIL", ""), getattr(settings, "SERVER_EMAIL", ""))
    # "Support <support@example.com>" -> support@example.com
    return {normalise_address(parseaddr(value)[1]) for value in values if "@" in (value or "")}


@dataclass(frozen=True)
class Mailboxes:
    """A snapshot of our addresses (lower-cased) and the team each one belongs to."""

    team_by_address: dict[str, int]
    team_slugs: dict[int, str]

    @classmethod
    def load(cls) -> Mailboxes:
        team_by_address: dict[str, int] = {}
        team_slugs: dict[int, str] = {}
        rows = Team.objects.exclude(email_addresses=[]).order_by("pk").values_list("pk", "slug", "email_addresses")
        for team_id, slug, addresses in rows:
            team_slugs[team_id] = slug
            for address in addresses:
                team_by_address.setdefault(normalise_address(address), team_id)
        return cls(team_by_address=team_by_address, team_slugs=team_slugs)

    def team_id_for(self, address: str) -> int | None:
        """The team owning this address, or the address without its +tag; None when it is not ours."""
        address = normalise_address(address)
        if address in self.team_by_address:
            return self.team_by_address[address]
        base, tag = split_address(address)
        return self.team_by_address.get(base) if tag else None

    def team_slug_for(self, addresses: Iterable[str]) -> str:
        """The slug of the team owning the first of `addresses` that is ours, "" when none is."""
        for address in addresses:
            team_id = self.team_id_for(address)
            if team_id is not None:
                return self.team_slugs[team_id]
        return ""

    def verdict(self, address: str) -> RecipientVerdict:
        """Whether mail for this address is ours to take (the SMTP listener asks at RCPT)."""
        address = normalise_address(address)
        if address in self.team_by_address:
            return RecipientVerdict.ACCEPT
        base, tag = split_address(address)
        if not tag or base not in self.team_by_address:
            return RecipientVerdict.UNKNOWN
        if ticket_id_from_token(tag) is not None or token_from_tag(tag) is not None:
            return RecipientVerdict.ACCEPT
        return RecipientVerdict.INVALID_TOKEN

    def is_own(self, address: str) -> bool:
        """One of our addresses (team, reply address or the configured sender): mail From it is a loop."""
        address = normalise_address(address)
        if not address:
            return False
        return self.team_id_for(address) is not None or address in _settings_addresses()
