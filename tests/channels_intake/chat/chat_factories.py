"""Factories of the chat-core tests: a widget of a team, a chat started through the service, agents online."""

from __future__ import annotations

import uuid

from channels_intake.chat import presence, services
from channels_intake.chat.models import Chat, ChatWidget
from tickets.models import AgentProfile, Team, User

SHOP = "https://shop.example"


def make_widget(team: Team, **fields) -> ChatWidget:
    fields.setdefault("allowed_origins", [SHOP])
    fields.setdefault("deflection_enabled", False)
    return ChatWidget.objects.create(name=fields.pop("name", "Shop"), team=team, **fields)


def start_chat(widget: ChatWidget, *, name: str = "Ann Visitor", email: str = "", question: str = "Where is my parcel?",
               visitor_id: uuid.UUID | None = None, **kwargs) -> Chat:
    return services.chat_start(
        widget=widget, visitor_id=visitor_id or uuid.uuid4(), name=name, email=email, question=question,
        language=kwargs.pop("language", "en"), origin=kwargs.pop("origin", SHOP), **kwargs,
    )


def go_online(user: User, *, capacity: int | None = None) -> User:
    if capacity is not None:
        AgentProfile.objects.update_or_create(user=user, defaults={"chat_capacity": capacity})
    presence.presence_write(user_id=user.pk, status=presence.ONLINE)
    return user
