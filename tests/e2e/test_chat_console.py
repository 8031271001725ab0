"""The agent's live-chat console in the browser: go online, take chats as they come, answer, end."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from channels_intake.chat import services, tokens
from channels_intake.chat.models import Chat, ChatWidget
from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_team
from tickets.models import Message, Status, Team, User, Visibility

pytestmark = pytest.mark.browser


@dataclass
class ChatDesk:
    team: Team
    alice: User
    widget: ChatWidget


def build_chat_desk() -> ChatDesk:
    team = make_team("Support", slug="support")
    alice = make_agent(team, username="alice", first_name="Alice", last_name="Wong")
    widget = ChatWidget.objects.create(name="Shop", team=team, allowed_origins=["https://shop.example"],
                                       deflection_enabled=False)
    return ChatDesk(team, alice, widget)


def start_chat(widget: ChatWidget, name: str, question: str) -> Chat:
    return services.chat_start(
        widget=widget, visitor_id=uuid.uuid4(), name=name, email=f"{name.split()[0].lower()}@visitor.example",
        question=question, language="en", origin="https://shop.example",
    )


def open_visitor_socket(page: Page, live, chat: Chat) -> None:
    """The visitor's side: a real visitor socket (ws/chat/visitor/) from a page of our own origin,
    recording every frame it receives in window.chatFrames."""
    token = in_db_thread(tokens.visitor_token_issue, chat=chat)
    page.goto("/healthz")
    url = live.base_url.replace("http://", "ws://") + f"/ws/chat/visitor/?token={token}"
    page.evaluate("""(url) => new Promise((resolve, reject) => {
        window.chatFrames = [];
        const socket = new WebSocket(url);
        window.chatSocket = socket;
        socket.onmessage = (event) => window.chatFrames.push(JSON.parse(event.data));
        socket.onopen = () => resolve(true);
        socket.onclose = (event) => reject(new Error("closed with " + event.code));
    })""", url)


def visitor_sends(page: Page, frame: dict) -> None:
    page.evaluate("(frame) => window.chatSocket.send(JSON.stringify(frame))", frame)


def visitor_receives(page: Page, condition: str) -> None:
    """Waits until the visitor socket got a frame matching the JS condition on `f`."""
    page.wait_for_function(f"() => window.chatFrames.some((f) => {condition})", timeout=10_000)


def visitor_says(chat_id: int, body: str) -> None:
    chat = Chat.objects.select_related("ticket").get(pk=chat_id)
    services.chat_visitor_message(chat=chat, client_id=uuid.uuid4().hex, body=body)


def go_online(page: Page) -> None:
    page.get_by_label("My status").select_option("online")
    expect(page.locator("[data-chat-presence]")).to_have_attribute("data-status", "online")


def wait_until_live(page: Page) -> None:
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")


def test_agent_takes_two_chats_live_answers_sees_the_visitor_typing_and_ends_one_solved(new_page, live):
    desk = in_db_thread(build_chat_desk)
    agent = new_page()
    visitor = new_page()
    login(agent, "alice")
    agent.get_by_role("link", name="Chat console").click()
    expect(agent).to_have_url(re.compile(r"/agent/chat/$"))
    expect(agent.get_by_text("No chat open")).to_be_visible()
    wait_until_live(agent)
    go_online(agent)
    assert in_db_thread(lambda: services.agent_chat_presence(user=desk.alice)) == "online"

    # A visitor starts a chat: the offer shows without a reload, with a countdown, and in the title.
    first = in_db_thread(start_chat, desk.widget, "Ann Visitor", "Where is my parcel?")
    offer = agent.locator(f'[data-chat-offer][data-chat="{first.pk}"]')
    expect(offer).to_be_visible()
    expect(offer).to_contain_text("Chat request from Ann Visitor")
    expect(offer).to_contain_text("Where is my parcel?")
    expect(offer.locator("[data-countdown]")).to_have_text(re.compile(r"Answer within \d+ s"))
    expect(agent).to_have_title(re.compile(r"^\(1\) "))

    # The agent accepts: the chat opens in its tab, assigned to them.
    offer.get_by_role("button", name="Accept").click()
    expect(agent).to_have_url(re.compile(rf"/agent/chat/\?chat={first.pk}$"))
    first_pane = agent.locator(f'[data-chat-pane="{first.pk}"]')
    expect(first_pane.locator("[data-chat-transcript]")).to_contain_text("Where is my parcel?")
    expect(first_pane).to_contain_text("ann@visitor.example")
    expect(agent.locator(f'[data-chat-tab="{first.pk}"]')).to_have_attribute("aria-current", "page")
    expect(agent.locator("#chat-console")).to_have_attribute("data-joined", re.compile(rf"\b{first.pk}\b"))

    # Enter sends; Shift+Enter makes a new line.
    composer = first_pane.get_by_label("Message")
    composer.fill("Let me check")
    composer.press("Shift+Enter")
    composer.type("one moment.")
    composer.press("Enter")
    expect(first_pane.locator(".chat-msg--agent")).to_contain_text("one moment.")
    expect(composer).to_have_value("")
    reply = in_db_thread(lambda: Message.objects.filter(ticket__chat__pk=first.pk, author_user=desk.alice).get())
    assert reply.body_text.strip() == "Let me check\none moment."
    assert reply.visibility == Visibility.PUBLIC

    # The visitor (on their own socket) reads the answer: the agent sees "Seen" under it.
    open_visitor_socket(visitor, live, first)
    visitor_sends(visitor, {"type": "read", "up_to": reply.pk})
    expect(first_pane.locator(f"#chat-message-{reply.pk} [data-seen]")).to_be_visible()

    # Typing both ways: the visitor sees the agent typing, the agent sees the visitor typing.
    composer.type("Found")
    visitor_receives(visitor, "f.type === 'typing' && f.who === 'agent' && f.is_typing === true")
    composer.fill("")
    visitor_sends(visitor, {"type": "typing", "is_typing": True})
    expect(first_pane.get_by_text("Ann Visitor is typing…")).to_be_visible()

    # The visitor writes: it shows live, "typing" goes, and the agent's read receipt reaches the visitor.
    visitor_sends(visitor, {"type": "message", "client_id": "visitor-1", "body": "Thanks, it is order 1234."})
    visitor_receives(visitor, "f.type === 'ack' && f.client_id === 'visitor-1'")
    expect(first_pane.locator(".chat-msg--visitor").last).to_contain_text("order 1234")
    expect(first_pane.get_by_text("Ann Visitor is typing…")).to_be_hidden()
    visitor_receives(visitor, "f.type === 'read' && f.by === 'agent'")

    # An internal note is marked as such, and never reaches the visitor.
    first_pane.get_by_label("Internal note").check()
    composer.fill("Order 1234 is in the warehouse.")
    composer.press("Enter")
    expect(first_pane.locator(".chat-msg--internal")).to_contain_text("Order 1234 is in the warehouse.")
    first_pane.get_by_label("Internal note").uncheck()
    composer.fill("It leaves today.")
    composer.press("Enter")
    visitor_receives(visitor, "f.type === 'message' && f.body === 'It leaves today.'")
    assert visitor.evaluate("() => window.chatFrames.some((f) => String(f.body).includes('warehouse'))") is False

    # A second chat comes in while the first is open, and opens in a second tab.
    second = in_db_thread(start_chat, desk.widget, "Ben Visitor", "Can I change my address?")
    second_offer = agent.locator(f'[data-chat-offer][data-chat="{second.pk}"]')
    expect(second_offer).to_be_visible()
    second_offer.get_by_role("button", name="Accept").click()
    expect(agent).to_have_url(re.compile(rf"/agent/chat/\?chat={second.pk}$"))
    expect(agent.locator("[data-chat-tab]")).to_have_count(2)
    second_pane = agent.locator(f'[data-chat-pane="{second.pk}"]')
    expect(second_pane.locator("[data-chat-transcript]")).to_contain_text("Can I change my address?")
    expect(agent.locator("#chat-console")).to_have_attribute("data-joined", re.compile(rf"\b{first.pk}\b"))

    # A message in the first chat while the second is open marks the first tab.
    in_db_thread(visitor_says, first.pk, "Are you still there?")
    first_tab = agent.locator(f'[data-chat-tab="{first.pk}"]')
    expect(first_tab.locator("[data-chat-unread]")).to_be_visible()
    second_pane.get_by_label("Message").fill("Yes, in your profile.")
    second_pane.get_by_label("Message").press("Enter")
    expect(second_pane.locator(".chat-msg--agent")).to_contain_text("Yes, in your profile.")

    # Back to the first tab: its new message is there, the mark is gone.
    first_tab.click()
    expect(first_pane).to_be_visible()
    expect(second_pane).to_be_hidden()
    expect(first_pane.locator("[data-chat-transcript]")).to_contain_text("Are you still there?")
    expect(first_tab.locator("[data-chat-unread]")).to_be_hidden()

    # The agent ends the first chat and solves its ticket.
    first_pane.get_by_text("End chat").click()
    first_pane.get_by_role("button", name="End and solve the ticket").click()
    expect(agent.locator(f'[data-chat-pane="{first.pk}"]')).to_contain_text("This chat has ended.")
    chat, status = in_db_thread(lambda: (lambda c: (c, c.ticket.status))(
        Chat.objects.select_related("ticket").get(pk=first.pk)))
    assert (chat.state, chat.end_reason, status) == ("ended", "agent_ended", Status.SOLVED)
    # The second chat is still going, until its visitor leaves: the console shows it at once.
    second_tab = agent.locator(f'[data-chat-tab="{second.pk}"]')
    second_tab.click()
    expect(second_pane).to_be_visible()
    expect(second_pane.get_by_label("Message")).to_be_visible()
    in_db_thread(lambda: services.chat_end(chat=Chat.objects.get(pk=second.pk), reason="visitor_left", solve=False))
    expect(agent.locator(f'[data-chat-pane="{second.pk}"]')).to_contain_text("This chat has ended.")
    expect(agent.locator(f'[data-chat-pane="{second.pk}"]').get_by_label("Message")).to_have_count(0)
    assert agent.problems == []


def test_presence_toggle_and_offers_show_on_every_agent_page(new_page):
    desk = in_db_thread(build_chat_desk)
    agent = new_page()
    login(agent, "alice")
    wait_until_live(agent)
    go_online(agent)
    agent.reload()
    # Persisted: the queue page after a reload still says online.
    expect(agent.get_by_label("My status")).to_have_value("online")
    wait_until_live(agent)

    chat = in_db_thread(start_chat, desk.widget, "Cleo Visitor", "Do you ship to Norway?")
    offer = agent.locator(f'[data-chat-offer][data-chat="{chat.pk}"]')
    expect(offer).to_contain_text("Chat request from Cleo Visitor")
    expect(agent.locator("[data-chat-badge]")).to_have_text("1")

    # Declining keeps the agent on the page and takes the offer away (the chat waits in the queue).
    offer.get_by_role("button", name="Decline").click()
    expect(offer).to_have_count(0)
    expect(agent).to_have_url(re.compile(r"/agent/"))
    expect(agent.locator("[data-chat-badge]")).to_be_hidden()

    # The agent takes it from the waiting queue, then goes on working tickets: a new message from
    # the visitor is announced there too.
    agent.get_by_role("link", name="Chat console").click()
    agent.locator(f'[data-queued-chat="{chat.pk}"]').get_by_role("button", name="Take").click()
    expect(agent).to_have_url(re.compile(rf"/agent/chat/\?chat={chat.pk}$"))
    expect(agent.locator(f'[data-chat-pane="{chat.pk}"]').get_by_label("Message")).to_be_visible()
    agent.get_by_role("link", name="My open tickets").click()
    expect(agent).to_have_url(re.compile(r"/agent/tickets/"))
    expect(agent.locator("[data-chat-presence]")).to_have_attribute("data-watching", str(chat.pk))
    in_db_thread(visitor_says, chat.pk, "Hello? Anyone there?")
    notice = agent.locator("[data-chat-toast]")
    expect(notice).to_have_text("New chat message")
    expect(notice.get_by_role("link")).to_have_attribute("href", f"/agent/chat/?chat={chat.pk}")
    expect(agent).to_have_title(re.compile(r"^\(1\) "))

    agent.get_by_label("My status").select_option("offline")
    expect(agent.locator("[data-chat-presence]")).to_have_attribute("data-status", "offline")
    assert in_db_thread(lambda: services.agent_chat_presence(user=desk.alice)) == "offline"
    assert agent.problems == []


def test_agent_inserts_a_knowledge_base_link_into_a_chat_answer(new_page):
    from knowledgebase.models import ArticleStatus, ArticleVisibility, Category
    from knowledgebase.services import article_create

    def build() -> tuple[ChatDesk, Chat]:
        desk = build_chat_desk()
        category = Category.objects.create(slug="shipping", position=1, names={"en": "Shipping"})
        for title, visibility in (("Track your parcel", ArticleVisibility.PUBLIC),
                                  ("Parcel escalation playbook", ArticleVisibility.INTERNAL)):
            article_create(category=category, visibility=visibility, tags=[], language="en", title=title,
                           body_markdown="Use the tracking link in your order email.", summary="",
                           author=desk.alice, status=ArticleStatus.PUBLISHED)
        services.agent_chat_presence_set(user=desk.alice, status="online")
        chat = start_chat(desk.widget, "Ann Visitor", "Where is my parcel?")
        services.chat_accept(chat=chat, agent=desk.alice)
        return desk, chat

    desk, chat = in_db_thread(build)
    agent = new_page()
    login(agent, "alice")
    agent.goto(f"/agent/chat/?chat={chat.pk}")
    pane = agent.locator(f'[data-chat-pane="{chat.pk}"]')
    pane.get_by_role("button", name="Knowledge base").click()
    panel = pane.locator("[data-chat-kb]")
    expect(panel.get_by_label("Search the knowledge base")).to_have_value("Where is my parcel?")
    panel.get_by_label("Search the knowledge base").fill("parcel")
    panel.get_by_role("button", name="Search").click()
    public = panel.locator(".kb-panel__result", has_text="Track your parcel")
    internal = panel.locator(".kb-panel__result", has_text="Parcel escalation playbook")
    expect(internal.locator(".badge--internal")).to_have_text("Internal")

    message = pane.get_by_label("Message")
    message.fill("Here:")
    public.get_by_role("button", name="Insert link").click()
    expect(message).to_have_value(re.compile(r"^Here: Track your parcel: http://\S+/help/en/articles/"))
    before = message.input_value()
    internal.get_by_role("button", name="Insert link").click()
    expect(panel.get_by_role("status")).to_contain_text("This article is internal")
    expect(message).to_have_value(before)
    message.press("Enter")
    expect(pane.locator(".chat-msg--agent")).to_contain_text("Track your parcel: http")
    assert agent.problems == []
