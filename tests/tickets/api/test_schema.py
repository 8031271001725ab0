"""The OpenAPI schema and docs, and that the hand-written renderers match the documented fields."""

import pytest
import yaml
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from tests.factories import make_ticket
from tickets.apis.serializers import MessageSerializer, TicketSerializer

pytestmark = pytest.mark.django_db

API_PATHS = [
    "/api/v1/auth/token/", "/api/v1/tickets/", "/api/v1/tickets/{number}/", "/api/v1/tickets/{number}/messages/",
    "/api/v1/tickets/{number}/merge/", "/api/v1/customers/", "/api/v1/customers/{id}/", "/api/v1/organizations/",
    "/api/v1/organizations/{id}/", "/api/v1/teams/", "/api/v1/teams/{id}/", "/api/v1/users/", "/api/v1/users/{id}/",
    "/api/v1/tags/", "/api/v1/custom-fields/",
]


def test_schema_is_served_and_lists_the_ticket_endpoints(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert set(API_PATHS) <= set(schema["paths"])
    assert set(schema["paths"]["/api/v1/tickets/"]) >= {"get", "post"}
    assert "patch" in schema["paths"]["/api/v1/tickets/{number}/"]
    list_parameters = {p["name"] for p in schema["paths"]["/api/v1/tickets/"]["get"]["parameters"]}
    assert {"status", "team", "assignee", "priority", "channel", "updated_after", "q", "sort", "cursor"} <= list_parameters


def test_schema_of_these_endpoints_is_valid_and_without_warnings():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    ours = [message for message in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
            if "tickets/apis" in message or "/api/v1/" in message]
    assert ours == []


def test_docs_page_renders_from_our_own_origin_under_the_csp(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<div id="swagger-ui"></div>' in html
    # Swagger UI comes from our static files and its start-up script from a URL: no CDN, no inline script,
    # so the strict Content-Security-Policy of every page lets it run.
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "<script>" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert script["Content-Type"] == "application/javascript"
    assert "/api/schema/" in script.content.decode()


def test_ticket_renderer_matches_documented_fields(as_agent, support):
    make_ticket(team=support)

    row = as_agent.get("/api/v1/tickets/").json()["results"][0]

    assert set(row) == set(TicketSerializer().fields)


def test_message_renderer_matches_documented_fields(as_agent, support):
    ticket = make_ticket(team=support)

    row = as_agent.get(f"/api/v1/tickets/{ticket.number}/messages/").json()["results"][0]

    assert set(row) == set(MessageSerializer().fields)
