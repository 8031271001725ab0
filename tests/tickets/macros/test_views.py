"""The macro pages and the reply box's picker: what each person can see, change and apply."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.factories import make_ticket
from tests.tickets.macros.conftest import client_for
from tickets.models import Event, Macro, MacroTranslation, Message

pytestmark = pytest.mark.django_db


# -- the list --------------------------------------------------------------------------------------


def test_list_shows_my_personal_and_the_shared_macros_with_usage(agent, other_agent, support, billing, shared_macro):
    Macro.objects.create(title="Ada's own", owner=agent, usage_count=4)
    Macro.objects.create(title="Ben's secret", owner=other_agent)
    Macro.objects.create(title="Support greeting", team=support, usage_count=2)
    Macro.objects.create(title="Billing only", team=billing)
    response = client_for(agent).get(reverse("macros:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada&#x27;s own" in html and "Support greeting" in html and "Thanks" in html
    assert "Ben&#x27;s secret" not in html and "Billing only" not in html
    # Only their own macro can be edited by a plain agent.
    mine = Macro.objects.get(title="Ada's own")
    assert reverse("macros:edit", args=[mine.pk]) in html
    assert reverse("macros:edit", args=[shared_macro.pk]) not in html


def test_customers_and_anonymous_visitors_get_no_macro_pages(requester, shared_macro, ticket):
    urls = [reverse("macros:list"), reverse("macros:create"), reverse("macros:edit", args=[shared_macro.pk]),
            reverse("macros:picker", args=[ticket.number]),
            reverse("macros:render", args=[shared_macro.pk, ticket.number])]
    customer = client_for(requester.user)
    for url in urls:
        assert customer.get(url).status_code == 403
    for url in urls:
        response = client_for(requester.user).__class__().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
    apply_url = reverse("macros:apply", args=[shared_macro.pk, ticket.number])
    assert customer.post(apply_url).status_code == 403
    shared_macro.refresh_from_db()
    assert shared_macro.usage_count == 0


# -- creating and editing -------------------------------------------------------------------------


def _form_data(**overrides):
    data = {"title": "Refund done", "reply_text": "Hi {{ requester.first_name }}, refunded.", "sharing": "personal",
            "team": "", "is_active": "on",
            "actions-0-type": "set_status", "actions-0-status": "pending",
            "actions-1-type": "add_tags", "actions-1-tags": "refund, billing",
            "actions-2-type": "", "actions-2-status": "open",
            "translation_title_zh-hans": "已退款", "translation_reply_zh-hans": "{{ requester.name }}，已退款。",
            "translation_title_zh-hant": "", "translation_reply_zh-hant": "",
            "translation_title_en": "", "translation_reply_en": ""}
    data.update(overrides)
    return data


def test_an_agent_creates_a_personal_macro_with_actions_and_a_translation(agent):
    response = client_for(agent).post(reverse("macros:create"), _form_data())
    assert response.status_code == 302
    macro = Macro.objects.get()
    assert (macro.title, macro.owner, macro.team) == ("Refund done", agent, None)
    assert macro.actions == [{"type": "set_status", "value": "pending"},
                             {"type": "add_tags", "value": ["refund", "billing"]}]
    assert list(macro.translations.values_list("language", "title")) == [("zh-hans", "已退款")]


def test_the_form_offers_action_rows_and_placeholders(agent):
    html = client_for(agent).get(reverse("macros:create")).content.decode()
    assert 'name="actions-0-type"' in html and "Set status" in html and "Add tags" in html
    # Rule-only actions are not offered in macros.
    assert "Email the requester" not in html and "Call a webhook" not in html
    assert "{{ requester.first_name }}" in html
    # A plain agent can only keep a macro to themselves.
    assert 'value="personal"' in html and 'value="everyone"' not in html and 'value="team"' not in html


def test_an_unknown_placeholder_is_shown_as_an_error_and_nothing_is_saved(agent):
    response = client_for(agent).post(reverse("macros:create"), _form_data(reply_text="Hi {{ requester.nmae }}"))
    assert response.status_code == 400
    assert "requester.nmae" in response.content.decode()
    assert not Macro.objects.exists()


def test_an_agent_cannot_share_a_macro_by_forging_the_form(agent, support):
    for data in (_form_data(sharing="everyone"), _form_data(sharing="team", team=str(support.pk))):
        assert client_for(agent).post(reverse("macros:create"), data).status_code == 400
    assert not Macro.objects.exists()


def test_a_lead_shares_with_their_team(lead, support):
    response = client_for(lead).post(reverse("macros:create"), _form_data(sharing="team", team=str(support.pk)))
    assert response.status_code == 302
    assert Macro.objects.get().team == support


def test_a_manager_edits_a_shared_macro(manager, shared_macro):
    response = client_for(manager).post(reverse("macros:edit", args=[shared_macro.pk]),
                                        _form_data(title="Thanks a lot", sharing="everyone"))
    assert response.status_code == 302
    shared_macro.refresh_from_db()
    assert (shared_macro.title, shared_macro.owner_id) == ("Thanks a lot", None)


def test_nobody_opens_edits_or_deletes_another_persons_macro(agent, other_agent, manager, billing_agent, support):
    bens = Macro.objects.create(title="Ben's", owner=other_agent)
    support_macro = Macro.objects.create(title="Support", team=support)
    attempts = [(agent, bens), (manager, bens), (agent, support_macro), (billing_agent, support_macro)]
    for user, macro in attempts:
        client = client_for(user)
        assert client.get(reverse("macros:edit", args=[macro.pk])).status_code == 404
        assert client.post(reverse("macros:edit", args=[macro.pk]), _form_data()).status_code == 404
        assert client.post(reverse("macros:delete", args=[macro.pk])).status_code == 404
    assert set(Macro.objects.values_list("title", flat=True)) == {"Ben's", "Support"}


def test_the_owner_deletes_their_macro(agent):
    macro = Macro.objects.create(title="Mine", owner=agent)
    assert client_for(agent).post(reverse("macros:delete", args=[macro.pk])).status_code == 302
    assert not Macro.objects.exists()


def test_preview_renders_the_unsaved_text_against_a_ticket(agent, ticket):
    response = client_for(agent).post(reverse("macros:preview"), _form_data(
        preview_ticket=str(ticket.number), reply_text="Hi {{ requester.first_name }} <b>#{{ ticket.number }}</b>"))
    html = response.content.decode()
    assert f"Hi Alice &lt;b&gt;#{ticket.number}&lt;/b&gt;" in html
    assert "Set status: Pending" in html and "Add tags: refund, billing" in html


def test_preview_refuses_a_ticket_the_agent_cannot_work(agent, billing):
    other = make_ticket(team=billing, subject="Secret billing matter")
    html = client_for(agent).post(reverse("macros:preview"), _form_data(preview_ticket=str(other.number))).content
    assert b"Secret billing matter" not in html and b"No ticket" in html


# -- the reply box's picker ------------------------------------------------------------------------


def test_picker_lists_the_agents_macros_most_used_first(agent, other_agent, billing, ticket):
    Macro.objects.create(title="Rare", usage_count=1)
    Macro.objects.create(title="Popular", usage_count=8, reply_is_internal=True)
    Macro.objects.create(title="Ben's", owner=other_agent, usage_count=99)
    Macro.objects.create(title="Billing", team=billing, usage_count=99)
    data = client_for(agent).get(reverse("macros:picker", args=[ticket.number])).json()
    assert [(m["title"], m["is_internal"]) for m in data["results"]] == [("Popular", True), ("Rare", False)]


def test_picker_is_404_on_a_ticket_the_agent_cannot_see(agent, billing):
    other = make_ticket(team=billing)
    assert client_for(agent).get(reverse("macros:picker", args=[other.number])).status_code == 404


def test_applying_from_the_reply_box_changes_fields_and_returns_the_reply(agent, ticket, manager,
                                                                         django_capture_on_commit_callbacks):
    macro = Macro.objects.create(title="Refund", reply_text="Hi {{ requester.first_name }}, now {{ ticket.status }}.",
                                 actions=[{"type": "set_status", "value": "pending"},
                                          {"type": "add_tags", "value": ["refund"]}])
    messages_before = Message.objects.filter(ticket=ticket).count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(agent).post(reverse("macros:apply", args=[macro.pk, ticket.number]))
    assert response.status_code == 200
    data = response.json()
    assert data["body"] == "Hi Alice, now Pending."
    assert data["is_internal"] is False
    assert data["changes"] == ["Status: New → Pending", "Tags: — → refund"]
    ticket.refresh_from_db()
    assert (ticket.status, ticket.tags) == ("pending", ["refund"])
    macro.refresh_from_db()
    assert macro.usage_count == 1
    assert Event.objects.filter(ticket=ticket, kind="macro_applied", actor_user=agent).exists()
    # Not sent: the agent reviews it in the composer.
    assert Message.objects.filter(ticket=ticket).count() == messages_before


def test_applying_uses_the_requesters_language(agent, ticket, shared_macro):
    MacroTranslation.objects.create(macro=shared_macro, language="zh-hant", reply_text="{{ requester.name }} 您好")
    ticket.requester.language = "zh-Hant"
    ticket.requester.save()
    data = client_for(agent).post(reverse("macros:apply", args=[shared_macro.pk, ticket.number])).json()
    assert (data["body"], data["language"]) == ("Alice Smith 您好", "zh-hant")


def test_applying_needs_a_post(agent, ticket, shared_macro):
    assert client_for(agent).get(reverse("macros:apply", args=[shared_macro.pk, ticket.number])).status_code == 405


def test_applying_someone_elses_macro_or_on_someone_elses_ticket_is_404(agent, other_agent, billing, ticket):
    bens = Macro.objects.create(title="Ben's", owner=other_agent, actions=[{"type": "set_priority", "value": "low"}])
    billing_macro = Macro.objects.create(title="Billing", team=billing,
                                         actions=[{"type": "set_priority", "value": "low"}])
    everyone = Macro.objects.create(title="All", actions=[{"type": "set_priority", "value": "low"}])
    billing_ticket = make_ticket(team=billing)
    client = client_for(agent)
    for macro, number in ((bens, ticket.number), (billing_macro, ticket.number), (everyone, billing_ticket.number)):
        assert client.post(reverse("macros:apply", args=[macro.pk, number])).status_code == 404
        assert client.get(reverse("macros:render", args=[macro.pk, number])).status_code == 404
    ticket.refresh_from_db()
    billing_ticket.refresh_from_db()
    assert (ticket.priority, billing_ticket.priority) == ("normal", "normal")
    assert not Macro.objects.filter(usage_count__gt=0).exists()


def test_a_refused_field_change_is_reported(agent, other_agent, ticket):
    from tickets.services.ticket_fields import ticket_update

    ticket_update(ticket=ticket, actor=other_agent, assignee=other_agent)
    macro = Macro.objects.create(title="Take it", actions=[{"type": "assign", "value": str(agent.pk)}])
    response = client_for(agent).post(reverse("macros:apply", args=[macro.pk, ticket.number]))
    assert response.status_code == 400
    assert json.loads(response.content)["errors"]
    ticket.refresh_from_db()
    assert ticket.assignee_id == other_agent.pk


def test_render_shows_the_reply_without_changing_anything(agent, ticket, shared_macro):
    data = client_for(agent).get(reverse("macros:render", args=[shared_macro.pk, ticket.number])).json()
    assert data["body"] == "Hello Alice, thanks!"
    shared_macro.refresh_from_db()
    assert shared_macro.usage_count == 0


def test_ticket_page_has_the_picker(agent, ticket):
    html = client_for(agent).get(reverse("agent:ticket", args=[ticket.number])).content.decode()
    assert "data-macro-picker" in html and reverse("macros:picker", args=[ticket.number]) in html
    assert 'aria-keyshortcuts="Alt+M"' in html


def test_the_timeline_says_who_applied_which_macro(agent, ticket, shared_macro):
    client = client_for(agent)
    client.post(reverse("macros:apply", args=[shared_macro.pk, ticket.number]))
    html = client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()
    assert "<strong>Ada Lovelace</strong> applied the macro <strong>Thanks</strong>" in html


def test_list_and_picker_queries_do_not_grow_with_the_number_of_macros(lead, support, ticket,
                                                                      django_assert_max_num_queries):
    for n in range(15):
        Macro.objects.create(title=f"Team {n}", team=support)
        Macro.objects.create(title=f"Mine {n}", owner=lead)
        Macro.objects.create(title=f"All {n}")
    client = client_for(lead)
    with django_assert_max_num_queries(20):
        assert client.get(reverse("macros:list")).status_code == 200
    with django_assert_max_num_queries(12):
        assert len(client.get(reverse("macros:picker", args=[ticket.number])).json()["results"]) == 45


def test_html_in_a_macro_reply_is_escaped_in_the_sent_message(agent, ticket):
    ticket.requester.name = "<img src=x onerror=alert(1)>"
    ticket.requester.save()
    macro = Macro.objects.create(title="Bold", reply_text="<b>Hi</b> {{ requester.name }}")
    client = client_for(agent)
    body = client.post(reverse("macros:apply", args=[macro.pk, ticket.number])).json()["body"]
    assert body == "<b>Hi</b> <img src=x onerror=alert(1)>"
    # The agent sends what the composer holds, as typed text.
    client.post(reverse("agent:ticket_reply", args=[ticket.number]),
                {"body": body, "visibility": "public", "status": ""})
    message = Message.objects.filter(ticket=ticket, author_user=agent).get()
    assert "<b>" not in message.body_html and "<img" not in message.body_html
    assert "&lt;b&gt;Hi&lt;/b&gt;" in message.body_html
