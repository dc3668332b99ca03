"""Reading a run's events in order: replay from the database, then follow live.

Events are stored before they are published, but a live message can still be missed (a
subscriber joins late, a layer drops one); each gap is filled from the database, so a client
sees every event once, in order. SSE responses and websocket consumers both read through here.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from entities.api.errors import database_unavailable_body
from entities.database import UNAVAILABLE, again_on_new_connection
from entities.models import Run, RunEvent

from .events import STREAM_END_EVENTS, TERMINAL_EVENTS
from .live import events_in, run_group

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 10.0
GAP_CHECK_SECONDS = 0.05


@dataclass(frozen=True)
class Event:
    seq: int
    event: str
    data: str

    def sse(self) -> bytes:
        return f"id: {self.seq}\nevent: {self.event}\ndata: {self.data}\n\n".encode()


# A comment line on its own, never followed by a blank line: a blank line ends an event, and a
# client that keeps the last event id (the openai SDK's decoder does) would take
# ``: keep-alive\n\n`` for an event with empty data and fail to parse it. Comment lines are
# skipped wherever they fall, so the keep-alive keeps bytes flowing (proxies, read timeouts)
# without ever making an event.
KEEPALIVE = b": keep-alive\n"
DONE = b"event: done\ndata: [DONE]\n\n"


class RunStreamError(Exception):
    """The run's events cannot go on; ``body`` (OpenAI's error body) says why."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body["error"]["message"])
        self.body = body


def error_sse(body: dict[str, Any]) -> bytes:
    """OpenAI's ``error`` event: the SDK raises ``APIError`` with its message."""
    return f"event: error\ndata: {json.dumps(body)}\n\n".encode()


T = TypeVar("T")


def _read(run_id: str, read: Callable[[], T]) -> T:
    """A read again on a new connection if the one it used was lost (a failover, a terminated
    backend): the stream goes on."""
    return again_on_new_connection(
        read,
        patience=settings.DATABASE_RECONNECT_SECONDS,
        what=f"Reading run {run_id}'s events",
        writes=False,
    )


def _stored_after(run_id: str, after: int) -> list[Event]:
    def read() -> list[Event]:
        rows = RunEvent.objects.filter(run_id=run_id, seq__gt=after).order_by("seq")
        return [Event(r.seq, r.event, r.data) for r in rows]

    return _read(run_id, read)


def _ended(run_id: str) -> Event | None:
    """The event that ended the run if it has ended: for a client past the stored numbers."""

    def read() -> Event | None:
        status = Run.objects.filter(pk=run_id).values_list("status", flat=True).first()
        if status is None or f"thread.run.{status}" not in TERMINAL_EVENTS:
            return None
        terminal = RunEvent.objects.filter(run_id=run_id, event__in=TERMINAL_EVENTS)
        row = terminal.order_by("-seq").first()
        return Event(row.seq, row.event, row.data) if row else None

    return _read(run_id, read)


stored_after = sync_to_async(_stored_after)
ended = sync_to_async(_ended)


async def run_events(
    run_id: str, *, after: int = 0, until_action: bool = True
) -> AsyncIterator[Event | None]:
    """The run's events after number ``after``, ending with the one that ends the stream.

    Yields ``None`` now and then while nothing happens, so callers can send a keep-alive.
    """
    end_events = STREAM_END_EVENTS if until_action else TERMINAL_EVENTS
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = run_group(run_id)
    await layer.group_add(group, channel)
    last = after
    ahead: dict[int, Event] = {}
    try:
        backlog = await stored_after(run_id, last)
        for index, event in enumerate(backlog):
            last = event.seq
            yield event
            # An earlier requires_action only ends the stream if nothing came after it.
            if event.event in end_events and index == len(backlog) - 1:
                return
        loop = asyncio.get_running_loop()
        check_at: float | None = None  # when to read a hole's events from the database
        while True:
            # A hole is read from the database once it is GAP_CHECK_SECONDS old, even while
            # later events keep arriving live (they would otherwise hold it open for good).
            if ahead and check_at is None:
                check_at = loop.time() + GAP_CHECK_SECONDS
            if not ahead:
                check_at = None
            timeout = KEEPALIVE_SECONDS if check_at is None else check_at - loop.time()
            message = None
            if timeout > 0:
                with contextlib.suppress(TimeoutError):
                    message = await asyncio.wait_for(layer.receive(channel), timeout)
            if message is None:
                for event in await stored_after(run_id, last):
                    ahead.setdefault(event.seq, event)
                check_at = None  # still a hole: read again a window later
                if not ahead:
                    final = await ended(run_id)
                    if final is not None:  # ended while we held a number past the stored ones
                        yield final
                        return
                    yield None
                    continue
            elif message.get("type") == "run.error":  # the worker cannot write: no more events
                raise RunStreamError(message["body"])
            else:
                for item in events_in(message):
                    event = Event(item["seq"], item["event"], item["data"])
                    if event.seq > last:
                        ahead[event.seq] = event
                    elif event.event in TERMINAL_EVENTS:
                        # The reaper numbers after what was stored; the worker had published more.
                        yield event
                        return
            while last + 1 in ahead:
                event = ahead.pop(last + 1)
                last = event.seq
                check_at = None  # any hole left is a new one
                yield event
                if event.event in end_events:
                    return
    finally:
        await layer.group_discard(group, channel)


async def sse_body(
    run_id: str, *, after: int = 0, until_action: bool = True
) -> AsyncIterator[bytes]:
    """The run's events as OpenAI's server-sent events, ending with ``[DONE]``; when the
    database fails under the stream (or under the run's worker), with ``error`` first."""
    try:
        async for event in run_events(run_id, after=after, until_action=until_action):
            yield KEEPALIVE if event is None else event.sse()
    except RunStreamError as exc:
        log.warning("Run %s: its stream ended early: %s", run_id, exc)
        yield error_sse(exc.body)
    except UNAVAILABLE as exc:
        log.warning("Run %s: reading its events failed on the database: %s", run_id, exc)
        yield error_sse(database_unavailable_body())
    yield DONE


def parse_last_event_id(value: str | None) -> int:
    try:
        return max(int(value or 0), 0)
    except ValueError:
        return 0


def event_json(event: Event) -> dict[str, object]:
    return {"seq": event.seq, "event": event.event, "data": json.loads(event.data)}
