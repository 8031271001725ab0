"""The agent ticket page: access, timeline, escaping, reply and note, fields, merge, live fragments."""

from __future__ import annotations

import re
import time
import zoneinfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from tests.factories import make_agent, make_customer, make_ticket, make_user
from tickets import presence
from tickets.models import (
    Attachment,
    CustomFieldDefinition,
    Event,
    Message,
    Organization,
    Priority,
    Role,
    Status,
    Ticket,
    Visibility,
)
from tickets.selectors import ticket_timeline
from tickets.services import incoming_from_upload, ticket_add_note, ticket_reply, ticket_update
from tickets.views.agent.timeline import timeline_entries

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(support):
    organization = Organization.objects.create(name="Acme Corp")
    requester = make_customer(email="alice@example.com", name="Alice Liddell", organization=organization,
                              with_login=False)
    return make_ticket(requester=requester, team=support, subject="Cannot export reports",
                       body="The export button does nothing.")


def page(client: Client, ticket: Ticket):
    return client.get(reverse("agent:ticket", args=[ticket.number]))


# ------------------------------------------------------------------------------------- access


def test_ticket_page_renders_thread_fields_and_requester(agent_client, agent, ticket):
    ticket_add_note(ticket=ticket, actor=agent, body_text="Checked the logs, looks like a timeout.")
    other = make_ticket(requester=ticket.requester, team=ticket.team, subject="Older question")
    response = page(agent_client, ticket)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cannot export reports" in html
    assert "The export button does nothing." in html
    assert "Checked the logs, looks like a timeout." in html
    assert "Alice Liddell" in html and "alice@example.com" in html and "Acme Corp" in html
    assert f"#{other.number} Older question" in html
    assert 'name="status"' in html and 'name="assignee"' in html and 'name="tags"' in html
    assert "created the ticket" in html


def test_internal_notes_are_visibly_distinct(agent_client, agent, ticket):
    note = ticket_add_note(ticket=ticket, actor=agent, body_text="Internal only")
    html = page(agent_client, ticket).content.decode()
    article = re.search(rf'<article class="message message--(\w+)" id="message-{note.pk}">(.*?)</article>', html, re.S)
    assert article.group(1) == "internal"
    assert "Internal note" in article.group(2)
    first = ticket.messages.order_by("id").first()
    assert f'<article class="message message--customer" id="message-{first.pk}">' in html


def test_agent_outside_the_team_gets_404(ticket, billing):
    outsider = make_agent(billing)
    client = Client()
    client.force_login(outsider)
    for name in ("agent:ticket", "agent:ticket_timeline", "agent:ticket_presence", "agent:ticket_fields"):
        assert client.get(reverse(name, args=[ticket.number])).status_code == 404, name
    assert client.post(reverse("agent:ticket_reply", args=[ticket.number]), {"body": "hi", "visibility": "public"}).status_code == 404
    assert client.post(reverse("agent:ticket_fields", args=[ticket.number]), {"status": "solved"}).status_code == 404
    assert client.post(reverse("agent:ticket_merge", args=[ticket.number]), {"target_number": 1}).status_code == 404
    assert ticket.messages.count() == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_missing_ticket_number_gives_404(agent_client):
    assert agent_client.get(reverse("agent:ticket", args=[99999999])).status_code == 404


def test_customer_gets_403_on_the_agent_ticket_page(ticket):
    customer = make_customer()
    client = Client()
    client.force_login(customer.user)
    assert page(client, ticket).status_code == 403


# ------------------------------------------------------------------------------------- escaping


