"""The widget on a shop page that picks a team (data-team) and asks a custom question; the agent's
file reaches the visitor as a link they can open; a refresh shows the chat's state at once; a chat
whose visitor went quiet ends and the widget says so."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_intake.chat import services as chat_services
from channels_intake.chat.models import Chat, ChatState, ChatWidget
from tests.e2e.helpers import in_db_thread
from tests.e2e.test_chat_widget import WIDGET_KEY, host_site, open_widget, set_presence  # noqa: F401
from tests.factories import make_agent, make_team
from tickets.models import Message, User
from tickets.services import IncomingFile

pytestmark = pytest.mark.browser


def build_billing_shop(host_origin: str) -> User:
    support = make_team("Support", slug="support")
    billing = make_team("Billing", slug="billing")
    make_agent(support, username="sam", first_name="Sam", last_name="Support")
    agent = make_agent(billing, username="bea", first_name="Bea", last_name="Billing")
    widget = ChatWidget.objects.create(
        key=WIDGET_KEY, name="Northwind Tea", team=support, allowed_origins=[host_origin], deflection_enabled=False,
        prechat_fields={"name": {"required": True}, "email": {"required": False}, "question": {"required": True},
                        "custom": [{"key": "order_number", "label": "Order number", "required": True,
                                    "max_length": 12}]},
    )
    widget.other_teams.add(billing)
    return agent


def billing_page(site) -> str:
    site.pages["/billing"] = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Northwind Tea billing</title></head>
<body><h1>Your invoices</h1>
<script src="{site.app_origin}/chat/widget.js" data-key="{WIDGET_KEY}" data-team="billing" async></script>
</body></html>"""
    return site.origin + "/billing"


def test_a_billing_page_chat_reaches_billing_with_its_order_number_and_the_agents_file_downloads(
        new_page, host_site):  # noqa: F811
    agent = in_db_thread(build_billing_shop, host_site.origin)
    set_presence(agent, "online")  # only Billing is online: the page's team decides
    visitor = new_page()
    visitor.goto(billing_page(host_site))
    open_widget(visitor)
    dialog = visitor.get_by_role("dialog", name="Chat with us")
    dialog.get_by_label("Name").fill("Maria Garcia")
    dialog.get_by_label("How can we help?").fill("I was charged twice")
    order = dialog.get_by_label("Order number")
    expect(order).to_have_attribute("maxlength", "12")
    order.fill("NW-4711")
    dialog.get_by_role("button", name="Start chat").click()
    expect(dialog.get_by_role("log")).to_contain_text("I was charged twice")

    chat = in_db_thread(lambda: Chat.objects.select_related("ticket__team").get())
    assert chat.ticket.team.slug == "billing"
    assert chat.prechat_values == {"order_number": "NW-4711"}

    def accept_and_send_file():
        live_chat = Chat.objects.get(pk=chat.pk)
        bea = User.objects.get(username="bea")
        chat_services.chat_accept(chat=live_chat, agent=bea)
        chat_services.chat_agent_message(chat=live_chat, agent=bea, body="Your corrected invoice", files=[
            IncomingFile(name="invoice-4711.pdf", content_type="application/pdf", content=b"%PDF-1.4 corrected",
                         size=18)])

    in_db_thread(accept_and_send_file)
    link = dialog.get_by_role("log").get_by_role("link", name="invoice-4711.pdf")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href and "/chat/files/" in href
    download = visitor.request.get(href)  # as the visitor's browser: no session, another site
    assert download.status == 200 and download.body() == b"%PDF-1.4 corrected"

    # A refresh: the state is there from the socket's first frame, the file link comes back.
    visitor.reload()
    dialog = visitor.get_by_role("dialog", name="Chat with us")
    expect(dialog.get_by_role("status").filter(has_text="You are chatting with Bea Billing.")).to_be_visible()
    expect(dialog.get_by_role("log").get_by_role("link", name="invoice-4711.pdf")).to_have_count(1)
    assert visitor.problems == []


def test_a_page_naming_a_team_the_widget_does_not_serve_gets_no_widget(new_page, host_site):  # noqa: F811
    in_db_thread(build_billing_shop, host_site.origin)
    host_site.pages["/legal"] = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Legal</title></head>
<body><script src="{host_site.app_origin}/chat/widget.js" data-key="{WIDGET_KEY}" data-team="legal" async></script></body></html>"""
    visitor = new_page()
    with visitor.expect_console_message(lambda message: 'team "legal"' in message.text):
        visitor.goto(host_site.origin + "/legal")
    expect(visitor.get_by_role("button", name="Chat with us")).to_have_count(0)


def test_a_chat_whose_visitor_went_quiet_ends_and_the_widget_says_why(new_page, host_site):  # noqa: F811
    agent = in_db_thread(build_billing_shop, host_site.origin)
    set_presence(agent, "online")
    visitor = new_page()
    visitor.goto(billing_page(host_site))
    open_widget(visitor)
    dialog = visitor.get_by_role("dialog", name="Chat with us")
    dialog.get_by_label("Name").fill("Maria Garcia")
    dialog.get_by_label("How can we help?").fill("Refund status?")
    dialog.get_by_label("Order number").fill("NW-1")
    dialog.get_by_role("button", name="Start chat").click()
    expect(dialog.get_by_role("log")).to_contain_text("Refund status?")

    def went_quiet_long_ago():
        chat = Chat.objects.get()
        chat_services.chat_accept(chat=chat, agent=User.objects.get(username="bea"))
        then = timezone.now() - timedelta(minutes=31)
        Chat.objects.filter(pk=chat.pk).update(created_at=then)
        Message.objects.filter(ticket_id=chat.ticket_id).update(created_at=then)
        from channels_intake.chat.presence import VISITOR_KEY_PREFIX
        from helpdesk.heartbeat import redis_client

        redis_client().delete(f"{VISITOR_KEY_PREFIX}:{chat.pk}")  # the tab slept: no pings
        return chat_services.chats_end_idle()

    assert in_db_thread(went_quiet_long_ago) == 1
    expect(dialog.get_by_role("status").filter(has_text=re.compile("ended after a long silence"))).to_be_visible()
    expect(dialog.get_by_label("Message", exact=True)).to_be_hidden()
    chat = in_db_thread(lambda: Chat.objects.select_related("ticket").get())
    assert (chat.state, chat.end_reason) == (ChatState.ENDED, "timeout")
    assert chat.ticket.status not in ("solved", "closed")
    assert visitor.problems == []
