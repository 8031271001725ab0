"""The chat widget on a customer's website: another origin than ours, embedded with one script tag.

The host pages are served by a tiny HTTP server of the test at http://localhost:<its port>, while
the app (and so the widget's script, API and websocket) is at http://127.0.0.1:<the e2e port>: a
different origin twice over (host and port), as on a real shop. The widget's allowed origins name
the host page's origin.

The main path has the agent in a second browser context, in the chat console; the other tests
drive the agent's side through chat-core's services in a database thread (`in_db_thread`), as
another process would, since what they test is the visitor's browser.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from channels_intake.chat import services as chat_services
from channels_intake.chat.models import Chat, ChatEndReason, ChatState, ChatWidget
from knowledgebase.models import ArticleStatus, ArticleVisibility, Category, Deflection, DeflectionOutcome
from knowledgebase.services import article_create
from tests.e2e.conftest import E2EServer
from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_team
from tickets.models import Attachment, Channel, Event, Message, Status, Ticket, User

pytestmark = pytest.mark.browser

WIDGET_KEY = "shop-widget"

# A host page that tries hard to break whatever it embeds.
HOSTILE_CSS = """
* { font-size: 40px !important; display: inline !important; color: red !important; margin: 30px !important;
    padding: 20px !important; line-height: 3 !important; visibility: visible !important; }
html, body { font-family: "Comic Sans MS", cursive !important; }
button { background: lime !important; width: 900px !important; }
div, section, form { position: static !important; width: 50px !important; height: 50px !important; overflow: hidden !important; }
"""


# --- the customer's website ------------------------------------------------------------------------


class HostSite:
    """A static website on another origin than the app; `page(path, css=…)` adds a shop page
    that embeds the widget from the app's origin."""

    def __init__(self, app_origin: str) -> None:
        self.app_origin = app_origin
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                html = pages.get(self.path.split("?")[0])
                if html is None:
                    self.send_error(404)
                    return
                body = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.origin = f"http://localhost:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="e2e-host-site", daemon=True)
        self.thread.start()

    def page(self, path: str, *, css: str = "") -> str:
        self.pages[path] = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Northwind Tea</title><style>{css}</style></head>
<body><h1>Northwind Tea</h1><p>Loose-leaf tea, picked this spring.</p>
<script src="{self.app_origin}/chat/widget.js" data-key="{WIDGET_KEY}" async></script>
</body></html>"""
        return self.origin + path

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host_site(live: E2EServer) -> Iterator[HostSite]:
    site = HostSite(live.base_url)
    yield site
    site.stop()


# --- data ------------------------------------------------------------------------------------------


@dataclass
class Shop:
    widget: ChatWidget
    agent: User


def build_shop(host_origin: str, *, with_article: bool = True) -> Shop:
    team = make_team("Support", slug="support")
    agent = make_agent(team, username="alice", first_name="Alice", last_name="Wong")
    widget = ChatWidget.objects.create(
        key=WIDGET_KEY, name="Northwind Tea", team=team, allowed_origins=[host_origin],
        greeting={"en": "Hi! Ask us anything about your order.", "zh-hant": "您好！有任何訂單問題都可以問我們。"},
    )
    if with_article:
        category = Category.objects.create(slug="orders", position=1, names={"en": "Orders"})
        article_create(
            category=category, visibility=ArticleVisibility.PUBLIC, tags=["refunds"], language="en",
            title="How to request a refund", body_markdown="Open **Orders**, choose the order and click *Refund*.",
            summary="Refunds reach your card within five working days.", author=agent, status=ArticleStatus.PUBLISHED,
        )
    return Shop(widget=widget, agent=agent)


def set_presence(agent: User, status: str) -> None:
    in_db_thread(lambda: chat_services.agent_chat_presence_set(user=User.objects.get(pk=agent.pk), status=status))


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """The value of `check()` (run in a database thread) once it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = in_db_thread(check)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def the_chat() -> Chat:
    return in_db_thread(lambda: Chat.objects.select_related("ticket", "agent").get())