def test_subject_with_html_is_escaped_on_the_ticket_page(agent_client, support):
    """Zammad CVE-2018-1000154: an email subject ran as script in the agent interface."""
    ticket = make_ticket(team=support, subject='<img src=x onerror=alert(1)>')
    html = page(agent_client, ticket).content.decode()
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_script_in_a_customer_message_never_reaches_the_page_unescaped(agent_client, support):
    """FreeScout CVE-2026-32754: a message body rendered without escaping in a template."""
    requester = make_customer(with_login=False)
    ticket = make_ticket(team=support, requester=requester, body="hello")
    ticket_reply(
        ticket=ticket, actor=None, author_customer=requester, channel="email",
        body_html='<p>Hi</p><script>alert("pwned")</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>',
    )
    ticket_reply(ticket=ticket, actor=None, author_customer=requester, body_text='<script>alert("text")</script>')
    html = page(agent_client, ticket).content.decode()
    assert "<script>alert" not in html
    assert "onerror" not in html
    assert "javascript:alert" not in html
    assert "&lt;script&gt;alert(&quot;text&quot;)&lt;/script&gt;" in html
    timeline = agent_client.get(reverse("agent:ticket_timeline", args=[ticket.number])).content.decode()
    assert "<script>alert" not in timeline and "onerror" not in timeline


def test_attachment_filename_is_escaped_and_links_to_the_download(agent_client, agent, ticket):
    upload = SimpleUploadedFile('<svg onload=alert(1)>.txt', b"hello", content_type="text/plain")
    response = agent_client.post(reverse("agent:ticket_reply", args=[ticket.number]), {
        "body": "See attached", "visibility": "internal", "attachments": [upload],
    })
    assert response.status_code == 302
    attachment = Attachment.objects.get(ticket=ticket)
    html = page(agent_client, ticket).content.decode()
    assert f'href="{reverse("attachment_download", args=[attachment.id])}"' in html
    assert "<svg onload" not in html


# ------------------------------------------------------------------------------------- reply and note


def test_public_reply_with_status_on_submit(agent_client, agent, ticket):
    response = agent_client.post(reverse("agent:ticket_reply", args=[ticket.number]), {
        "body": "Please try again <b>now</b>.", "visibility": "public", "status": "pending",
    })
    message = Message.objects.filter(ticket=ticket).order_by("-id").first()
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('agent:ticket', args=[ticket.number])}#message-{message.pk}"
    assert message.visibility == Visibility.PUBLIC
    assert message.author_user_id == agent.pk
    assert message.body_text == "Please try again <b>now</b>."
    assert "<b>" not in message.body_html
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert Event.objects.filter(ticket=ticket, kind="reply_added", actor_user=agent).count() == 1
    assert Event.objects.filter(ticket=ticket, kind="status_changed", to_value=Status.PENDING).count() == 1
    followed = agent_client.get(response["Location"]).content.decode()
    assert "Reply sent." in followed


def test_internal_note_through_the_form_keeps_the_status(agent_client, agent, ticket):
    response = agent_client.post(reverse("agent:ticket_reply", args=[ticket.number]), {
        "body": "Escalating to engineering.", "visibility": "internal", "status": "solved",
    })
    assert response.status_code == 302
    note = Message.objects.filter(ticket=ticket).order_by("-id").first()
    assert note.visibility == Visibility.INTERNAL
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    assert Event.objects.filter(ticket=ticket, kind="note_added").count() == 1


def test_empty_reply_is_refused_with_a_message(agent_client, ticket):
    response = agent_client.post(reverse("agent:ticket_reply", args=[ticket.number]), {"body": "  ", "visibility": "public"})
    assert response.status_code == 400
    assert "Write a message or attach a file." in response.content.decode()
    assert ticket.messages.count() == 1


def test_disallowed_status_on_submit_is_refused(agent_client, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.SOLVED)
    response = agent_client.post(reverse("agent:ticket_reply", args=[ticket.number]), {
        "body": "x", "visibility": "public", "status": "pending",
    })
    assert response.status_code == 400
    assert ticket.messages.count() == 1


def test_upload_over_the_limit_is_refused_clearly(agent_client, ticket, settings):
    settings.HELPDESK_MAX_UPLOAD_BYTES = 1024
    upload = SimpleUploadedFile("big.log", b"x" * 2048, content_type="text/plain")
    response = agent_client.post(reverse("agent:ticket_reply", args=[ticket.number]), {
        "body": "log attached", "visibility": "public", "attachments": [upload],
    })
    assert response.status_code == 400
    html = response.content.decode()
    assert "“big.log” is too large (0.0 MB); the limit is 0.0 MB per file." in html
    assert ticket.messages.count() == 1
    assert not Attachment.objects.filter(ticket=ticket).exists()


