"""Visitors' chat lines: stored in batches, each acknowledged once its batch has committed.

A chat line is the busiest write of the product (issue 6 asks for 200 a second on this two-core
machine). One line at a time through `ticket_reply` costs about a dozen queries and 30 ms of CPU;
here the lines that arrive while a batch is being written wait for the next one, and a batch costs
a handful of statements whatever its size (`ticket_customer_lines_append`). Nothing changes for
the visitor: a line is acknowledged only once it is in PostgreSQL, a resend is stored once, and a
socket still sends its lines one after the other, so they are stored in the order typed.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import SyncToAsync
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import close_old_connections, connection, connections
from django.utils.translation import gettext as _

from channels_intake.chat import events, limits
from channels_intake.chat.models import Chat, ChatState
from channels_intake.chat.services import (
    CLIENT_ID,
    ChatEnded,
    ChatRateLimited,
    _check_body,
)
from tickets.models import AuthorKind, Channel, Message, Visibility
from tickets.services.ticket_messages import AppendedLine, CustomerLine, ticket_customer_lines_append

# Lines stored in one transaction at most; more wait for the next batch.
MAX_BATCH = 200


@dataclass(frozen=True)
class VisitorLine:
    chat_id: int
    client_id: str
    body: str


LineOutcome = AppendedLine | ValidationError | PermissionDenied


def external_id_of(*, chat_id: int, client_id: str) -> str:
    return f"chat:{chat_id}:{client_id}"


def chat_visitor_lines_store(*, lines: Sequence[VisitorLine]) -> list[LineOutcome]:
    """Store visitors' text lines, each on its chat's ticket; an outcome per line, in order.

    What `chat_visitor_message` does for one message, for many: a resend of a stored line is
    acknowledged again (whatever the chat's state or the visitor's rate now); a line on an ended or
    unknown chat, past the visitor's per-minute limit, empty, too long or with a malformed client id
    is refused (its outcome is the error, the other lines stand). New lines reach the chat's sockets
    after commit.
    """
    outcomes: dict[int, LineOutcome] = {}
    candidates: list[tuple[int, VisitorLine]] = []
    for index, line in enumerate(lines):
        if not isinstance(line.client_id, str) or not CLIENT_ID.match(line.client_id):
            outcomes[index] = ValidationError(_("Invalid message id."), code="bad_client_id")
            continue
        try:
            _check_body(line.body)
        except ValidationError as error:
            outcomes[index] = error
            continue
        candidates.append((index, line))
    chats, stored_before = _read(
        chat_ids=[line.chat_id for _, line in candidates],
        external_ids=[external_id_of(chat_id=line.chat_id, client_id=line.client_id) for _, line in candidates],
    )
    counted: list[tuple[int, VisitorLine, _ChatRow]] = []
    for index, line in candidates:
        external_id = external_id_of(chat_id=line.chat_id, client_id=line.client_id)
        chat = chats.get(line.chat_id)
        if external_id in stored_before and chat is not None:
            message_id, created_at = stored_before[external_id]
            outcomes[index] = AppendedLine(message_id=message_id, ticket_id=chat.ticket_id, created_at=created_at,
                                           is_new=False)
        elif chat is None or chat.state == ChatState.ENDED:
            outcomes[index] = ChatEnded(_("This chat has ended."), code="ended")
        elif not line.body.strip():
            outcomes[index] = ValidationError(_("Write a message or attach a file."), code="empty")
        else:
            counted.append((index, line, chat))
    allowed = limits.visitor_messages_allowed(visitor_keys=[str(chat.visitor_id) for _index, _line, chat in counted])
    to_store: list[tuple[int, VisitorLine, _ChatRow]] = []
    for (index, line, chat), is_allowed in zip(counted, allowed, strict=True):
        if is_allowed:
            to_store.append((index, line, chat))
        else:
            outcomes[index] = ChatRateLimited(_("You are sending messages too fast. Wait a moment."),
                                              code="rate_limited")
    if not to_store:
        return [outcomes[index] for index in range(len(lines))]
    appended = ticket_customer_lines_append(
        lines=[CustomerLine(ticket_id=chat.ticket_id, customer_id=chat.requester_id, body_text=line.body,
                            external_id=external_id_of(chat_id=line.chat_id, client_id=line.client_id))
               for _index, line, chat in to_store],
        channel=Channel.CHAT, via=Channel.CHAT,
    )
    # Committed (or inside the caller's transaction: then sent once it commits).
    new_messages: list[tuple[Chat, Message, str]] = []
    for (index, line, chat), outcome in zip(to_store, appended, strict=True):
        outcomes[index] = outcome
        if isinstance(outcome, AppendedLine) and outcome.is_new:
            message = Message(pk=outcome.message_id, ticket_id=outcome.ticket_id, author_kind=AuthorKind.CUSTOMER,
                              visibility=Visibility.PUBLIC, body_text=line.body, created_at=outcome.created_at)
            new_messages.append((Chat(pk=chat.pk, visitor_name=chat.visitor_name), message, line.client_id))
    events.messages_after_commit(new_messages)
    return [outcomes[index] for index in range(len(lines))]


@dataclass(frozen=True)
class _ChatRow:
    pk: int
    state: str
    ticket_id: int
    visitor_id: str
    visitor_name: str
    requester_id: int


# The batch's two reads in one round trip of plain SQL (the ORM's compiling of them cost more CPU
# than running them): its chats with their tickets' requesters, and the lines stored before.
_READ_SQL = """
    SELECT 'chat', chat.id, chat.state, chat.ticket_id, chat.visitor_id::text, chat.visitor_name, ticket.requester_id,
           NULL::timestamptz
    FROM channels_intake_chat AS chat JOIN tickets_ticket AS ticket ON ticket.id = chat.ticket_id
    WHERE chat.id = ANY(%s)
    UNION ALL
    SELECT 'line', id, external_id, NULL, NULL, NULL, NULL, created_at
    FROM tickets_message WHERE channel = %s AND external_id = ANY(%s)
