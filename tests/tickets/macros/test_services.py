"""Macro services: rendering in the requester's language, applying field actions, who may use and
change which macro."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.factories import make_customer, make_ticket
from tickets.macros import selectors
from tickets.macros.services import (
    macro_apply,
    macro_delete,
    macro_render,
    macro_save,
    macro_translations_save,
)
from tickets.models import ActorKind, AuthorKind, Event, Macro, MacroTranslation, Message, Visibility

pytestmark = pytest.mark.django_db


def _customer_with_language(language: str):
    customer = make_customer(name="Alice Smith")
    customer.language = language
    customer.save(update_fields=["language"])
    return customer


# -- rendering ------------------------------------------------------------------------------------


@pytest.fixture
def translated_macro(manager):
    macro = Macro.objects.create(title="Thanks", reply_text="Hello {{ requester.first_name }}",
                                 created_by=manager)
    MacroTranslation.objects.create(macro=macro, language="zh-hans", title="感谢", reply_text="简体 {{ requester.name }}")
    MacroTranslation.objects.create(macro=macro, language="zh-Hant", title="", reply_text="繁體 {{ requester.name }}")
    return macro


@pytest.mark.parametrize(("language", "expected_text", "expected_title"), [
    ("zh-hans", "简体 Alice Smith", "感谢"),
    ("ZH-HANS", "简体 Alice Smith", "感谢"),
    ("zh_Hans", "简体 Alice Smith", "感谢"),
    ("zh-hant", "繁體 Alice Smith", "Thanks"),  # no translated title: the default one
    ("zh-hans-cn", "简体 Alice Smith", "感谢"),  # the base language's translation
    ("en", "Hello Alice", "Thanks"),
    ("en-gb", "Hello Alice", "Thanks"),
    ("", "Hello Alice", "Thanks"),
    ("zh", "Hello Alice", "Thanks"),  # a base language does not pick one of its variants
])
def test_reply_is_in_the_requesters_language(support, agent, translated_macro, language, expected_text,
                                             expected_title):
    ticket = make_ticket(requester=_customer_with_language(language), team=support)
    rendered = macro_render(macro=translated_macro, ticket=ticket, agent=agent)
    assert (rendered.body_text, rendered.title) == (expected_text, expected_title)


def test_base_language_translation_is_used_for_a_regional_variant(support, agent, manager):
    macro = Macro.objects.create(title="Hi", reply_text="Hi", created_by=manager)
    MacroTranslation.objects.create(macro=macro, language="en", reply_text="Hello there")
    ticket = make_ticket(requester=_customer_with_language("en-US"), team=support)
    assert macro_render(macro=macro, ticket=ticket, agent=agent).body_text == "Hello there"


def test_render_describes_the_field_actions(ticket, agent, manager, support):
    macro = Macro.objects.create(title="Solve", reply_text="Done", created_by=manager, actions=[
        {"type": "set_status", "value": "solved"}, {"type": "add_tags", "value": ["refund", "vip"]},
        {"type": "set_team", "value": str(support.pk)}, {"type": "assign", "value": ""},
    ])
    assert macro_render(macro=macro, ticket=ticket, agent=agent).actions == [
        "Set status: Solved", "Add tags: refund, vip", "Move to team: Support", "Assign to: nobody (unassign)",
    ]


# -- applying -------------------------------------------------------------------------------------


def test_agent_applying_changes_fields_writes_events_and_counts_the_use(ticket, agent, shared_macro,
                                                                        django_capture_on_commit_callbacks):
    shared_macro.actions = [{"type": "set_status", "value": "pending"}, {"type": "set_priority", "value": "high"},
                            {"type": "add_tags", "value": ["refund"]}, {"type": "assign", "value": str(agent.pk)}]
    shared_macro.save()
    messages_before = Message.objects.filter(ticket=ticket).count()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = macro_apply(macro=shared_macro, ticket=ticket, actor=agent)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.tags, ticket.assignee_id) == ("pending", "high", ["refund"], agent.pk)
    kinds = set(Event.objects.filter(ticket=ticket, actor_user=agent).values_list("kind", flat=True))
    assert {"macro_applied", "status_changed", "priority_changed", "tags_changed", "assignee_changed"} <= kinds
    applied = Event.objects.get(ticket=ticket, kind="macro_applied")
    assert applied.to_value == {"macro": shared_macro.pk, "title": "Thanks"}
    shared_macro.refresh_from_db()
    assert shared_macro.usage_count == 1 and shared_macro.last_used_at is not None
    # The agent reviews and sends the reply themselves: nothing was posted.
    assert Message.objects.filter(ticket=ticket).count() == messages_before


def test_usage_counts_add_up(ticket, agent, other_agent, shared_macro):
    for actor in (agent, other_agent, agent):
        macro_apply(macro=shared_macro, ticket=ticket, actor=actor)
    shared_macro.refresh_from_db()
    assert shared_macro.usage_count == 3


def test_rule_applying_a_public_macro_sends_the_rendered_reply(ticket, manager):
    macro = Macro.objects.create(title="Ack", created_by=manager, actions=[{"type": "set_priority", "value": "low"}],
                                 reply_text="Hi {{ requester.name }}, <b>we got #{{ ticket.number }}</b>")
    ticket.requester.name = "<script>alert(1)</script>"
    ticket.requester.save()
    macro_apply(macro=macro, ticket=ticket, actor=None, via="rule:7")
    message = Message.objects.filter(ticket=ticket).latest("id")
    assert (message.visibility, message.author_kind) == (Visibility.PUBLIC, AuthorKind.SYSTEM)
    assert message.body_text == f"Hi <script>alert(1)</script>, <b>we got #{ticket.number}</b>"
    # The reply's HTML is escaped text: neither the macro's tags nor the requester's name are markup.
    assert "<script>" not in message.body_html and "<b>" not in message.body_html
    assert "&lt;script&gt;" in message.body_html and "&lt;b&gt;" in message.body_html
    change = Event.objects.get(ticket=ticket, kind="priority_changed")
    assert (change.actor_kind, change.via, change.actor_user_id) == (ActorKind.AUTOMATION, "rule:7", None)


def test_rule_applying_an_internal_macro_adds_an_automatic_note(ticket, manager):
    macro = Macro.objects.create(title="Note", created_by=manager, reply_is_internal=True,
                                 reply_text="Check {{ ticket.subject }}")
    macro_apply(macro=macro, ticket=ticket, actor=None, via="rule:7")
    message = Message.objects.filter(ticket=ticket).latest("id")
    assert (message.visibility, message.body_text) == (Visibility.INTERNAL, "Check Refund please")


def test_a_refused_change_changes_nothing(ticket, agent, other_agent, shared_macro):
    # A plain agent may not take a ticket off a colleague: the whole macro is refused.
    macro_apply(macro=Macro.objects.create(title="Mine", actions=[{"type": "assign", "value": str(other_agent.pk)}]),
                ticket=ticket, actor=other_agent)
    shared_macro.actions = [{"type": "set_priority", "value": "urgent"}, {"type": "assign", "value": str(agent.pk)}]
    shared_macro.save()
    with pytest.raises(PermissionDenied):
        macro_apply(macro=shared_macro, ticket=ticket, actor=agent)
    ticket.refresh_from_db()
    shared_macro.refresh_from_db()
    assert (ticket.priority, ticket.assignee_id, shared_macro.usage_count) == ("normal", other_agent.pk, 0)
    assert not Event.objects.filter(ticket=ticket, kind="macro_applied", actor_user=agent).exists()


def test_an_agent_cannot_apply_a_macro_on_a_ticket_of_another_team(billing, agent, shared_macro):
    ticket = make_ticket(team=billing)
    with pytest.raises(PermissionDenied):
        macro_apply(macro=shared_macro, ticket=ticket, actor=agent)
    shared_macro.refresh_from_db()
    assert shared_macro.usage_count == 0


def test_an_agent_cannot_apply_another_agents_personal_macro(ticket, agent, other_agent):
    private = Macro.objects.create(title="Ben's", owner=other_agent, actions=[{"type": "set_priority", "value": "low"}])
    with pytest.raises(PermissionDenied):
        macro_apply(macro=private, ticket=ticket, actor=agent)
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


def test_an_agent_cannot_apply_another_teams_macro(ticket, agent, billing):
    macro = Macro.objects.create(title="Billing only", team=billing, actions=[{"type": "set_priority", "value": "low"}])
    with pytest.raises(PermissionDenied):
        macro_apply(macro=macro, ticket=ticket, actor=agent)


def test_a_switched_off_macro_cannot_be_applied(ticket, agent, shared_macro):
    shared_macro.is_active = False
    shared_macro.save()
    with pytest.raises(ValidationError):
        macro_apply(macro=shared_macro, ticket=ticket, actor=agent)


# -- visibility -----------------------------------------------------------------------------------


def test_each_role_sees_the_macros_meant_for_them(agent, other_agent, billing_agent, lead, manager, support, billing,
                                                  requester):
    mine = Macro.objects.create(title="Ada's", owner=agent)
    bens = Macro.objects.create(title="Ben's", owner=other_agent)
    support_macro = Macro.objects.create(title="Support", team=support)
    billing_macro = Macro.objects.create(title="Billing", team=billing)
    everyone = Macro.objects.create(title="Everyone")
    assert set(selectors.macros_visible_to(agent)) == {mine, support_macro, everyone}
    assert set(selectors.macros_visible_to(billing_agent)) == {billing_macro, everyone}
    assert set(selectors.macros_visible_to(lead)) == {support_macro, everyone}
    # Managers manage every shared macro, but nobody sees another person's personal one.
    assert set(selectors.macros_visible_to(manager)) == {support_macro, billing_macro, everyone}
    assert bens not in selectors.macros_visible_to(manager)
    assert list(selectors.macros_visible_to(requester.user)) == []
    from django.contrib.auth.models import AnonymousUser

    assert list(selectors.macros_visible_to(AnonymousUser())) == []


def test_picker_lists_active_macros_most_used_first(agent):
    Macro.objects.create(title="A rarely", usage_count=1)
    Macro.objects.create(title="B often", usage_count=9)
    Macro.objects.create(title="C off", usage_count=50, is_active=False)
    assert [m.title for m in selectors.macros_for_picker(agent)] == ["B often", "A rarely"]


# -- saving ---------------------------------------------------------------------------------------


def test_any_agent_saves_a_personal_macro(agent):
    macro = macro_save(actor=agent, title="  My   reply ", reply_text="Hi {{ requester.first_name }}",
                       actions=[{"type": "add_tags", "value": "a, b"}])
    assert (macro.title, macro.owner_id, macro.team_id, macro.actions) == (
        "My reply", agent.pk, None, [{"type": "add_tags", "value": ["a", "b"]}])


def test_an_agent_cannot_share_a_macro(agent, support):
    for sharing, team in (("team", support), ("everyone", None)):
        with pytest.raises(PermissionDenied):
            macro_save(actor=agent, title="Shared", reply_text="x", sharing=sharing, team=team)
    assert not Macro.objects.exists()


def test_a_lead_shares_with_their_team_only(lead, support, billing):
    macro = macro_save(actor=lead, title="Team", reply_text="x", sharing="team", team=support)
    assert (macro.owner_id, macro.team_id) == (None, support.pk)
    with pytest.raises(PermissionDenied):
        macro_save(actor=lead, title="Other team", reply_text="x", sharing="team", team=billing)
    with pytest.raises(PermissionDenied):
        macro_save(actor=lead, title="All", reply_text="x", sharing="everyone")


def test_a_manager_shares_with_everyone_and_any_team(manager, billing):
    assert macro_save(actor=manager, title="All", reply_text="x", sharing="everyone").owner_id is None
    assert macro_save(actor=manager, title="Billing", reply_text="x", sharing="team", team=billing).team == billing


def test_nobody_edits_or_deletes_another_persons_personal_macro(agent, other_agent, manager):
    bens = Macro.objects.create(title="Ben's", owner=other_agent, reply_text="mine")
    for actor in (agent, manager):
        with pytest.raises(PermissionDenied):
            macro_save(actor=actor, macro=bens, title="Stolen", reply_text="x")
        with pytest.raises(PermissionDenied):
            macro_delete(actor=actor, macro=bens)
    bens.refresh_from_db()
    assert (bens.title, bens.owner_id) == ("Ben's", other_agent.pk)


def test_an_agent_cannot_edit_a_shared_macro(agent, shared_macro):
    with pytest.raises(PermissionDenied):
        macro_save(actor=agent, macro=shared_macro, title="Changed", reply_text="x", sharing="personal")
    shared_macro.refresh_from_db()
    assert (shared_macro.title, shared_macro.owner_id) == ("Thanks", None)


def test_unknown_placeholders_and_rule_only_actions_are_refused(agent):
    with pytest.raises(ValidationError) as error:
        macro_save(actor=agent, title="Typo", reply_text="Hi {{ requester.frist_name }}")
    assert "requester.frist_name" in str(error.value)
    with pytest.raises(ValidationError):
        macro_save(actor=agent, title="Mail", reply_text="x",
                   actions=[{"type": "email_requester", "subject": "s", "body": "b"}])
    assert not Macro.objects.exists()


def test_translations_are_saved_replaced_and_removed(agent):
    macro = macro_save(actor=agent, title="T", reply_text="Hi", translations={
        "zh-hans": {"title": "标题", "reply_text": "你好 {{ requester.name }}"},
        "zh-hant": {"title": "", "reply_text": "您好"},
    })
    assert dict(macro.translations.values_list("language", "reply_text")) == {
        "zh-hans": "你好 {{ requester.name }}", "zh-hant": "您好"}
    macro_translations_save(macro=macro, actor=agent, translations={"zh-hans": {"title": "", "reply_text": ""},
                                                                    "zh-hant": {"reply_text": "新"}})
    assert dict(macro.translations.values_list("language", "reply_text")) == {"zh-hant": "新"}
    with pytest.raises(ValidationError):
        macro_translations_save(macro=macro, actor=agent, translations={"xx": {"reply_text": "?"}})


def test_a_rule_cannot_apply_a_personal_macro(ticket, agent):
    personal = Macro.objects.create(title="Ada's", owner=agent, reply_text="Private wording",
                                    actions=[{"type": "set_priority", "value": "low"}])
    with pytest.raises(ValidationError):
        macro_apply(macro=personal, ticket=ticket, actor=None, via="rule:1")
    ticket.refresh_from_db()
    assert ticket.priority == "normal"
    assert not Message.objects.filter(ticket=ticket, body_text="Private wording").exists()
    assert personal not in selectors.macros_for_rules()