def test_reply_with_several_attachments(agent_client, ticket):
    files = [SimpleUploadedFile(f"f{i}.txt", b"data", content_type="text/plain") for i in range(2)]
    response = agent_client.post(reverse("agent:ticket_reply", args=[ticket.number]), {
        "body": "", "visibility": "public", "attachments": files,
    })
    assert response.status_code == 302
    message = Message.objects.filter(ticket=ticket).order_by("-id").first()
    assert sorted(message.attachments.values_list("filename", flat=True)) == ["f0.txt", "f1.txt"]


def test_closed_ticket_takes_notes_but_not_replies(agent_client, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    html = page(agent_client, ticket).content.decode()
    assert "This ticket is closed." in html
    assert 'value="public"' not in html
    response = agent_client.post(reverse("agent:ticket_reply", args=[ticket.number]), {"body": "x", "visibility": "public"})
    assert response.status_code == 400
    assert "closed" in response.content.decode()
    assert agent_client.post(reverse("agent:ticket_reply", args=[ticket.number]),
                             {"body": "x", "visibility": "internal"}).status_code == 302


# ------------------------------------------------------------------------------------- fields


def test_fields_sidebar_saves_through_ticket_update(agent_client, agent, ticket, support):
    CustomFieldDefinition.objects.create(key="plan", label="Plan", field_type="select", choices=["free", "pro"])
    CustomFieldDefinition.objects.create(key="seats", label="Seats", field_type="number")
    html = page(agent_client, ticket).content.decode()
    assert 'name="cf_plan"' in html and 'name="cf_seats"' in html
    response = agent_client.post(reverse("agent:ticket_fields", args=[ticket.number]), {
        "status": "open", "priority": "high", "type": "incident", "team": str(support.pk),
        "assignee": str(agent.pk), "tags": "Billing, vip", "cf_plan": "pro", "cf_seats": "12",
    })
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.type, ticket.assignee_id) == ("open", "high", "incident", agent.pk)
    assert ticket.tags == ["billing", "vip"]
    assert ticket.custom_fields == {"plan": "pro", "seats": 12}
    kinds = set(Event.objects.filter(ticket=ticket, actor_user=agent).values_list("kind", flat=True))
    assert {"status_changed", "priority_changed", "type_changed", "assignee_changed", "tags_changed",
            "custom_fields_changed"} <= kinds
    timeline = page(agent_client, ticket).content.decode()
    assert "changed priority from <strong>Normal</strong> to <strong>High</strong>" in timeline
    assert "changed assignee from <strong>none</strong>" not in timeline
    assert "set assignee to <strong>Ada Agent</strong>" in timeline


def test_fields_sidebar_unchanged_submit_writes_no_events(agent_client, ticket, support):
    before = Event.objects.filter(ticket=ticket).count()
    response = agent_client.post(reverse("agent:ticket_fields", args=[ticket.number]), {
        "status": "new", "priority": "normal", "type": "question", "team": str(support.pk), "assignee": "", "tags": "",
    })
    assert response.status_code == 302
    assert Event.objects.filter(ticket=ticket).count() == before


def test_fields_sidebar_refuses_an_assignee_outside_the_team_and_bad_custom_values(agent_client, ticket, support, billing):
    outsider = make_agent(billing)
    CustomFieldDefinition.objects.create(key="seats", label="Seats", field_type="number")
    response = agent_client.post(reverse("agent:ticket_fields", args=[ticket.number]), {
        "status": "new", "priority": "normal", "type": "question", "team": str(support.pk),
        "assignee": str(outsider.pk), "tags": "",
    })
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    response = agent_client.post(reverse("agent:ticket_fields", args=[ticket.number]), {
        "status": "new", "priority": "normal", "type": "question", "team": str(support.pk),
        "assignee": "", "tags": "", "cf_seats": "many",
    })
    assert response.status_code == 400
    assert "Not a valid value for Seats." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.assignee_id is None and ticket.custom_fields == {}


