"""A manager reads the metrics dashboard: charts drawn from the figures, a filter that changes them,
a click on a figure or a chart bar that opens its tickets; an agent's own figures follow the
workers' rollups without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import in_db_thread, login
from tests.metrics.test_views import build_desk

pytestmark = pytest.mark.browser


def listed_numbers(page) -> set[int]:
    rows = page.locator("#drilldown-tickets tbody tr")
    return {int(number) for number in rows.evaluate_all("rows => rows.map(row => row.dataset.ticket)")}


def chart_total(page, chart: str) -> float:
    """The sum of every value an ECharts chart on the page was given."""
    return page.evaluate(
        """(name) => {
            const chart = echarts.getInstanceByDom(document.querySelector(`[data-chart="${name}"]`));
            return chart.getOption().series.reduce(
                (sum, series) => sum + series.data.reduce((a, b) => a + (b || 0), 0), 0);
        }""",
        chart,
    )


def test_manager_dashboard_charts_filter_and_drilldown(new_page):
    desk = in_db_thread(build_desk)
    page = new_page()
    login(page, desk.manager.username)

    page.goto("/agent/metrics/?period=today")

    # The charts are drawn (a canvas each) from the period's figures.
    for chart in ("volume", "times", "satisfaction", "backlog"):
        expect(page.locator(f'[data-chart="{chart}"] canvas')).to_have_count(1)
    assert chart_total(page, "volume") == 4
    assert chart_total(page, "backlog") == 2
    volume = page.locator('[data-metric="volume"] [data-metric-value]')
    expect(volume).to_have_text("4")

    # A filter is a new query string, and the figures follow it.
    with page.expect_navigation():
        page.get_by_label("Channel", exact=True).select_option("email")
    assert "channel=email" in page.url
    expect(volume).to_have_text("2")
    assert chart_total(page, "volume") == 2

    # The figure opens its tickets.
    volume.click()
    expect(page).to_have_url(re.compile(r"/agent/metrics/tickets/\?.*metric=volume"))
    expect(page.locator("#drilldown-tickets tbody tr")).to_have_count(2)
    assert listed_numbers(page) == {desk.solved_email.number, desk.solved_billing.number}
    page.get_by_role("link", name=f"#{desk.solved_email.number}").click()
    expect(page).to_have_url(re.compile(rf"/agent/tickets/{desk.solved_email.number}/$"))

    # So does a bar of the volume chart: today's email tickets.
    page.goto("/agent/metrics/?period=today&channel=email")
    canvas = page.locator('[data-chart="volume"] canvas')
    expect(canvas).to_have_count(1)
    x, y = page.evaluate(
        """() => echarts.getInstanceByDom(document.querySelector('[data-chart="volume"]'))
                 .convertToPixel({seriesIndex: 0}, [0, 1])"""
    )
    page.locator('[data-chart="volume"]').click(position={"x": x, "y": y})
    expect(page).to_have_url(re.compile(r"/agent/metrics/tickets/\?.*metric=volume"))
    assert "channel=email" in page.url
    expect(page.locator("#drilldown-tickets tbody tr")).to_have_count(2)
    assert listed_numbers(page) == {desk.solved_email.number, desk.solved_billing.number}
    assert page.problems == []


def test_agents_figures_update_without_reload_when_the_rollups_change(new_page):
    from helpdesk import realtime
    from metrics.rollups import rollups_rebuild
    from metrics.services import ticket_facts_refresh
    from tickets.models import Status
    from tickets.services import ticket_set_status

    desk = in_db_thread(build_desk)
    page = new_page()
    login(page, desk.ada.username)
    page.goto("/agent/metrics/me/?period=today")
    solved_today = page.locator('[data-figures="today"] [data-metric="solved"] [data-metric-value]')
    expect(solved_today).to_have_text("1")
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")
    manager_page = new_page()
    login(manager_page, desk.manager.username)
    manager_page.goto("/agent/metrics/?period=today")
    backlog = manager_page.locator('[data-metric="backlog"] [data-metric-value]')
    expect(backlog).to_have_text("2")
    expect(manager_page.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")

    def solve_and_roll_up() -> None:
        # What the workers do: the ticket is solved, its facts and the rollups refreshed, the
        # dashboards told.
        ticket_set_status(ticket=desk.open_web, status=Status.SOLVED, actor=desk.ada)
        ticket_facts_refresh(ticket_ids=[desk.open_web.pk])
        rollups_rebuild()
        realtime.send_now([realtime.METRICS_GROUP], {"type": "metrics.updated"})

    in_db_thread(solve_and_roll_up)

    expect(solved_today).to_have_text("2")
    expect(page.locator('[data-queue="active"]')).to_have_text("0")
    assert page.url.endswith("/agent/metrics/me/?period=today")
    assert page.problems == []
    # The manager's figures and charts follow too.
    expect(backlog).to_have_text("1")
    expect(manager_page.locator('[data-chart="backlog"] canvas')).to_have_count(1)
    assert chart_total(manager_page, "backlog") == 1
    assert manager_page.problems == []
