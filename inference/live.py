"""Publishing live events from any process, in order, without blocking the caller.

``publish()`` hands the message to one background thread per process, which sends it on:
to the embedded layer's Unix socket, or through the configured channel layer (Redis).
One thread keeps the order of a run's events and reuses one connection. Run events that
wait together go out as one ``run.events`` message: a group send to Redis is several round
trips, and a run's first token follows four opening events.
"""

import asyncio
import json
import logging
import queue
import socket
import threading
import time
from typing import Any

from channels.layers import get_channel_layer

from .channel_layer import EmbeddedChannelLayer

log = logging.getLogger(__name__)

_RECONNECT_EVERY_SECONDS = 0.2
# At most this many run events, and about this many characters of their data, in one message.
MAX_BATCH = 200
MAX_BATCH_CHARS = 32 * 1024


def batched(items: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The messages to send for ``items``, in order: each run of ``run.event`` messages to one
    group becomes a single ``run.events`` message carrying them (``events_in`` reads both),
    cut at ``MAX_BATCH`` events or ``MAX_BATCH_CHARS`` of data."""
    out: list[tuple[str, dict[str, Any]]] = []
    chars = 0  # in the last message of ``out``
    for group, message in items:
        size = len(message.get("data", ""))
        if message.get("type") == "run.event":
            if out and out[-1][0] == group and out[-1][1].get("type") == "run.events":
                events = out[-1][1]["events"]
                if len(events) < MAX_BATCH and chars + size <= MAX_BATCH_CHARS:
                    events.append(message)
                    chars += size
                    continue
            out.append((group, {"type": "run.events", "events": [message]}))
            chars = size
        else:
            out.append((group, message))
    return out


def events_in(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The run events a live message carries: one (``run.event``) or several (``run.events``)."""
    if message.get("type") == "run.events":
        return list(message["events"])
    return [message]


def run_group(run_id: str) -> str:
    return f"run.{run_id}"


def publish_run_error(run_id: str, body: dict[str, Any]) -> None:
    """Tell the run's streams that it cannot go on (its worker cannot write the database):
    they end with an ``error`` event carrying ``body``, OpenAI's error body."""
    publish(run_group(run_id), {"type": "run.error", "body": body})


def thread_group(thread_id: str) -> str:
    return f"thread.{thread_id}"


class _Publisher(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="entities-live-publisher", daemon=True)
        self.queue: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        self.layer = get_channel_layer()
        self._sock: socket.socket | None = None
        self._next_connect = 0.0

    def _waiting(self) -> list[tuple[str, dict[str, Any]]]:
        """The next message, and every other one already waiting: batched."""
        items = [self.queue.get()]
        while True:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                return batched(items)

    def run(self) -> None:
        if isinstance(self.layer, EmbeddedChannelLayer):
            while True:
                for group, message in self._waiting():
                    if group == _SENT:
                        message["sent"].set()
                        continue
                    self._send_to_socket(group, message)
        else:
            loop = asyncio.new_event_loop()
            while True:
                for group, message in self._waiting():
                    if group == _SENT:
                        message["sent"].set()
                        continue
                    try:
                        loop.run_until_complete(self.layer.group_send(group, message))
                    except Exception:  # a broken layer must not kill publishing for good
                        log.exception("Could not publish to %s", group)

    def _send_to_socket(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(self.layer, EmbeddedChannelLayer)
        frame = (json.dumps({"group": group, "message": message}) + "\n").encode()
        for _ in range(2):
            if self._sock is None:
                if time.monotonic() < self._next_connect:
                    return  # nobody listens yet; the event is in the database for later
                try:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sock.connect(self.layer.socket_path)
                    self._sock = sock
                except OSError:
                    self._next_connect = time.monotonic() + _RECONNECT_EVERY_SECONDS
                    return
            try:
                self._sock.sendall(frame)
                return
            except OSError:  # the web process went away; try a fresh connection once
                self._sock.close()
                self._sock = None


_publisher: _Publisher | None = None
_publisher_lock = threading.Lock()
_SENT = ""  # not a group: a marker that sets its event once everything before it was sent


def wait_sent(timeout: float) -> bool:
    """Wait until everything published so far was sent on (a worker about to exit)."""
    publisher = _publisher
    if publisher is None or not publisher.is_alive():
        return True
    sent = threading.Event()
    publisher.queue.put((_SENT, {"sent": sent}))
    return sent.wait(timeout)


def publish(group: str, message: dict[str, Any]) -> None:
    global _publisher
    if _publisher is None or not _publisher.is_alive():
        with _publisher_lock:
            if _publisher is None or not _publisher.is_alive():
                _publisher = _Publisher()
                _publisher.start()
    _publisher.queue.put((group, message))