def test_lists_on_pages_are_briefly_cached_but_submissions_are_checked_against_fresh_ones(
        agent_client, agent, ticket, support, settings):
    settings.HELPDESK_DIRECTORY_SECONDS = 0.5
    leaving = make_agent(support, display_name="Lea Leaving")
    assert "Lea Leaving" in page(agent_client, ticket).content.decode()
    newcomer = make_agent(support, display_name="Nina Newcomer")
    CustomFieldDefinition.objects.create(key="plan", label="Plan", field_type="text")
    leaving.team_memberships.all().delete()

    # While the page's lists may still be the cached ones, the submission is checked fresh:
    # Lea is no longer in the team, so she cannot be assigned.
    response = agent_client.post(reverse("agent:ticket_fields", args=[ticket.number]), {
        "status": "new", "priority": "normal", "type": "question", "team": str(support.pk),
        "assignee": str(leaving.pk), "tags": "",
    })
    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.assignee_id is None

    time.sleep(0.6)
    html = page(agent_client, ticket).content.decode()
    assert "Nina Newcomer" in html and 'name="cf_plan"' in html and "Lea Leaving" not in html
    assert agent_client.post(reverse("agent:ticket_fields", args=[ticket.number]), {
        "status": "new", "priority": "normal", "type": "question", "team": str(support.pk),
        "assignee": str(newcomer.pk), "tags": "",
    }).status_code == 302


