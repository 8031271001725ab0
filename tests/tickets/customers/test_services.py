"""customer_update and custom fields by what they apply to."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from tests.factories import make_customer, make_ticket
from tests.tickets.customers.conftest import client_for
from tickets.custom_fields import validate_custom_fields
from tickets.customers.services import customer_update
from tickets.models import CustomFieldDefinition

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields():
    CustomFieldDefinition.objects.create(key="segment", label="Segment", field_type="select",
                                         choices=["smb", "enterprise"], applies_to="customer")
    CustomFieldDefinition.objects.create(key="renewal", label="Renewal", field_type="date", applies_to="customer",
                                         is_required=True)
    CustomFieldDefinition.objects.create(key="order", label="Order", field_type="text", is_required=True)


def test_ticket_validation_knows_only_ticket_fields(fields):
    with pytest.raises(ValidationError) as error:
        validate_custom_fields({"order": "A1", "segment": "smb"})
    assert error.value.message_dict == {"segment": ["Unknown field."]}
    # The required customer field is not required on tickets.
    assert validate_custom_fields({"order": "A1"}) == {"order": "A1"}


def test_customer_validation_knows_only_customer_fields(fields):
    with pytest.raises(ValidationError) as error:
        validate_custom_fields({"order": "A1", "renewal": "2027-01-31"}, applies_to="customer")
    assert error.value.message_dict == {"order": ["Unknown field."]}
    assert validate_custom_fields({"renewal": "2027-01-31"}, applies_to="customer") == {"renewal": "2027-01-31"}


def test_a_ticket_with_a_customer_field_is_refused(fields, support):
    with pytest.raises(ValidationError):
        make_ticket(team=support, custom_fields={"order": "A1", "segment": "smb"})


def test_customer_update_saves_notes_and_validated_fields(fields, agent):
    customer = make_customer()

    customer_update(customer=customer, actor=agent, notes="  Likes email.  ",
                    custom_fields={"segment": "enterprise", "renewal": "2027-01-31"})

    customer.refresh_from_db()
    assert customer.notes == "Likes email."
    assert customer.custom_fields == {"segment": "enterprise", "renewal": "2027-01-31"}


def test_customer_update_refuses_bad_values_and_changes_nothing(fields, agent):
    customer = make_customer()

    with pytest.raises(ValidationError):
        customer_update(customer=customer, actor=agent, notes="x", custom_fields={"segment": "galactic",
                                                                                  "renewal": "2027-01-31"})
    with pytest.raises(ValidationError):
        customer_update(customer=customer, actor=agent, custom_fields={"segment": "smb"})  # renewal required

    customer.refresh_from_db()
    assert (customer.notes, customer.custom_fields) == ("", {})


def test_customers_cannot_update_customers(fields):
    customer = make_customer()

    with pytest.raises(PermissionDenied):
        customer_update(customer=customer, actor=customer.user, notes="I am great")


def test_agents_edit_notes_and_fields_on_the_customer_page(fields, agent):
    customer = make_customer()
    client = client_for(agent)
    url = reverse("customers:customer_edit", args=[customer.pk])

    response = client.post(url, {"notes": "Call before noon", "cf_segment": "smb", "cf_renewal": "2027-03-01"})

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.notes == "Call before noon"
    assert customer.custom_fields == {"segment": "smb", "renewal": "2027-03-01"}
    page = client.get(reverse("customers:customer_detail", args=[customer.pk])).content.decode()
    assert "Call before noon" in page and 'value="2027-03-01"' in page

    bad = client.post(url, {"notes": "Changed", "cf_segment": "galactic", "cf_renewal": "2027-03-01"}, follow=True)

    assert "Not a valid value for Segment." in bad.content.decode()
    customer.refresh_from_db()
    assert customer.notes == "Call before noon"
