"""Finding or creating a requester by email, including two deliveries racing for the same new address."""

import threading

import pytest
from django.db import connections

from tickets.models import Customer
from tickets.services.customers import customer_find_or_create


@pytest.mark.django_db
def test_existing_customer_is_found_whatever_the_case_of_the_address():
    existing = customer_find_or_create(email="Dora@Example.com", name="Dora")

    assert customer_find_or_create(email="dora@EXAMPLE.com") == existing
    assert Customer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_customer_created_concurrently_is_returned_not_duplicated():
    # Another delivery inserts the same address (in other case) and commits only after our look-up
    # found nothing, so our INSERT waits on the unique index and then fails.
    inserted = threading.Event()

    def concurrent_delivery():
        other = connections.create_connection("default")
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                "INSERT INTO tickets_customer (name, email, phone_numbers, sees_organization_tickets, language,"
                " timezone, tier, created_at) VALUES ('Race', 'RACE@example.com', '{}', false, '', '', 'standard',"
                " now())"
            )
            inserted.set()
            threading.Event().wait(0.5)
            cursor.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=concurrent_delivery)
    thread.start()
    inserted.wait(5)
    try:
        customer = customer_find_or_create(email="race@example.com", name="Mine")
    finally:
        thread.join(5)

    assert customer.name == "Race"
    assert list(Customer.objects.values_list("email", flat=True)) == ["RACE@example.com"]