def test_fields_sidebar_refuses_a_status_the_workflow_forbids(agent_client, ticket, support):
    response = agent_client.post(reverse("agent:ticket_fields", args=[ticket.number]), {
        "status": "closed", "priority": "normal", "type": "question", "team": str(support.pk), "assignee": "", "tags": "",
    })
    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_fields_fragment_for_live_refresh(agent_client, ticket):
    response = agent_client.get(reverse("agent:ticket_fields", args=[ticket.number]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="fields-form"' in html
    assert "<html" not in html
    assert '<span class="row" id="ticket-badges" hx-swap-oob="true"><span class="badge badge--status-new">New</span>' in html


# ------------------------------------------------------------------------------------- merge


def test_merge_moves_the_thread_and_closes_the_source(agent_client, agent, ticket, support):
    target = make_ticket(team=support, requester=ticket.requester, subject="Export broken (dup)")
    response = agent_client.post(reverse("agent:ticket_merge", args=[ticket.number]), {"target_number": target.number})
    assert response.status_code == 302
    assert response["Location"] == reverse("agent:ticket", args=[target.number])
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.merged_into_id == target.pk
    assert target.messages.filter(body_text="The export button does nothing.").exists()
    source_page = page(agent_client, ticket).content.decode()
    assert f"This ticket was merged into #{target.number}." in source_page


def test_merge_into_a_ticket_of_another_team_is_refused(agent_client, ticket, billing):
    theirs = make_ticket(team=billing)
    response = agent_client.post(reverse("agent:ticket_merge", args=[ticket.number]), {"target_number": theirs.number})
    assert response.status_code == 400
    assert "There is no ticket with that number that you can see." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.merged_into_id is None and ticket.status == Status.NEW
    assert theirs.messages.count() == 1


def test_merge_into_itself_is_refused(agent_client, ticket):
    response = agent_client.post(reverse("agent:ticket_merge", args=[ticket.number]), {"target_number": ticket.number})
    assert response.status_code == 400
    assert "cannot be merged into itself" in response.content.decode()


# ------------------------------------------------------------------------------------- live fragments


def test_timeline_fragment_shows_new_messages(agent_client, agent, ticket):
    ticket_reply(ticket=ticket, actor=agent, body_text="Fixed in 2.3.1")
    response = agent_client.get(reverse("agent:ticket_timeline", args=[ticket.number]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Fixed in 2.3.1" in html and "<html" not in html


def test_presence_fragment_names_other_agents_viewing_or_typing(agent_client, agent, ticket, support):
    colleague = make_agent(support, display_name="Bo Colleague")
    third = make_agent(support, display_name="Cy Third")
    presence.presence_set(ticket_id=ticket.pk, user_id=agent.pk, name=agent.name, state="viewing")
    presence.presence_set(ticket_id=ticket.pk, user_id=colleague.pk, name=colleague.name, state="typing")
    presence.presence_set(ticket_id=ticket.pk, user_id=third.pk, name=third.name, state="viewing")
    html = agent_client.get(reverse("agent:ticket_presence", args=[ticket.number])).content.decode()
    assert "Bo Colleague is typing…" in html
    assert "Cy Third is viewing" in html
    assert "Ada Agent" not in html  # never yourself
    assert "Bo Colleague is typing…" in page(agent_client, ticket).content.decode()
    presence.presence_set(ticket_id=ticket.pk, user_id=colleague.pk, name=colleague.name, state="left")
    html = agent_client.get(reverse("agent:ticket_presence", args=[ticket.number])).content.decode()
    assert "Bo Colleague" not in html


def test_ticket_page_query_count_is_bounded(agent_client, agent, ticket, django_assert_max_num_queries):
    CustomFieldDefinition.objects.create(key="plan", label="Plan", field_type="text")
    for i in range(15):
        ticket_reply(ticket=ticket, actor=agent, body_text=f"Reply {i}")
        ticket_add_note(ticket=ticket, actor=agent, body_text=f"Note {i}")
    ticket_update(ticket=ticket, actor=agent, priority=Priority.HIGH, assignee=agent)
    for _ in range(5):
        make_ticket(requester=ticket.requester, team=ticket.team)
    page(agent_client, ticket)
    with django_assert_max_num_queries(12):
        response = page(agent_client, ticket)
    assert response.content.decode().count('class="message ') == 31


def test_ticket_page_and_timeline_load_no_column_one_at_a_time(agent_client, agent, ticket, monkeypatch):
    """The page reads only the columns it shows (.only()); a column it shows but did not read would be
    fetched again for every message, event or ticket, one query each."""
    upload = SimpleUploadedFile("log.txt", b"hello", content_type="text/plain")
    ticket_reply(ticket=ticket, actor=agent, body_text="Reply", files=[incoming_from_upload(upload)])
    ticket_add_note(ticket=ticket, actor=agent, body_text="Note")
    ticket_update(ticket=ticket, actor=agent, priority=Priority.HIGH, assignee=agent, tags=["vip"])
    make_ticket(requester=ticket.requester, team=ticket.team)

    def refuse(instance, *args, **kwargs):
        raise AssertionError(f"deferred load of {type(instance).__name__} {kwargs.get('fields') or args}")

    monkeypatch.setattr(Model, "refresh_from_db", refuse)
    for url in (reverse("agent:ticket", args=[ticket.number]), reverse("agent:ticket_timeline", args=[ticket.number])):
        assert agent_client.get(url).status_code == 200


def test_manager_may_open_any_ticket(ticket):
    manager = make_user(role=Role.MANAGER)
    client = Client()
    client.force_login(manager)
    assert page(client, ticket).status_code == 200


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_timeline_times_are_what_the_date_filters_write(agent, ticket, language):
    """The timeline's times are worked out once per render; they read as the template filters wrote them."""
    ticket_add_note(ticket=ticket, actor=agent, body_text="Looked at it")
    ticket_update(ticket=ticket, actor=agent, priority=Priority.HIGH)
    filters = Template("{% load workspace %}{{ value|date:'c' }}|{{ value|date:'DATETIME_FORMAT' }}|{{ value|relative_time }}")
    with translation.override(language), timezone.override(zoneinfo.ZoneInfo("Asia/Shanghai")):
        entries = timeline_entries(ticket_timeline(user=agent, ticket=ticket))
        assert {entry["kind"] for entry in entries} == {"message", "event"}
        for entry in entries:
            value = (entry.get("message") or entry["event"]).created_at
            assert f"{entry['iso']}|{entry['when']}|{entry['ago']}" == filters.render(Context({"value": value}))
