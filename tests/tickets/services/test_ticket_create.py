import pytest
from django.core.exceptions import ValidationError

from tests.factories import make_customer, make_team, make_ticket
from tickets.models import Channel, CustomFieldDefinition, Event, Message, Status, Ticket
from tickets.services import IncomingFile, ticket_create

pytestmark = pytest.mark.django_db


def test_ticket_gets_next_human_number_and_first_message_from_requester():
    customer = make_customer()
    first = make_ticket(requester=customer)
    second = make_ticket(requester=customer)

    assert first.number >= 10001
    assert second.number == first.number + 1
    message = first.messages.get()
    assert message.author_customer == customer
    assert message.is_public
    assert message.body_text == "It started this morning."
    assert first.status == Status.NEW
    assert first.message_count == 1


def test_creation_writes_created_event_with_channel():
    ticket = make_ticket(channel=Channel.API)

    event = Event.objects.get(ticket=ticket)
    assert event.kind == "created"
    assert event.via == "api"
    assert event.to_value["channel"] == "api"


def test_same_external_id_creates_one_ticket():
    customer = make_customer()
    first = ticket_create(requester=customer, subject="Hi", body_text="x", channel=Channel.EMAIL, external_id="<a@b>")
    again = ticket_create(requester=customer, subject="Hi", body_text="x", channel=Channel.EMAIL, external_id="<a@b>")

    assert again.pk == first.pk
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1


def test_html_body_is_sanitised_before_it_is_stored():
    ticket = ticket_create(
        requester=make_customer(), subject="XSS", body_html='<p onclick="x()">Hi<script>alert(1)</script></p>'
        '<a href="javascript:alert(1)">link</a><img src=x onerror=alert(1)>',
    )

    html = ticket.messages.get().body_html
    assert "<script" not in html
    assert "onclick" not in html
    assert "onerror" not in html
    assert "javascript:" not in html
    assert "Hi" in html


def test_tags_are_normalised_and_deduplicated():
    ticket = make_ticket(tags=["VIP", " vip ", "Refund Request"])

    assert ticket.tags == ["vip", "refund-request"]


def test_custom_fields_are_validated_against_definitions():
    CustomFieldDefinition.objects.create(key="plan", label="Plan", field_type="select", choices=["basic", "pro"])
    CustomFieldDefinition.objects.create(key="seats", label="Seats", field_type="number")

    ticket = make_ticket(custom_fields={"plan": "pro", "seats": "12"})
    assert ticket.custom_fields == {"plan": "pro", "seats": 12}

    with pytest.raises(ValidationError) as refused:
        make_ticket(custom_fields={"plan": "enterprise", "unknown": 1})
    assert set(refused.value.message_dict) == {"plan", "unknown"}
    assert Ticket.objects.count() == 1


def test_customer_cannot_set_fields_not_visible_to_customers():
    CustomFieldDefinition.objects.create(key="internal_score", label="Score", field_type="number")

    with pytest.raises(ValidationError):
        make_ticket(custom_fields={"internal_score": 5}, customer_fields_only=True)
    assert Ticket.objects.count() == 0


def test_oversize_attachment_is_refused_and_nothing_is_created(settings):
    settings.HELPDESK_MAX_UPLOAD_BYTES = 10
    big = IncomingFile(name="big.bin", content_type="application/octet-stream", content=b"x" * 11)

    with pytest.raises(ValidationError):
        make_ticket(files=[big])
    assert Ticket.objects.count() == 0


def test_attachment_name_is_neutralised():
    evil = IncomingFile(name="../../etc/\u202egnp.exe\x00.png", content_type="image/png", content=b"\x89PNG")

    ticket = make_ticket(files=[evil])

    attachment = ticket.attachments.get()
    assert attachment.filename == "gnp.exe.png"
    assert ".." not in attachment.file.name
    assert attachment.file.read() == b"\x89PNG"


def test_organization_comes_from_requester():
    team = make_team()
    customer = make_customer()
    customer.organization = None
    ticket = make_ticket(requester=customer, team=team)

    assert ticket.organization is None
    assert ticket.team == team


def test_ticket_without_team_goes_to_the_default_team(settings):
    support = make_team(slug="support")
    settings.HELPDESK_DEFAULT_TEAM = "support"

    assert make_ticket(team=None).team == support


def test_agent_removed_from_team_loses_sight_of_its_tickets_even_when_assigned():
    from helpdesk import permissions
    from tests.factories import make_agent
    from tickets.models import TeamMembership
    from tickets.services import ticket_update

    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, assignee=agent)

    TeamMembership.objects.filter(user=agent).delete()
    agent = type(agent).objects.get(pk=agent.pk)

    assert not permissions.visible_tickets(agent).exists()
