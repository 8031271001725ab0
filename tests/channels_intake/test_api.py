"""The HTTP door: POST /api/v1/intake/email/ with a raw MIME message."""

from __future__ import annotations

import pytest
import yaml
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from channels_intake.models import Door, RawInbound, RawInboundState
from tests.channels_intake.helpers import SUPPORT_ADDRESS, build_mail
from tests.factories import make_user
from tickets.models import Role, Ticket

pytestmark = pytest.mark.django_db
URL = "/api/v1/intake/email/"
RELAY_TOKEN = "relay-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def _relay_token(settings):
    settings.HELPDESK_EMAIL_INTAKE_TOKEN = RELAY_TOKEN


def post(client, raw: bytes, *, authorization: str | None = f"Bearer {RELAY_TOKEN}",
         content_type: str = "message/rfc822", query: str = ""):
    headers = {"authorization": authorization} if authorization else {}
    return client.post(URL + query, data=raw, content_type=content_type, headers=headers)


def test_relay_delivers_a_mail_that_becomes_a_ticket(client, support_team, celery_eager,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, build_mail(subject="Via relay"),
                        query=f"?recipient={SUPPORT_ADDRESS}&recipient=other@example.com&sender=ann@customer.example")

    assert response.status_code == 202
    row = RawInbound.objects.get()
    assert response.json() == {"id": row.pk, "state": "received"}
    assert (row.door, row.state) == (Door.HTTP, RawInboundState.PROCESSED)
    assert (row.envelope_sender, row.envelope_recipients) == (
        "ann@customer.example", [SUPPORT_ADDRESS, "other@example.com"]
    )
    assert Ticket.objects.get().subject == "Via relay"


def test_octet_stream_is_accepted_and_stored_byte_for_byte(client):
    raw = build_mail(subject="Bytes").replace(b"It started", b"It \xe6\x97\xa5 started")

    response = post(client, raw, content_type="application/octet-stream")

    assert response.status_code == 202
    assert bytes(RawInbound.objects.get().raw) == raw


def test_mail_larger_than_djangos_request_body_limit_is_still_accepted(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    raw = build_mail(attachments=[("a.bin", "application/octet-stream", b"\x01" * 50_000)])

    response = post(client, raw)

    assert response.status_code == 202
    assert RawInbound.objects.get().size == len(raw)


def test_mail_over_the_intake_limit_is_refused_and_not_stored(client, settings):
    settings.HELPDESK_EMAIL_MAX_BYTES = 2000

    response = post(client, build_mail(body="x" * 5000))

    assert response.status_code == 413
    assert RawInbound.objects.count() == 0


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x"])
def test_other_content_types_are_refused(client, content_type):
    response = post(client, build_mail(), content_type=content_type)

    assert response.status_code == 415
    assert RawInbound.objects.count() == 0


def test_empty_body_is_refused(client):
    assert post(client, b"  \r\n").status_code == 400
    assert RawInbound.objects.count() == 0


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Bearer", f"Basic {RELAY_TOKEN}"])
def test_without_the_relay_token_nothing_is_stored(client, authorization):
    response = post(client, build_mail(), authorization=authorization)

    assert response.status_code in (401, 403)
    assert RawInbound.objects.count() == 0


def test_no_relay_token_configured_means_no_bearer_access(client, settings):
    settings.HELPDESK_EMAIL_INTAKE_TOKEN = ""

    assert post(client, build_mail(), authorization="Bearer ").status_code == 401
    assert RawInbound.objects.count() == 0


def test_an_admins_api_token_may_deliver_but_an_agents_may_not(client):
    admin = make_user(role=Role.ADMIN)
    agent = make_user(role=Role.AGENT)

    as_agent = post(client, build_mail(), authorization=f"Token {Token.objects.create(user=agent).key}")
    as_admin = post(client, build_mail(), authorization=f"Token {Token.objects.create(user=admin).key}")

    assert as_agent.status_code == 403
    assert as_admin.status_code == 202
    assert RawInbound.objects.count() == 1


def test_endpoint_is_documented_in_the_openapi_schema(client):
    GENERATOR_STATS.reset()
    schema = yaml.safe_load(client.get("/api/schema/").content)

    operation = schema["paths"][URL]["post"]
    assert set(operation["requestBody"]["content"]) == {"message/rfc822", "application/octet-stream"}
    assert set(operation["responses"]) >= {"202", "401", "403", "413", "415"}
    assert {"recipient", "sender"} <= {parameter["name"] for parameter in operation["parameters"]}
    assert {"mailRelayToken": []} in operation["security"]
    assert schema["components"]["securitySchemes"]["mailRelayToken"]["scheme"] == "bearer"
    SchemaGenerator().get_schema(request=None, public=True)
    warnings = [message for message in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
                if "channels_intake" in message or "intake" in message]
    assert warnings == []
