"""The customer and organization overviews: contents across channels, what each viewer may see, query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_customer, make_organization, make_ticket
from tests.tickets.customers.conftest import breach, client_for, rate
from tickets.customers.selectors import customer_overview, organization_overview
from tickets.models import Channel, CustomerEmail, CustomFieldDefinition
from tickets.services import ticket_reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def organization():
    return make_organization("Acme")


@pytest.fixture
def wang(organization):
    customer = make_customer(email="wang@acme.example", name="Wang Fang", organization=organization)
    customer.phone_numbers = ["+8613812345678"]
    customer.language, customer.timezone, customer.notes = "zh-hans", "Asia/Shanghai", "Prefers phone."
    customer.custom_fields = {"account_manager": "Li"}
    customer.save()
    CustomerEmail.objects.create(customer=customer, email="fang@home.example")
    CustomFieldDefinition.objects.create(key="account_manager", label="Account manager", field_type="text",
                                         applies_to="customer")
    CustomFieldDefinition.objects.create(key="order", label="Order", field_type="text")  # a ticket field
    return customer


@pytest.fixture
def history(wang, support, billing):
    """Wang's tickets: email and chat with Support, phone with Billing (breached, rated badly)."""
    email = make_ticket(requester=wang, team=support, subject="Invoice by mail", channel=Channel.EMAIL)
    chat = make_ticket(requester=wang, team=support, subject="Chat about login", channel=Channel.CHAT)
    phone = make_ticket(requester=wang, team=billing, subject="Billing call", channel=Channel.PHONE)
    breach(phone)
    rate(email, 5, comment="Quick and kind")
    rate(phone, 1, comment="Secret billing complaint")
    return {"email": email, "chat": chat, "phone": phone}


def test_manager_sees_identity_and_every_ticket_across_channels(wang, history, manager):
    overview = customer_overview(viewer=manager, customer_id=wang.pk)

    assert overview.other_emails == ["fang@home.example"]
    assert overview.has_login is True
    assert [(row["key"], row["value"]) for row in overview.custom_fields] == [("account_manager", "Li")]
    summary = overview.summary
    assert {t.number for t in summary.tickets} == {t.number for t in history.values()}
    assert {(c.channel, c.tickets, c.inbound_messages) for c in summary.channels} == {
        ("email", 1, 1), ("chat", 1, 1), ("phone", 1, 1)}
    assert summary.ticket_count == 3 and summary.open_count == 3
    assert summary.last_contact_at is not None
    assert sorted(answer.score for answer in summary.satisfaction) == [1, 5]
    assert [timer.ticket.number for timer in summary.sla_breaches] == [history["phone"].number]


def test_agent_of_one_team_sees_none_of_another_teams_tickets_of_the_customer(wang, history, agent):
    overview = customer_overview(viewer=agent, customer_id=wang.pk)

    summary = overview.summary
    assert {t.number for t in summary.tickets} == {history["email"].number, history["chat"].number}
    assert {c.channel for c in summary.channels} == {"email", "chat"}
    assert summary.ticket_count == 2
    # The phone ticket's answer and breach are Billing's: not shown to Support.
    assert [answer.score for answer in summary.satisfaction] == [5]
    assert summary.sla_breaches == []


def test_last_contact_is_the_latest_inbound_message(wang, history, manager):
    reply = ticket_reply(ticket=history["email"], actor=None, author_customer=wang, body_text="Any news?",
                         channel=Channel.EMAIL)

    overview = customer_overview(viewer=manager, customer_id=wang.pk)

    assert overview.summary.last_contact_at == reply.created_at
    assert {c.channel: c.inbound_messages for c in overview.summary.channels}["email"] == 2


def test_organization_overview_rolls_up_its_customers_tickets(organization, wang, history, manager, agent, support):
    colleague = make_customer(organization=organization, name="Zhang Wei")
    make_ticket(requester=colleague, team=support, channel=Channel.WEB)
    make_ticket(requester=make_customer(), team=support)  # another organization

    overview = organization_overview(viewer=manager, organization_id=organization.pk)
    agents_view = organization_overview(viewer=agent, organization_id=organization.pk)

    assert [customer.name for customer in overview.customers] == ["Wang Fang", "Zhang Wei"]
    assert overview.customer_count == 2
    assert set(overview.customer_scores) == {wang.pk, colleague.pk}
    assert overview.summary.ticket_count == 4
    assert agents_view.summary.ticket_count == 3
    assert history["phone"].number not in {t.number for t in agents_view.summary.tickets}


