"""The workers' minute task: facts of recently changed tickets are brought up to date, others left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from metrics.models import TicketFact
from metrics.tasks import metrics_facts_refresh
from tests.factories import make_agent, make_team, make_ticket
from tickets.models import Ticket
from tickets.services import ticket_reply

pytestmark = pytest.mark.django_db


def test_new_and_changed_tickets_get_fresh_facts_and_settled_ones_are_not_recomputed(celery_eager):
    team = make_team()
    agent = make_agent(team)
    settled, answered = make_ticket(team=team), make_ticket(team=team)
    metrics_facts_refresh.delay()
    assert TicketFact.objects.filter(ticket__in=[settled, answered]).count() == 2
    assert TicketFact.objects.get(ticket=answered).public_agent_replies == 0
    # Facts computed well after the ticket's last change are current.
    long_after = Ticket.objects.get(pk=settled.pk).updated_at + timedelta(minutes=5)
    TicketFact.objects.filter(ticket=settled).update(computed_at=long_after)

    ticket_reply(ticket=answered, actor=agent, body_text="Turn it off and on again.")
    fresh = make_ticket(team=team)
    metrics_facts_refresh.delay()

    assert TicketFact.objects.get(ticket=answered).public_agent_replies == 1
    assert TicketFact.objects.filter(ticket=fresh).exists()
    assert TicketFact.objects.get(ticket=settled).computed_at == long_after


def test_a_change_older_than_the_lookback_is_left_to_the_recompute_command(celery_eager, settings):
    settings.HELPDESK_METRICS_LOOKBACK_HOURS = 48
    old = make_ticket(team=make_team())
    Ticket.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(hours=49))

    metrics_facts_refresh.delay()

    assert not TicketFact.objects.filter(ticket=old).exists()
