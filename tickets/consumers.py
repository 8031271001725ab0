"""The agent workspace's websocket (`ws/agent/`): ticket change notices and presence on tickets.

Access is decided here as on the HTTP side, through helpdesk.permissions:
- only signed-in, active staff connect (4401 anonymous, 4403 anyone else);
- the connection joins the groups of the agent's teams, their own user group, and the all-tickets
  group only for roles that read every ticket;
- a ticket's group is joined only when the agent may view the ticket (CVE-2022-40816 was a socket
  that sent other users' data to whoever asked);
- every event is re-checked against the agent's *current* teams before it is forwarded, because
  team membership can change while a socket stays open.
Events carry ids and changed values only; the browser fetches HTML through the HTTP views.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from helpdesk import permissions, realtime
from tickets import presence
from tickets.models import TeamMembership, Ticket, User

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_TICKET_SUBSCRIPTIONS = 20


class AgentConsumer(AsyncJsonWebsocketConsumer):
    user: User

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not permissions.is_staff_member(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.joined: set[str] = set()
        # ticket id -> ticket number, for the tickets this connection watches.
        self.subscriptions: dict[int, int] = {}
        team_ids = await database_sync_to_async(self._team_ids)()
        groups = [realtime.team_group(team_id) for team_id in team_ids] + [realtime.user_group(user.pk)]
        if permissions.reads_all_tickets(user):
            groups.append(realtime.ALL_TICKETS_GROUP)
        # Every staff dashboard refetches its own (role-scoped) figures when the rollups change.
        groups.append(realtime.METRICS_GROUP)
        for group in groups:
            await self._join(group)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for ticket_id in list(getattr(self, "subscriptions", {})):
            await self._set_presence(ticket_id, presence.LEFT)
        for group in list(getattr(self, "joined", set())):
            await self.channel_layer.group_discard(group, self.channel_name)

    # ------------------------------------------------------------------ from the browser

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "code": "bad_message"})
            return
        kind = content.get("type")
        number = content.get("number")
        if kind == "subscribe_ticket":
            await self._subscribe(number)
        elif kind == "unsubscribe_ticket":
            await self._unsubscribe(number)
        elif kind == "presence":
            await self._presence(number, content.get("state"))
        else:
            await self.send_json({"type": "error", "code": "unknown_type"})

    async def _subscribe(self, number: Any) -> None:
        if not _is_ticket_number(number):
            await self.send_json({"type": "error", "code": "bad_number"})
            return
        if number in self.subscriptions.values():
            await self.send_json({"type": "subscribed", "number": number})
            return
        if len(self.subscriptions) >= MAX_TICKET_SUBSCRIPTIONS:
            await self.send_json({"type": "error", "code": "too_many_subscriptions", "number": number})
            return
        ticket_id = await database_sync_to_async(self._visible_ticket_id)(number)
        if ticket_id is None:
            # Same answer for "does not exist" and "not yours": numbers cannot be probed.
            await self.send_json({"type": "error", "code": "not_found", "number": number})
            return
        self.subscriptions[ticket_id] = number
        await self._join(realtime.ticket_group(ticket_id))
        await self.send_json({"type": "subscribed", "number": number})

    async def _unsubscribe(self, number: Any) -> None:
        ticket_id = self._subscribed_ticket_id(number)
        if ticket_id is None:
            return
        await self._set_presence(ticket_id, presence.LEFT)
        del self.subscriptions[ticket_id]
        group = realtime.ticket_group(ticket_id)
        self.joined.discard(group)
        await self.channel_layer.group_discard(group, self.channel_name)

    async def _presence(self, number: Any, state: Any) -> None:
        ticket_id = self._subscribed_ticket_id(number)
        if ticket_id is None:
            await self.send_json({"type": "error", "code": "not_subscribed", "number": number})
            return
        if state not in presence.STATES:
            await self.send_json({"type": "error", "code": "bad_state"})
            return
        await self._set_presence(ticket_id, state)

    async def _set_presence(self, ticket_id: int, state: str) -> None:
        await sync_to_async(presence.presence_set)(
            ticket_id=ticket_id, user_id=self.user.pk, name=self.user.name, state=state
        )
        await self.channel_layer.group_send(
            realtime.ticket_group(ticket_id),
            {"type": "presence.changed", "ticket_id": ticket_id, "origin": self.channel_name},
        )

    # ------------------------------------------------------------------ from the channel layer

    async def realtime_event(self, message: dict[str, Any]) -> None:
        """A ticket changed: forward the notice only if this agent may see the ticket right now."""
        event = message.get("event")
        if not isinstance(event, dict):
            return
        if event.get("type") == "metrics.updated":
            # Carries no figures (the dashboards fetch their own through the HTTP views): nothing to re-check.
            await self.send_json({"type": "metrics.updated"})
            return
        ticket = event.get("ticket")
        if not isinstance(ticket, dict) or not await self._may_see(ticket):
            return
        await self.send_json(event)

    async def metrics_updated(self, message: dict[str, Any]) -> None:
        """The rollups changed (sent to METRICS_GROUP as a bare `metrics.updated` message)."""
        await self.send_json({"type": "metrics.updated"})

    async def presence_changed(self, message: dict[str, Any]) -> None:
        if message.get("origin") == self.channel_name:
            return
        number = self.subscriptions.get(message.get("ticket_id"))
        if number is not None:
            await self.send_json({"type": "presence", "number": number})

    # ------------------------------------------------------------------ helpers

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)

    def _subscribed_ticket_id(self, number: Any) -> int | None:
        if not _is_ticket_number(number):
            return None
        return next((tid for tid, n in self.subscriptions.items() if n == number), None)

    def _team_ids(self) -> list[int]:
        return list(TeamMembership.objects.filter(user_id=self.user.pk).values_list("team_id", flat=True))

    def _visible_ticket_id(self, number: int) -> int | None:
        ticket = permissions.visible_tickets(self.user).filter(number=number).only("pk").first()
        return ticket.pk if ticket is not None else None

    async def _may_see(self, ticket: dict[str, Any]) -> bool:
        return await database_sync_to_async(self._may_see_now)(ticket.get("team"), ticket.get("assignee"))

    def _may_see_now(self, team_id: Any, assignee_id: Any) -> bool:
        """helpdesk.permissions.can_view_ticket on the event's team and assignee, with the agent's
        role, status and team memberships read afresh (not the ones cached at connect time)."""
        current = User.objects.filter(pk=self.user.pk).first()
        if current is None or not permissions.is_staff_member(current):
            return False
        return permissions.can_view_ticket(current, Ticket(team_id=team_id, assignee_id=assignee_id))


def _is_ticket_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63

