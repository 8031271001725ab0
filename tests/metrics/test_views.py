"""The dashboards under /agent/metrics/: who may open them, what they show, and the drill-down lists
exactly the tickets behind a figure, never one outside the caller's scope.

The desk is built through the real ticket services today, then the facts and rollups are computed
as the workers would (`ticket_facts_refresh`, `rollups_rebuild`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from metrics.rollups import rollups_rebuild
from metrics.services import ticket_facts_refresh
from tests.factories import make_agent, make_customer, make_team, make_ticket, make_user
from tickets.models import Role, Status, Team, Ticket, User
from tickets.services import ticket_reply, ticket_set_status


@dataclass
class Desk:
    support: Team
    billing: Team
    ada: User  # agent in Support
    bob: User  # agent in Billing
    lead: User  # leads Support
    manager: User
    solved_email: Ticket  # Support, email, Ada: answered once and solved (FCR)
    open_web: Ticket  # Support, web, Ada: answered, still open
    solved_billing: Ticket  # Billing, email, Bob: answered once and solved (FCR)
    new_chat: Ticket  # Billing, chat, nobody: never answered


def build_desk() -> Desk:
    """Four tickets created today in two teams, facts and rollups computed."""
    support, billing = make_team("Support", slug="support"), make_team("Billing", slug="billing")
    ada = make_agent(support, username="ada", first_name="Ada")
    bob = make_agent(billing, username="bob", first_name="Bob")
    lead = make_user(role=Role.TEAM_LEAD, username="lena", first_name="Lena", teams=[support], lead_of=[support])
    manager = make_user(role=Role.MANAGER, username="max", first_name="Max")
    customer = make_customer(email="carol@example.com")

    solved_email = make_ticket(requester=customer, team=support, assignee=ada, channel="email",
                               subject="Printer on fire")
    ticket_reply(ticket=solved_email, actor=ada, body_text="Unplug it.")
    ticket_set_status(ticket=solved_email, status=Status.SOLVED, actor=ada)
    open_web = make_ticket(requester=customer, team=support, assignee=ada, channel="web", subject="Scanner jams")
    ticket_reply(ticket=open_web, actor=ada, body_text="Which model?")
    solved_billing = make_ticket(team=billing, assignee=bob, channel="email", subject="Invoice twice")
    ticket_reply(ticket=solved_billing, actor=bob, body_text="Refunded.")
    ticket_set_status(ticket=solved_billing, status=Status.SOLVED, actor=bob)
    new_chat = make_ticket(team=billing, channel="chat", subject="Card declined")

    ticket_facts_refresh(ticket_ids=list(Ticket.objects.values_list("pk", flat=True)))
    rollups_rebuild()
    return Desk(support, billing, ada, bob, lead, manager, solved_email, open_web, solved_billing, new_chat)


@pytest.fixture
def desk(db) -> Desk:
    return build_desk()


def numbers_listed(response) -> set[int]:
    return {int(number) for number in re.findall(r'data-ticket="(\d+)"', response.content.decode())}


def figure(response, name: str) -> str:
    """The text of a headline card's value."""
    match = re.search(rf'data-metric="{name}".*?data-metric-value>([^<]*)<', response.content.decode(), re.S)
    assert match, f"no {name} card"
    return match.group(1).strip()


DASHBOARD = "/agent/metrics/"


def page_with_parts(client, response) -> str:
    """The dashboard as a browser ends up showing it: the page, then the parts it loads right after
    (the trend charts and each breakdown, `data-metrics-part` … `hx-get="?…&part=…"`)."""
    page = response.content.decode()
    parts = re.findall(r'data-metrics-part="[^"]+" hx-get="([^"]+)"', page)
    assert len(parts) == 4, parts
    for url in parts:
        part = client.get(DASHBOARD + url.replace("&amp;", "&"))
        assert part.status_code == 200
        page += part.content.decode()
    return page
ME = "/agent/metrics/me/"
DRILLDOWN = "/agent/metrics/tickets/"


