"""Duplicate customers: each reason is detected, unrelated customers are not, and the page merges a pair."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_customer, make_organization, make_ticket
from tests.tickets.customers.conftest import client_for
from tickets.customers.selectors import duplicate_candidates
from tickets.models import Customer, CustomerEmail, Event

pytestmark = pytest.mark.django_db


def pairs(viewer):
    return {(pair.first.pk, pair.second.pk): pair.reasons for pair in duplicate_candidates(viewer=viewer)}


def phone_customer(name, *numbers):
    return Customer.objects.create(name=name, phone_numbers=list(numbers))


def test_a_shared_phone_number_is_a_candidate(agent):
    first = phone_customer("Caller", "+8613812345678")
    second = phone_customer("Wang", "+8613900000000", "+8613812345678")
    phone_customer("Other", "+8613700000000")

    assert pairs(agent) == {(first.pk, second.pk): ["phone"]}


@pytest.mark.parametrize(("first_email", "second_email"), [
    ("wang.fang@gmail.com", "WangFang+shop@googlemail.com"),
    ("li@outlook.com", "li+news@outlook.com"),
])
def test_the_same_address_up_to_case_dots_and_tags_is_a_candidate(agent, first_email, second_email):
    first = make_customer(email=first_email, with_login=False)
    second = make_customer(email=second_email, with_login=False)

    assert pairs(agent) == {(first.pk, second.pk): ["email"]}


def test_dots_and_tags_count_only_at_providers_that_ignore_them(agent):
    make_customer(email="j.doe@acme.example", with_login=False)
    make_customer(email="jdoe@acme.example", with_login=False)
    make_customer(email="jdoe+x@acme.example", with_login=False)
    make_customer(email="j.doe@outlook.com", with_login=False)
    make_customer(email="jdoe@outlook.com", with_login=False)

    assert pairs(agent) == {}


def test_another_address_of_one_equal_to_the_primary_of_another_is_a_candidate(agent):
    first = make_customer(email="old@acme.example", with_login=False)
    second = make_customer(email="new@acme.example", with_login=False)
    CustomerEmail.objects.create(customer=second, email="OLD@acme.example")

    assert pairs(agent) == {(first.pk, second.pk): ["other_email"]}


def test_the_same_name_in_the_same_organization_is_a_candidate(agent):
    acme, other = make_organization("Acme"), make_organization("Other")
    first = make_customer(name="Wang Fang", organization=acme, with_login=False)
    second = make_customer(name="wang fang ", organization=acme, with_login=False)
    make_customer(name="Wang Fang", organization=other, with_login=False)
    make_customer(name="Wang Fang", with_login=False)

    assert pairs(agent) == {(first.pk, second.pk): ["name_organization"]}


def test_several_reasons_are_listed_together(agent):
    acme = make_organization("Acme")
    first = make_customer(name="Li", email="li@gmail.com", organization=acme, with_login=False)
    second = make_customer(name="Li", email="l.i@gmail.com", organization=acme, with_login=False)
    Customer.objects.filter(pk__in=[first.pk, second.pk]).update(phone_numbers=["+8613812345678"])

    assert pairs(agent) == {(first.pk, second.pk): ["email", "name_organization", "phone"]}


def test_the_duplicates_page_lists_pairs_and_merges_after_confirmation(agent, support, django_assert_max_num_queries):
    kept = make_customer(email="wang@gmail.com", name="Wang Fang", with_login=False)
    duplicate = make_customer(email="wang+phone@gmail.com", name="Caller", with_login=False)
    ticket = make_ticket(requester=duplicate, team=support)
    client = client_for(agent)
    client.get(reverse("customers:duplicates"))

    with django_assert_max_num_queries(12):
        page = client.get(reverse("customers:duplicates"))
    assert f'data-pair="{kept.pk}-{duplicate.pk}"' in page.content.decode()
    assert 'data-reason="email"' in page.content.decode()

    confirm_url = reverse("customers:duplicate_merge")
    confirmation = client.get(confirm_url, {"source": duplicate.pk, "target": kept.pk})
    assert confirmation.status_code == 200 and "data-confirm-merge" in confirmation.content.decode()
    assert Customer.objects.filter(pk=duplicate.pk).exists()  # asking changes nothing

    response = client.post(confirm_url, {"source": duplicate.pk, "target": kept.pk})

    assert response.status_code == 302 and response["Location"] == reverse("customers:customer_detail", args=[kept.pk])
    assert not Customer.objects.filter(pk=duplicate.pk).exists()
    ticket.refresh_from_db()
    assert ticket.requester_id == kept.pk
    event = Event.objects.get(ticket=ticket, kind="requester_changed")
    assert (event.actor_user, event.from_value, event.to_value) == (agent, "Caller", "Wang Fang")
    assert list(kept.other_emails.values_list("email", flat=True)) == ["wang+phone@gmail.com"]
    assert pairs(agent) == {}


def test_customers_cannot_merge_or_list_duplicates(agent):
    first = make_customer(email="a@gmail.com")
    second = make_customer(email="a+b@gmail.com", with_login=False)
    client = client_for(first.user)

    assert client.get(reverse("customers:duplicates")).status_code == 403
    response = client.post(reverse("customers:duplicate_merge"), {"source": second.pk, "target": first.pk})

    assert response.status_code == 403
    assert Customer.objects.count() == 2


def test_merging_keeps_the_targets_fields_and_adds_the_missing_ones(agent):
    from tickets.customers.services import customer_merge_into

    target = make_customer(email="t@example.com", with_login=False)
    source = make_customer(email="s@example.com", with_login=False)
    Customer.objects.filter(pk=target.pk).update(notes="VIP", custom_fields={"plan": "pro"})
    Customer.objects.filter(pk=source.pk).update(notes="Calls often", custom_fields={"plan": "free", "region": "EU"})
    target.refresh_from_db()
    source.refresh_from_db()

    customer_merge_into(source=source, target=target, actor=agent)

    target.refresh_from_db()
    assert target.notes == "VIP\n\nCalls often"
    assert target.custom_fields == {"plan": "pro", "region": "EU"}
