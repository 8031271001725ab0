import pytest

from tests.factories import PASSWORD, make_customer, make_user
from tickets.models import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [Role.AGENT, Role.TEAM_LEAD, Role.MANAGER])
def test_only_admins_reach_the_admin_site(client, role):
    user = make_user(role=role, is_staff=True)
    client.force_login(user)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_customer_with_django_staff_flag_still_cannot_use_admin(client):
    customer = make_customer()
    customer.user.is_staff = True
    customer.user.save()
    client.force_login(customer.user)

    assert client.get("/admin/tickets/ticket/").status_code == 302


def test_admin_reads_audit_log_but_cannot_edit_tickets(client):
    admin_user = make_user(role=Role.ADMIN, is_staff=True, is_superuser=True, password=PASSWORD)
    client.force_login(admin_user)

    assert client.get("/admin/tickets/event/").status_code == 200
    assert client.get("/admin/tickets/ticket/add/").status_code == 403