def test_manager_sees_every_team_headline_charts_and_breakdowns(client, desk):
    client.force_login(desk.manager)

    response = client.get(DASHBOARD, {"period": "today"})

    assert response.status_code == 200
    assert figure(response, "volume") == "4"
    assert figure(response, "backlog") == "2"
    assert figure(response, "fcr_rate") == "100.0%"
    page = page_with_parts(client, response)
    for chart in ("volume", "times", "satisfaction", "backlog"):
        assert f'data-chart="{chart}"' in page
    assert 'id="metrics-chart-data"' in page and 'id="metrics-texts"' in page
    assert "vendor/echarts/dist/echarts.min.js" in page
    # Breakdowns by team, agent and channel, each with its exports carrying the filters.
    for by in ("team", "agent", "channel"):
        assert f'data-breakdown="{by}"' in page
    team_rows = re.findall(r'data-breakdown="team".*?</section>', page, re.S)[0]
    assert "Support" in team_rows and "Billing" in team_rows
    export = re.search(r'href="([^"]*by=team[^"]*format=csv[^"]*)"', page)
    assert export, "no CSV export of the team breakdown"
    export_url = export.group(1).replace("&amp;", "&")
    query = parse_qs(urlparse(export_url).query)
    assert query["period"] == ["custom"] and query["format"] == ["csv"]
    download = client.get(export_url)
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert "Support" in download.content.decode("utf-8-sig") and "Billing" in download.content.decode("utf-8-sig")


def test_a_filter_in_the_query_string_changes_the_figures(client, desk):
    client.force_login(desk.manager)

    email_only = client.get(DASHBOARD, {"period": "today", "channel": "email"})
    support_only = client.get(DASHBOARD, {"period": "today", "team": desk.support.pk})

    assert figure(email_only, "volume") == "2"
    assert figure(support_only, "volume") == "2"
    assert figure(support_only, "backlog") == "1"


def test_team_lead_sees_only_their_team(client, desk):
    client.force_login(desk.lead)

    response = client.get(DASHBOARD, {"period": "today"})

    assert response.status_code == 200
    assert figure(response, "volume") == "2"
    team_rows = re.findall(r'data-breakdown="team".*?</section>', page_with_parts(client, response), re.S)[0]
    assert "Support" in team_rows and "Billing" not in team_rows
    assert ">Billing</option>" not in response.content.decode()  # not offered in the filter either
    # Asking for another team's figures is refused, not silently widened.
    assert client.get(DASHBOARD, {"period": "today", "team": desk.billing.pk}).status_code == 403


def test_agent_is_sent_to_their_own_dashboard(client, desk):
    client.force_login(desk.ada)

    response = client.get(DASHBOARD, {"period": "7d"})

    assert response.status_code == 302
    assert response["Location"] == f"{ME}?period=7d"


