"""The health score: each component on hand-computed fixtures, no data, bounds, and the nightly snapshots."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_customer, make_organization, make_ticket
from tests.tickets.customers.conftest import age, breach, rate
from tickets.customers.health import health_score, health_scores, health_snapshots_take, health_trend
from tickets.customers.tasks import health_snapshots_take as health_snapshots_task
from tickets.models import HealthSnapshot, Status

pytestmark = pytest.mark.django_db


def points(score, component):
    return score.components[component]["points"]


def test_a_customer_without_any_data_scores_the_neutral_90():
    customer = make_customer()

    score = health_score(customer=customer)

    assert score.score == 90
    assert points(score, "satisfaction") == 30 and score.components["satisfaction"]["neutral"] is True
    assert points(score, "open_tickets") == 25
    assert points(score, "reopens") == 15 and score.components["reopens"]["neutral"] is True
    assert points(score, "contacts") == 20 and score.components["contacts"]["neutral"] is True


def test_each_component_on_a_hand_computed_customer(support):
    customer = make_customer()
    open_breached = make_ticket(requester=customer, team=support)
    breach(open_breached)
    make_ticket(requester=customer, team=support)  # open, within its targets
    solved = age(make_ticket(requester=customer, team=support), days=10, status=Status.SOLVED)
    reopened = age(make_ticket(requester=customer, team=support), days=20, status=Status.SOLVED, reopen_count=2)
    # Outside the 90 days: neither a contact nor a reopen, and its old answer does not count.
    old = age(make_ticket(requester=customer, team=support), days=120, status=Status.CLOSED, reopen_count=1)
    rate(old, 1, days=100)
    rate(solved, 5)
    rate(reopened, 4)
    rate(open_breached, 2)

    score = health_score(customer=customer)

    # satisfaction 40 × 2/3; open 25 − 5 − 10; reopens 15 × (1 − 2 × 1/4); contacts 4 per 90 days ≤ baseline.
    assert points(score, "satisfaction") == pytest.approx(26.7)
    assert score.components["satisfaction"] | {"points": 0} == {
        "points": 0, "max": 40, "neutral": False, "answered": 3, "good": 2}
    assert points(score, "open_tickets") == 10
    assert (score.components["open_tickets"]["open"], score.components["open_tickets"]["breached"]) == (2, 1)
    assert points(score, "reopens") == 7.5
    assert points(score, "contacts") == 20
    assert score.score == 64  # round(26.67 + 10 + 7.5 + 20)


def test_an_old_ticket_still_open_counts_as_open(support):
    customer = make_customer()
    age(make_ticket(requester=customer, team=support), days=200)

    score = health_score(customer=customer)

    assert score.components["open_tickets"]["open"] == 1 and points(score, "open_tickets") == 20
    assert score.components["reopens"]["neutral"] is True


def test_contacts_above_the_baseline_lose_points_in_proportion(support):
    customer = make_customer()
    for days in range(9):
        age(make_ticket(requester=customer, team=support), days=days + 1, status=Status.SOLVED)

    score = health_score(customer=customer)

    # 9 tickets in 90 days = 3 per 30 days against a baseline of 2: 20 × 2/3.
    assert score.components["contacts"]["per_30_days"] == 3
    assert points(score, "contacts") == pytest.approx(13.3)
    assert score.score == round(30 + 25 + 15 + 20 * 2 / 3)


def test_the_contact_baseline_is_a_setting(support, settings):
    settings.HELPDESK_HEALTH_CONTACT_BASELINE = 6
    customer = make_customer()
    for days in range(9):
        age(make_ticket(requester=customer, team=support), days=days + 1, status=Status.SOLVED)

    assert points(health_score(customer=customer), "contacts") == 20


def test_the_score_never_goes_below_zero_and_components_bottom_out(support):
    customer = make_customer()
    for _ in range(30):
        ticket = age(make_ticket(requester=customer, team=support), days=5, reopen_count=1)
        breach(ticket)
        rate(ticket, 1)

    score = health_score(customer=customer)

    assert (points(score, "satisfaction"), points(score, "open_tickets"), points(score, "reopens")) == (0, 0, 0)
    # 30 tickets = 10 per 30 days: 20 × 2/10.
    assert points(score, "contacts") == 4
    assert score.score == 4


def test_a_perfect_customer_scores_100(support):
    customer = make_customer()
    ticket = age(make_ticket(requester=customer, team=support), days=3, status=Status.SOLVED)
    rate(ticket, 5)

    assert health_score(customer=customer).score == 100


def test_organization_rolls_up_its_tickets_and_scales_the_baseline_by_active_customers(support):
    organization = make_organization()
    first, second = make_customer(organization=organization), make_customer(organization=organization)
    for customer in (first, second):
        for days in range(5):
            age(make_ticket(requester=customer, team=support), days=days + 1, status=Status.SOLVED)
    rate(first.tickets.first(), 5)
    rate(second.tickets.first(), 1)

    score = health_score(organization=organization)

    # 10 tickets = 3.33 per 30 days against 2 customers × 2: full points; CSAT 1 good of 2.
    assert score.components["contacts"]["baseline"] == 4
    assert points(score, "contacts") == 20
    assert points(score, "satisfaction") == 20
    assert score.score == 80


def test_scores_of_many_customers_take_one_query(support):
    customers = [make_customer() for _ in range(5)]
    for customer in customers:
        make_ticket(requester=customer, team=support)

    with CaptureQueriesContext(connection) as queries:
        scores = health_scores(subject="customer", ids=[customer.pk for customer in customers])

    assert len(queries) == 1
    assert {customer.pk: scores[customer.pk].score for customer in customers} == {c.pk: 85 for c in customers}


def test_snapshots_cover_every_active_subject_in_two_statements_and_rerunning_updates_the_day(support):
    organization = make_organization()
    active = make_customer(organization=organization)
    quiet = make_customer()
    ticket = make_ticket(requester=active, team=support)
    age(make_ticket(requester=quiet, team=support), days=200, status=Status.CLOSED)

    with CaptureQueriesContext(connection) as queries:
        written = health_snapshots_take()

    # One INSERT … SELECT per kind of subject (plus the savepoint of the transaction at most).
    assert len([q for q in queries if "INSERT" in q["sql"]]) == 2
    assert written == {"customer": 1, "organization": 1}
    today = timezone.localdate()
    snapshot = HealthSnapshot.objects.get(customer=active)
    assert (snapshot.day, snapshot.score) == (today, 85)
    assert HealthSnapshot.objects.get(organization=organization).score == 85
    assert not HealthSnapshot.objects.filter(customer=quiet).exists()

    breach(ticket)
    health_snapshots_take()

    assert HealthSnapshot.objects.filter(customer=active).count() == 1
    assert HealthSnapshot.objects.get(customer=active).score == 80  # 30 + (25 − 10) + 15 + 20
    assert HealthSnapshot.objects.get(customer=active).components["open_tickets"]["breached"] == 1


def test_the_task_takes_the_snapshots(support):
    task = health_snapshots_task
    make_ticket(team=support)

    assert task.name == "tickets.customers.tasks.health_snapshots_take"
    assert task.apply().get() == {"customer": 1, "organization": 0}
    assert HealthSnapshot.objects.count() == 1


def test_trend_lists_the_last_90_days_and_todays_value_last(support):
    customer = make_customer()
    today = timezone.localdate()
    for days_ago, score in ((120, 10), (30, 50), (1, 60), (0, 11)):
        HealthSnapshot.objects.create(customer=customer, day=today - datetime.timedelta(days=days_ago), score=score)

    trend = health_trend(customer=customer, today=health_score(customer=customer))

    assert trend == [
        {"day": (today - datetime.timedelta(days=30)).isoformat(), "score": 50},
        {"day": (today - datetime.timedelta(days=1)).isoformat(), "score": 60},
        {"day": today.isoformat(), "score": 90},
    ]
