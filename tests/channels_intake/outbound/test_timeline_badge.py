"""Agents see on the ticket what became of each reply mailed to the requester; the requester does not."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_agent, make_customer, make_ticket
from tickets.models import DeliveryState, Message
from tickets.services import ticket_add_note, ticket_reply

pytestmark = pytest.mark.django_db


def _badge(html: str, message: Message) -> str:
    article = re.search(rf'<article[^>]*id="message-{message.pk}".*?</article>', html, re.S)
    assert article is not None
    badge = re.search(r'<span class="badge [^"]*" data-delivery-state="([a-z]*)"[^>]*>([^<]*)</span>', article.group(0))
    return f"{badge.group(1)}:{badge.group(2)}" if badge else ""


def test_the_ticket_page_shows_each_mailed_replys_delivery_state(support_team):
    agent = make_agent(support_team)
    ticket = make_ticket(requester=make_customer(email="ann@customer.example"), team=support_team)
    queued = ticket_reply(ticket=ticket, actor=agent, body_text="First")
    sent = ticket_reply(ticket=ticket, actor=agent, body_text="Second")
    failed = ticket_reply(ticket=ticket, actor=agent, body_text="Third")
    note = ticket_add_note(ticket=ticket, actor=agent, body_text="Note")
    Message.objects.filter(pk=sent.pk).update(delivery_state=DeliveryState.SENT)
    Message.objects.filter(pk=failed.pk).update(delivery_state=DeliveryState.FAILED)
    client = Client()
    client.force_login(agent)

    html = client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()

    assert _badge(html, queued) == "queued:Queued"
    assert _badge(html, sent) == "sent:Sent"
    assert _badge(html, failed) == "failed:Failed"
    assert _badge(html, note) == ""
    assert _badge(html, ticket.messages.order_by("pk").first()) == ""  # the customer's own message


def test_a_failed_mail_is_told_in_words_on_the_timeline(support_team):
    from tickets import events
    from tickets.models import ActorKind

    agent = make_agent(support_team)
    ticket = make_ticket(requester=make_customer(email="ann@customer.example"), team=support_team)
    reply = ticket_reply(ticket=ticket, actor=agent, body_text="First")
    events.field_changed(
        ticket=ticket, actor=None, via="email", field="delivery_state", actor_kind=ActorKind.SYSTEM,
        from_value={"message": reply.pk, "state": "queued"},
        to_value={"message": reply.pk, "state": "failed", "error": "SMTPDataError: (451, b'later')"},
    )
    client = Client()
    client.force_login(agent)

    html = client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()

    assert "Email of a reply to the requester: <strong>Failed</strong>" in html