# --- the widget ------------------------------------------------------------------------------------


def widget(page: Page):
    """The widget's panel (Playwright's locators pierce its open shadow root)."""
    return page.locator("helpdesk-chat-widget")


def open_widget(page: Page) -> None:
    launcher = page.get_by_role("button", name="Chat with us")
    expect(launcher).to_be_visible()
    launcher.click()
    expect(page.get_by_role("dialog", name="Chat with us")).to_be_visible()


def fill_prechat(page: Page, *, question: str) -> None:
    dialog = page.get_by_role("dialog", name="Chat with us")
    dialog.get_by_label("Name").fill("Maria Garcia")
    dialog.get_by_label("Email").fill("maria@example.com")
    dialog.get_by_label("How can we help?").press_sequentially(question, delay=30)


def message_bubbles(page: Page, text: str):
    return page.get_by_role("log").locator(".message", has_text=text)


# --- tests -----------------------------------------------------------------------------------------


def test_visitor_on_another_site_chats_with_an_agent_in_the_console_and_a_refresh_resumes_the_thread(
        new_page, host_site):
    in_db_thread(build_shop, host_site.origin)

    # The agent, in a browser of their own, opens the chat console and goes online.
    agent = new_page()
    login(agent, "alice")
    agent.goto("/agent/chat/")
    expect(agent.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")
    agent.get_by_label("My status").select_option("online")
    expect(agent.locator("[data-chat-presence]")).to_have_attribute("data-status", "online")

    visitor = new_page()
    visitor.goto(host_site.page("/"))

    # The launcher, then the pre-chat form with the widget's greeting.
    open_widget(visitor)
    dialog = visitor.get_by_role("dialog", name="Chat with us")
    expect(dialog).to_contain_text("Hi! Ask us anything about your order.")
    expect(dialog.get_by_label("Name")).to_be_focused()

    # Typing the question brings the matching article from the knowledge base.
    fill_prechat(visitor, question="refund for my order")
    suggestions = dialog.locator(".suggestions")
    expect(suggestions.get_by_role("heading", name="These articles might answer your question")).to_be_visible()
    expect(suggestions.get_by_role("link", name="How to request a refund")).to_have_attribute(
        "href", re.compile(r"^http://127\.0\.0\.1:\d+/help/en/articles/"))
    dialog.get_by_role("button", name="Start chat").click()

    # Sent: the articles again, and the choice between them and a person.
    expect(dialog.get_by_role("link", name="How to request a refund")).to_be_visible()
    dialog.get_by_role("button", name="Talk to a person").click()
    expect(dialog.get_by_role("log")).to_contain_text("refund for my order")
    chat = the_chat()
    assert chat.origin == host_site.origin and chat.ticket.channel == Channel.CHAT
    assert chat.visitor_name == "Maria Garcia" and chat.visitor_email == "maria@example.com"

    # The offer reaches the agent live; accepting tells the visitor who they are talking to.
    offer = agent.locator(f'[data-chat-offer][data-chat="{chat.pk}"]')
    expect(offer).to_contain_text("Maria Garcia")
    offer.get_by_role("button", name="Accept").click()
    pane = agent.locator(f'[data-chat-pane="{chat.pk}"]')
    expect(pane.locator("[data-chat-transcript]")).to_contain_text("refund for my order")
    expect(dialog.get_by_role("status").filter(has_text="You are chatting with Alice Wong.")).to_be_visible()

    # The agent types (the visitor sees it) and answers.
    agent_composer = pane.get_by_label("Message")
    agent_composer.type("Hi Maria")
    expect(dialog.get_by_text("Alice Wong is typing…")).to_be_visible()
    agent_composer.fill("Hi Maria, I can help with that. What is the order number?")
    agent_composer.press("Enter")
    answer = message_bubbles(visitor, "What is the order number?")
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text("Alice Wong")
    expect(dialog.get_by_text("Alice Wong is typing…")).to_be_hidden()
    # The visitor has the panel open: the agent sees the answer was read.
    reply_id = in_db_thread(lambda: Message.objects.get(
        ticket__chat__pk=chat.pk, body_text__contains="What is the order number?").pk)
    expect(pane.locator(f"#chat-message-{reply_id} [data-seen]")).to_be_visible()

    # The visitor answers: acknowledged once PostgreSQL has it, then read by the agent.
    composer = dialog.get_by_label("Message", exact=True)
    composer.fill("It is order 4711.")
    composer.press("Enter")
    mine = message_bubbles(visitor, "It is order 4711.")
    expect(mine).to_have_count(1)
    expect(pane.locator("[data-chat-transcript]")).to_contain_text("It is order 4711.")
    expect(mine.locator(".receipt")).to_have_text("Read")

    # A refresh mid-chat: the same chat, the whole thread once, still with Alice.
    visitor.reload()
    dialog = visitor.get_by_role("dialog", name="Chat with us")
    expect(dialog).to_be_visible()
    expect(message_bubbles(visitor, "refund for my order")).to_have_count(1)
    expect(message_bubbles(visitor, "What is the order number?")).to_have_count(1)
    expect(message_bubbles(visitor, "It is order 4711.")).to_have_count(1)
    expect(dialog.get_by_role("status").filter(has_text="You are chatting with Alice Wong.")).to_be_visible()

    # Live again after the refresh, both ways.
    agent_composer.fill("Thanks! The refund for 4711 is on its way.")
    agent_composer.press("Enter")
    expect(message_bubbles(visitor, "The refund for 4711 is on its way.")).to_have_count(1)
    composer = dialog.get_by_label("Message", exact=True)
    composer.fill("Great, thank you!")
    composer.press("Enter")
    expect(pane.locator("[data-chat-transcript]")).to_contain_text("Great, thank you!")
    expect(message_bubbles(visitor, "Great, thank you!")).to_have_count(1)
    expect(message_bubbles(visitor, "It is order 4711.")).to_have_count(1)

    # The transcript is the ticket's thread, each message once, in order.
    bodies = in_db_thread(lambda: [" ".join(body.split()) for body in Message.objects.filter(
        ticket__chat__pk=chat.pk).order_by("pk").values_list("body_text", flat=True)])
    assert bodies == [
        "refund for my order", "Hi Maria, I can help with that. What is the order number?", "It is order 4711.",
        "Thanks! The refund for 4711 is on its way.", "Great, thank you!",
    ]

    # The agent ends the chat and solves the ticket: the visitor may rate it.
    pane.get_by_text("End chat").click()
    pane.get_by_role("button", name="End and solve the ticket").click()
    expect(dialog.get_by_role("group", name="How was this chat?")).to_be_visible()
    expect(dialog.get_by_label("Message", exact=True)).to_be_hidden()
    dialog.get_by_role("radio", name="5 out of 5").check()
    dialog.get_by_label("Comment (optional)").fill("Quick and friendly.")
    dialog.get_by_role("button", name="Send rating").click()
    expect(dialog.get_by_text("Thank you for your feedback!")).to_be_visible()
    rated = the_chat()
    assert rated.state == ChatState.ENDED and rated.end_reason == ChatEndReason.AGENT_ENDED
    assert rated.ticket.status == Status.SOLVED and rated.agent.username == "alice"
    assert (rated.rating, rated.rating_comment) == (5, "Quick and friendly.")
    assert visitor.problems == []
    assert agent.problems == []


def test_new_agent_messages_badge_the_closed_launcher_and_the_page_title(new_page, host_site):
    shop = in_db_thread(build_shop, host_site.origin, with_article=False)
    set_presence(shop.agent, "online")
    visitor = new_page()
    visitor.goto(host_site.page("/"))
    open_widget(visitor)
    dialog = visitor.get_by_role("dialog", name="Chat with us")
    fill_prechat(visitor, question="Where is my parcel?")
    dialog.get_by_role("button", name="Start chat").click()
    expect(dialog.get_by_role("log")).to_contain_text("Where is my parcel?")
    chat = the_chat()
    assert chat.state in (ChatState.QUEUED, ChatState.OFFERED)  # nothing matched: straight to a person
    # Waiting: the visitor's place in the team's queue and a wait estimate.
    expect(dialog.get_by_role("status").filter(has_text="You are number 1 in the queue.")).to_contain_text(
        re.compile(r"Estimated wait: (under a minute|\d+ min)\."))
    in_db_thread(lambda: chat_services.chat_accept(chat=Chat.objects.get(pk=chat.pk), agent=User.objects.get(username="alice")))

    # Esc closes the panel and gives the focus back to the launcher.
    dialog.get_by_label("Message", exact=True).press("Escape")
    expect(dialog).to_be_hidden()
    launcher = visitor.get_by_role("button", name=re.compile("^Chat with us"))
    expect(launcher).to_be_focused()

    in_db_thread(lambda: chat_services.chat_agent_message(
        chat=Chat.objects.get(pk=chat.pk), agent=User.objects.get(username="alice"), body="It left our warehouse today."))
    expect(launcher).to_have_accessible_name("Chat with us (1 new message)")
    expect(visitor).to_have_title("(1) Northwind Tea")

    launcher.click()
    expect(message_bubbles(visitor, "It left our warehouse today.")).to_have_count(1)
    expect(visitor).to_have_title("Northwind Tea")
    expect(launcher.locator(".badge")).to_be_hidden()

    # A file goes into the chat as the visitor's message, within the tickets' upload limits.
    with visitor.expect_file_chooser() as chooser:
        dialog.get_by_role("button", name="Attach a file").click()
    chooser.value.set_files(files=[{"name": "receipt.txt", "mimeType": "text/plain", "buffer": b"Order 4711, paid."}])
    sent_file = dialog.get_by_role("log").locator(".message--visitor", has_text="receipt.txt")
    expect(sent_file).to_have_count(1)
    expect(sent_file.locator(".receipt")).to_have_text(re.compile("^(Sent|Read)$"))
    attachments = in_db_thread(lambda: list(Attachment.objects.filter(message__ticket__chat__pk=chat.pk).values_list(
        "filename", "size")))
    assert attachments == [("receipt.txt", 17)]
    assert visitor.problems == []


def test_offline_widget_takes_a_message_that_becomes_a_ticket_in_the_visitors_language(new_page, host_site):
    in_db_thread(build_shop, host_site.origin, with_article=False)  # nobody online
    visitor = new_page()
    # A visitor whose browser prefers Traditional Chinese (Taiwan).
    visitor.add_init_script("Object.defineProperty(navigator, 'languages', {get: () => ['zh-TW', 'en-US']});")
    visitor.goto(host_site.page("/"))

    visitor.get_by_role("button", name="與我們聊天").click()
    dialog = visitor.get_by_role("dialog", name="與我們聊天")
    expect(dialog).to_contain_text("我們暫時不在線上")
    dialog.get_by_label("姓名").fill("陳小明")
    dialog.get_by_label("電子郵件").fill("ming@example.com")
    dialog.get_by_label("訊息").fill("請問可以寄到台中嗎？")
    dialog.get_by_role("button", name="送出留言").click()
    expect(dialog.get_by_role("status")).to_have_text("謝謝！我們已收到您的留言，將回覆至 ming@example.com。")

    ticket = wait_for(lambda: Ticket.objects.filter(channel=Channel.CHAT).select_related("requester").first())
    assert ticket is not None and ticket.requester.email == "ming@example.com"
    assert ticket.status in (Status.NEW, Status.OPEN) and "chat-offline" in ticket.tags
    assert in_db_thread(lambda: Message.objects.filter(ticket=ticket, body_text__contains="請問可以寄到台中嗎").exists())
    assert visitor.problems == []


def test_this_answered_my_question_ends_a_deflected_chat_even_on_a_page_with_hostile_css(new_page, host_site):
    shop = in_db_thread(build_shop, host_site.origin)
    set_presence(shop.agent, "online")
    visitor = new_page()
    visitor.goto(host_site.page("/hostile", css=HOSTILE_CSS))

    # The page's rules do not reach inside the widget: readable sizes, the panel in the window.
    open_widget(visitor)
    dialog = visitor.get_by_role("dialog", name="Chat with us")
    heading = dialog.get_by_role("heading", name="Chat with us")
    assert heading.evaluate("(element) => getComputedStyle(element).fontSize") == "16px"
    assert heading.evaluate("(element) => getComputedStyle(element).color") == "rgb(255, 255, 255)"
    box = dialog.bounding_box()
    assert box is not None and 300 <= box["width"] <= 400 and box["height"] >= 400
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 1440 and box["y"] + box["height"] <= 900
    start = dialog.get_by_role("button", name="Start chat")
    assert start.evaluate("(element) => getComputedStyle(element).fontSize") == "14px"

    fill_prechat(visitor, question="How do I get a refund?")
    expect(dialog.get_by_role("link", name="How to request a refund")).to_be_visible()
    start.click()
    dialog.get_by_role("button", name="This answered my question").click()
    expect(dialog.get_by_role("status")).to_have_text("Glad we could help! This chat is closed.")

    chat = the_chat()
    assert chat.state == ChatState.ENDED and chat.end_reason == ChatEndReason.DEFLECTED and chat.agent is None
    assert chat.ticket.status == Status.SOLVED
    deflection = in_db_thread(lambda: Deflection.objects.get(source=Deflection.Source.CHAT_WIDGET))
    assert deflection.outcome == DeflectionOutcome.DEFLECTED and deflection.ticket_id == chat.ticket_id
    # Nobody was asked to take it.
    assert in_db_thread(lambda: chat.offers.count()) == 0

    # A new chat starts from a blank form.
    dialog.get_by_role("button", name="Start a new chat").click()
    expect(dialog.get_by_label("How can we help?")).to_have_value("")
    assert visitor.problems == []


def test_widget_on_a_site_not_allowed_stays_away(new_page, host_site):
    in_db_thread(build_shop, "https://another-shop.example")
    visitor = new_page()
    with visitor.expect_console_message(lambda message: "not allowed on" in message.text):
        visitor.goto(host_site.page("/"))

    expect(visitor.locator("helpdesk-chat-widget")).to_have_count(0)
    assert in_db_thread(Chat.objects.count) == 0


def test_demo_shop_page_shows_the_demo_widget_under_our_own_csp(new_page, live):
    from channels_intake.chat.demo import seed_chat_widget  # chat-core's demo data (seed_demo)

    def seed() -> User:
        team = make_team("Support", slug="support")
        seed_chat_widget()
        return make_agent(team, username="alice", first_name="Alice", last_name="Wong")

    alice = in_db_thread(seed)
    set_presence(alice, "online")
    visitor = new_page()
    visitor.goto("/demo/widget/")
    expect(visitor.get_by_role("heading", name="Loose-leaf tea, picked this spring")).to_be_visible()

    open_widget(visitor)
    dialog = visitor.get_by_role("dialog", name="Chat with us")
    expect(dialog).to_contain_text("Hi! Ask us anything")
    fill_prechat(visitor, question="Do you ship to Canada?")
    dialog.get_by_role("button", name="Start chat").click()
    expect(dialog.get_by_role("log")).to_contain_text("Do you ship to Canada?")
    chat = the_chat()
    assert chat.widget.key == "demo-widget" and chat.origin == live.base_url
    assert chat.state in (ChatState.QUEUED, ChatState.OFFERED)
    # No CSP violation, no failed request: the page's policy lets the widget load and connect.
    assert visitor.problems == []


# Wraps the page's WebSocket so a test can lose frames the way a dying connection does.
FLAKY_NETWORK = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__loseOutgoingMessages = false;
  window.__loseOwnEchoes = false;
  class Flaky extends Native {
    constructor(...args) { super(...args); window.__sockets.push(this); }
    send(data) {
      if (window.__loseOutgoingMessages && JSON.parse(data).type === "message") return;
      super.send(data);
    }
    addEventListener(type, listener, options) {
      if (type !== "message") return super.addEventListener(type, listener, options);
      return super.addEventListener(type, (event) => {
        const frame = JSON.parse(event.data);
        const own = frame.type === "ack" || (frame.type === "message" && frame.author === "visitor");
        if (!(window.__loseOwnEchoes && own)) listener(event);
      }, options);
    }
  }
  window.WebSocket = Flaky;
})();
"""


def test_messages_lost_with_the_connection_are_resent_once_and_never_doubled(new_page, host_site):
    shop = in_db_thread(build_shop, host_site.origin, with_article=False)
    set_presence(shop.agent, "online")
    visitor = new_page()
    visitor.add_init_script(FLAKY_NETWORK)
    visitor.goto(host_site.page("/"))
    open_widget(visitor)
    dialog = visitor.get_by_role("dialog", name="Chat with us")
    fill_prechat(visitor, question="Is the Keemun in stock?")
    dialog.get_by_role("button", name="Start chat").click()
    expect(dialog.get_by_role("log")).to_contain_text("Is the Keemun in stock?")
    chat = the_chat()
    composer = dialog.get_by_label("Message", exact=True)

    # The frame never leaves: the message waits, shown as sending, until the connection is back.
    visitor.evaluate("window.__loseOutgoingMessages = true")
    composer.fill("Lost on the way out")
    composer.press("Enter")
    lost_out = message_bubbles(visitor, "Lost on the way out")
    expect(lost_out.locator(".receipt")).to_have_text("Sending…")
    visitor.evaluate("window.__loseOutgoingMessages = false; window.__sockets.at(-1).close()")
    expect(lost_out.locator(".receipt")).to_have_text("Sent")

    # The message arrives but its acknowledgement does not: after the reconnect it is resent,
    # stored once, and shown once.
    visitor.evaluate("window.__loseOwnEchoes = true")
    composer.fill("Stored but not acknowledged")
    composer.press("Enter")
    unacknowledged = message_bubbles(visitor, "Stored but not acknowledged")
    assert wait_for(lambda: Message.objects.filter(ticket__chat__pk=chat.pk, body_text="Stored but not acknowledged").exists())
    expect(unacknowledged.locator(".receipt")).to_have_text("Sending…")
    visitor.evaluate("window.__loseOwnEchoes = false; window.__sockets.at(-1).close()")
    expect(unacknowledged.locator(".receipt")).to_have_text("Sent")
    expect(unacknowledged).to_have_count(1)
    expect(lost_out).to_have_count(1)
    assert visitor.evaluate("window.__sockets.length") == 3

    counts = in_db_thread(lambda: {
        body: Message.objects.filter(ticket__chat__pk=chat.pk, body_text=body).count()
        for body in ("Lost on the way out", "Stored but not acknowledged")})
    assert counts == {"Lost on the way out": 1, "Stored but not acknowledged": 1}

    # The visitor leaves: the ticket stays open for the team, and the transcript can be mailed.
    dialog.get_by_role("button", name="End chat").click()
    expect(dialog.get_by_role("group", name="How was this chat?")).to_be_visible()
    ended = the_chat()
    assert (ended.state, ended.end_reason) == (ChatState.ENDED, ChatEndReason.VISITOR_LEFT)
    assert ended.ticket.status not in (Status.SOLVED, Status.CLOSED)
    transcript_email = dialog.get_by_label("Email me the transcript")
    expect(transcript_email).to_have_value("maria@example.com")
    dialog.get_by_role("button", name="Send transcript").click()
    expect(dialog.get_by_text("The transcript is on its way to maria@example.com.")).to_be_visible()
    assert in_db_thread(lambda: Event.objects.filter(
        ticket__chat__pk=chat.pk, kind="chat_transcript_requested", to_value__email="maria@example.com").count()) == 1
    assert visitor.problems == []