def test_the_overview_costs_the_same_queries_however_many_tickets(wang, history, manager, support,
                                                                  django_assert_max_num_queries):
    with django_assert_max_num_queries(10) as captured:
        customer_overview(viewer=manager, customer_id=wang.pk)
    few = len(captured)
    for channel in (Channel.EMAIL, Channel.CHAT, Channel.PHONE, Channel.WEB) * 3:
        ticket = make_ticket(requester=wang, team=support, channel=channel)
        breach(ticket)
        rate(ticket, 3)

    with django_assert_max_num_queries(few):
        customer_overview(viewer=manager, customer_id=wang.pk)


def test_customer_page_shows_all_three_channels_and_the_score(wang, history, manager, django_assert_max_num_queries):
    client = client_for(manager)
    url = reverse("customers:customer_detail", args=[wang.pk])
    client.get(url)  # warm the workspace's caches (sidebar, directory)

    with django_assert_max_num_queries(22):
        response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    for subject in ("Invoice by mail", "Chat about login", "Billing call"):
        assert subject in html
    assert 'data-channel="email"' in html and 'data-channel="chat"' in html and 'data-channel="phone"' in html
    assert "fang@home.example" in html and "+8613812345678" in html and "Asia/Shanghai" in html
    assert "Prefers phone." in html and "Account manager" in html
    assert "data-health-score" in html
    assert "Secret billing complaint" in html


def test_agent_of_another_team_cannot_see_billing_tickets_on_the_page(wang, history, agent):
    response = client_for(agent).get(reverse("customers:customer_detail", args=[wang.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Invoice by mail" in html and "Chat about login" in html
    assert "Billing call" not in html and "Secret billing complaint" not in html
    assert f"#{history['phone'].number}" not in html


def test_organization_page_hides_other_teams_tickets_too(organization, wang, history, agent):
    response = client_for(agent).get(reverse("customers:organization_detail", args=[organization.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Wang Fang" in html and "Invoice by mail" in html
    assert "Billing call" not in html


def test_customers_and_anonymous_visitors_cannot_open_customer_pages(wang, history, organization, client):
    urls = [reverse("customers:customer_detail", args=[wang.pk]),
            reverse("customers:organization_detail", args=[organization.pk]),
            reverse("customers:customer_list"), reverse("customers:duplicates"),
            reverse("customers:customer_health_badge", args=[wang.pk])]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"]
    customer_client = client_for(wang.user)
    for url in urls:
        assert customer_client.get(url).status_code == 403
    assert customer_client.post(reverse("customers:customer_edit", args=[wang.pk]), {"notes": "x"}).status_code == 403
    wang.refresh_from_db()
    assert wang.notes == "Prefers phone."


def test_unknown_customer_is_a_404(manager):
    assert client_for(manager).get(reverse("customers:customer_detail", args=[999999])).status_code == 404


def test_ticket_page_links_the_requester_to_the_360_page(wang, history, agent):
    client = client_for(agent)
    response = client.get(reverse("agent:ticket", args=[history["email"].number]))

    html = response.content.decode()
    assert reverse("customers:customer_detail", args=[wang.pk]) in html
    badge = client.get(reverse("customers:customer_health_badge", args=[wang.pk]))
    assert badge.status_code == 200 and "health-badge" in badge.content.decode()


def test_customer_list_searches_by_name_email_and_phone(wang, manager):
    make_customer(name="Someone Else", email="else@example.com")
    client = client_for(manager)
    url = reverse("customers:customer_list")

    def names(query):
        html = client.get(url, {"q": query}).content.decode()
        return {"Wang Fang" in html, "Someone Else" in html}

    assert names("wang") == {True, False}
    assert names("fang@home.example") == {True, False}
    assert names("138 1234 5678") == {True, False} or names("+8613812345678") == {True, False}
    assert "Someone Else" in client.get(url).content.decode()


def test_list_and_organization_pages_cost_a_bounded_number_of_queries(organization, wang, history, manager,
                                                                      django_assert_max_num_queries):
    for n in range(30):
        make_customer(name=f"Colleague {n}", organization=organization, with_login=False)
    client = client_for(manager)
    list_url = reverse("customers:customer_list")
    organization_url = reverse("customers:organization_detail", args=[organization.pk])
    client.get(list_url)
    client.get(organization_url)

    with django_assert_max_num_queries(12):
        listing = client.get(list_url, {"q": "colleague"})
    with django_assert_max_num_queries(22):
        page = client.get(organization_url)

    assert listing.content.decode().count('data-customer="') == 30
    assert page.content.decode().count('data-customer="') == 31