def test_agent_dashboard_shows_own_figures_and_queue_health(client, desk):
    client.force_login(desk.ada)

    response = client.get(ME, {"period": "today"})

    assert response.status_code == 200
    page = response.content.decode()
    today = re.findall(r'data-figures="today".*?</section>', page, re.S)[0]
    assert re.search(r'data-metric="solved".*?data-metric-value>1<', today, re.S)
    assert re.search(r'data-queue="active"><a [^>]*>1<', page)  # the open web ticket
    assert f'data-queue="oldest"><a href="/agent/tickets/{desk.open_web.number}/"' not in page  # answered last
    assert "data-metrics-live" in page
    # The live refresh asks for the figures only.
    fragment = client.get(ME, {"period": "today"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert 'data-figures="today"' in fragment.content.decode()


@pytest.mark.parametrize("path", [DASHBOARD, ME, f"{DRILLDOWN}?metric=volume"])
def test_customer_is_refused(client, desk, path):
    customer = make_customer(email="dora@example.com")
    client.force_login(customer.user)

    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", [DASHBOARD, ME, f"{DRILLDOWN}?metric=volume"])
def test_anonymous_visitor_is_sent_to_sign_in(client, desk, path):
    response = client.get(path)

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_drilldown_lists_exactly_the_tickets_behind_the_figure(client, desk):
    client.force_login(desk.manager)

    def listed(metric: str, **filters: str) -> set[int]:
        response = client.get(DRILLDOWN, {"metric": metric, "period": "today", **filters})
        assert response.status_code == 200
        return numbers_listed(response)

    everyone = {desk.solved_email.number, desk.open_web.number, desk.solved_billing.number, desk.new_chat.number}
    assert listed("volume") == everyone
    assert listed("volume", channel="email") == {desk.solved_email.number, desk.solved_billing.number}
    assert listed("fcr") == {desk.solved_email.number, desk.solved_billing.number}
    assert listed("backlog") == {desk.open_web.number, desk.new_chat.number}
    assert listed("frt", team=str(desk.support.pk)) == {desk.solved_email.number, desk.open_web.number}


def test_drilldown_never_lists_a_ticket_outside_the_callers_scope(client, desk):
    client.force_login(desk.lead)
    response = client.get(DRILLDOWN, {"metric": "volume", "period": "today"})
    assert numbers_listed(response) == {desk.solved_email.number, desk.open_web.number}
    assert client.get(DRILLDOWN, {"metric": "volume", "period": "today", "team": desk.billing.pk}).status_code == 403

    client.force_login(desk.bob)
    response = client.get(DRILLDOWN, {"metric": "volume", "period": "today"})
    assert numbers_listed(response) == {desk.solved_billing.number}
    assert client.get(DRILLDOWN, {"metric": "volume", "period": "today", "agent": desk.ada.pk}).status_code == 403


def test_headline_cards_link_to_their_drilldown(client, desk):
    client.force_login(desk.manager)
    response = client.get(DASHBOARD, {"period": "today", "channel": "email"})

    link = re.search(r'data-metric="volume".*?<a class="metric-card__value" href="([^"]+)"', response.content.decode(), re.S)
    assert link
    drilldown = client.get(link.group(1).replace("&amp;", "&"))

    assert numbers_listed(drilldown) == {desk.solved_email.number, desk.solved_billing.number}
    page = drilldown.content.decode()
    assert f'href="{reverse("agent:ticket", args=[desk.solved_email.number])}"' in page
    assert "Channel: Email" in page  # the filter carried over is said


def test_breakdown_cells_link_to_the_rows_tickets(client, desk):
    client.force_login(desk.manager)
    page = page_with_parts(client, client.get(DASHBOARD, {"period": "today"}))

    team_table = re.findall(r'data-breakdown="team".*?</section>', page, re.S)[0]
    support_row = re.search(rf'data-row-key="{desk.support.pk}">(.*?)</tr>', team_table, re.S).group(1)
    link = re.search(r'data-column="volume"><a href="([^"]+)"', support_row).group(1).replace("&amp;", "&")
    assert numbers_listed(client.get(link)) == {desk.solved_email.number, desk.open_web.number}


def test_bad_filters_show_a_message_instead_of_an_error(client, desk):
    client.force_login(desk.manager)

    response = client.get(DASHBOARD, {"period": "custom", "start": "2026-13-01", "end": "2026-12-01"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert client.get(DRILLDOWN, {"metric": "nonsense"}).status_code == 400


def test_dashboard_query_count_does_not_grow_with_tickets(client, desk, django_assert_max_num_queries):
    client.force_login(desk.manager)
    client.get(DASHBOARD, {"period": "today"})  # warm the directory cache
    # The page (summary) and its parts (time series, three breakdowns): a fixed number of aggregate
    # queries each, 24 in all today, plus each part request's own session and user reads.
    with django_assert_max_num_queries(30):
        response = client.get(DASHBOARD, {"period": "today"})
        page_with_parts(client, response)
    assert response.status_code == 200
    for _ in range(5):
        make_ticket(team=desk.support, channel="phone")
    ticket_facts_refresh(ticket_ids=list(Ticket.objects.values_list("pk", flat=True)))
    rollups_rebuild()
    with django_assert_max_num_queries(30):
        response = client.get(DASHBOARD, {"period": "today"})
        page_with_parts(client, response)
    assert figure(response, "volume") == "9"


@pytest.mark.django_db(transaction=True)
def test_every_staff_socket_is_told_when_the_rollups_changed():
    """What the dashboards' script listens for: `metrics.updated`, with nothing else in it."""
    from asgiref.sync import async_to_sync, sync_to_async
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from helpdesk import realtime
    from tickets.routing import websocket_urlpatterns

    agent = make_agent(make_team())
    manager = make_user(role=Role.MANAGER)

    async def scenario():
        sockets = []
        for user in (agent, manager):
            communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
            communicator.scope["user"] = user
            connected, _ = await communicator.connect()
            assert connected
            sockets.append(communicator)
        # As the rollups helper sends it after a refresh batch.
        await sync_to_async(realtime.send_now)([realtime.METRICS_GROUP], {"type": "metrics.updated"})
        for communicator in sockets:
            assert await communicator.receive_json_from(timeout=10) == {"type": "metrics.updated"}
            await communicator.disconnect()

    async_to_sync(scenario)()