"""


def _read(*, chat_ids: list[int], external_ids: list[str]) -> tuple[dict[int, _ChatRow], dict[str, tuple[int, datetime]]]:
    chats: dict[int, _ChatRow] = {}
    stored: dict[str, tuple[int, datetime]] = {}
    if not chat_ids:
        return chats, stored
    with connection.cursor() as cursor:
        cursor.execute(_READ_SQL, [sorted(set(chat_ids)), Channel.CHAT, external_ids])
        for kind, row_id, text, ticket_id, visitor_id, visitor_name, requester_id, created_at in cursor.fetchall():
            if kind == "chat":
                chats[row_id] = _ChatRow(pk=row_id, state=text, ticket_id=ticket_id, visitor_id=visitor_id,
                                         visitor_name=visitor_name, requester_id=requester_id)
            else:
                stored[text] = (row_id, created_at)
    return chats, stored


# ----------------------------------------------------------------------------------- the writer


# WRITER_THREADS threads per process write the batches: their database connections stay open
# between batches, and the lines queue in the event loop (cheap) rather than in threads (each with
# a connection). Lines of one socket are never in two batches at once (it sends the next after the
# ack), so they stay in order with more writers too. One: with two, batches got smaller and cost
# more CPU per line, and on two cores the benchmark's p99 went from 120 to 340 ms.
WRITER_THREADS = 1
_EXECUTOR = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="chat-lines")
# Django's per-call connection check (CONN_HEALTH_CHECKS: a `SELECT 1` before the first query)
# runs at most this often in a writer thread, not before every batch.
CONNECTION_CHECK_SECONDS = 1.0
_thread_state = threading.local()


def _store_batch_in_thread(lines: list[VisitorLine]) -> list[LineOutcome]:
    now = time.monotonic()
    if now - getattr(_thread_state, "last_connection_check", 0.0) >= CONNECTION_CHECK_SECONDS:
        close_old_connections()
        _thread_state.last_connection_check = now
    try:
        return chat_visitor_lines_store(lines=lines)
    except Exception:
        close_old_connections()  # a broken connection is dropped now, not a second later
        _thread_state.last_connection_check = time.monotonic()
        raise


_store_batch = SyncToAsync(_store_batch_in_thread, thread_sensitive=False, executor=_EXECUTOR)


def close_connections() -> None:
    """Close the writer threads' database connections (tests, before their database is dropped).
    The next batches open new ones."""
    threads = len(_EXECUTOR._threads)  # none started: nothing to close, and no thread to start
    if not threads:
        return
    # One task per thread: each waits for the others, so no thread can take two.
    barrier = threading.Barrier(threads)

    def close() -> None:
        connections.close_all()
        barrier.wait(timeout=10)

    for future in [_EXECUTOR.submit(close) for _thread in range(threads)]:
        future.result()


class LineWriter:
    """Collects the lines of an event loop's sockets and stores them, a batch per free writer."""

    def __init__(self) -> None:
        self._waiting: list[tuple[VisitorLine, asyncio.Future[LineOutcome]]] = []
        self._drains: set[asyncio.Task[None]] = set()

    async def store(self, line: VisitorLine) -> LineOutcome:
        """The line's outcome once its batch has committed; raises if the batch failed (a database
        error: the client resends what was not acknowledged, stored once)."""
        future: asyncio.Future[LineOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((line, future))
        if len(self._drains) < WRITER_THREADS:
            drain = asyncio.ensure_future(self._write())
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                outcomes = await _store_batch([line for line, _future in batch])
            except Exception as error:  # noqa: BLE001 - handed to every waiting socket
                for _line, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_line, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LineWriter] = weakref.WeakKeyDictionary()


def line_writer() -> LineWriter:
    """The running event loop's writer (a server has one loop per process; tests start several)."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = LineWriter()
    return writer

