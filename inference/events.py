"""A run's events: numbered, persisted, and pushed live.

Names and payloads are OpenAI's (``thread.run.created``, ``thread.message.delta``, ...), built
by the same serializers as the REST API. Every event gets the next number of its run, is
published at once, and is written to the database; the worker writes deltas in batches so
the database is not written per token, while live delivery never waits for that write.
"""

import json
import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Max

from entities.api.wire import MessageSerializer, RunSerializer, RunStepSerializer
from entities.models import Message, Run, RunEvent, RunStep

from .live import publish, run_group

FLUSH_EVERY_SECONDS = 0.1
FLUSH_EVERY_EVENTS = 200

TERMINAL_EVENTS = {
    "thread.run.completed",
    "thread.run.failed",
    "thread.run.cancelled",
    "thread.run.expired",
    "thread.run.incomplete",
}
# A stream also ends when the run waits for the client's tool outputs.
STREAM_END_EVENTS = TERMINAL_EVENTS | {"thread.run.requires_action"}


# One instance of each serializer, built once: building one deep-copies its fields (~0.5 ms,
# and a run sends several such events before its first token). They keep no state per call.
_RUN = RunSerializer()
_MESSAGE = MessageSerializer()
_STEP = RunStepSerializer()


def run_event(run: Run) -> tuple[str, dict[str, Any]]:
    """The event that announces a run's current status, and its payload."""
    return f"thread.run.{run.status}", dict(_RUN.to_representation(run))


def message_event(message: Message, name: str) -> tuple[str, dict[str, Any]]:
    return f"thread.message.{name}", dict(_MESSAGE.to_representation(message))


def step_event(step: RunStep, name: str) -> tuple[str, dict[str, Any]]:
    return f"thread.run.step.{name}", dict(_STEP.to_representation(step))


def text_delta(message_id: str, text: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "object": "thread.message.delta",
        "delta": {
            "content": [{"index": 0, "type": "text", "text": {"value": text, "annotations": []}}]
        },
    }


def _live(run_id: str, seq: int, event: str, data: str) -> None:
    publish(run_group(run_id), {"type": "run.event", "seq": seq, "event": event, "data": data})


def last_seq(run_id: str) -> int:
    return RunEvent.objects.filter(run_id=run_id).aggregate(m=Max("seq"))["m"] or 0


def record_events(
    run: Run, events: list[tuple[str, dict[str, Any]]], *, after: int | None = None
) -> int:
    """Record events for a run no worker holds (created, queued, cancelled by the API, reaped);
    the number of the last. ``after``: the run's last number, when the caller knows it.

    Call inside the transaction that changed the run, with the run's row locked; they are
    published once it commits.
    """
    seq = last_seq(run.id) if after is None else after
    rows = []
    for name, data in events:
        seq += 1
        rows.append(RunEvent(run_id=run.id, seq=seq, event=name, data=json.dumps(data)))
    RunEvent.objects.bulk_create(rows)

    def push() -> None:
        for row in rows:
            _live(run.id, row.seq, row.event, row.data)

    transaction.on_commit(push)
    return seq


class EventRecorder:
    """The worker's side: numbers, publishes at once, persists in batches."""

    def __init__(
        self,
        run_id: str,
        *,
        seq: int | None = None,
        on_flush: Callable[[], None] | None = None,
    ) -> None:
        """``seq``: the run's last event number, when the caller knows it."""
        self.run_id = run_id
        self.seq = last_seq(run_id) if seq is None else seq
        self.pending: list[RunEvent] = []
        self.on_flush = on_flush
        self._last_flush = time.monotonic()

    def _add(self, name: str, data: dict[str, Any]) -> str:
        self.seq += 1
        payload = json.dumps(data)
        self.pending.append(RunEvent(run_id=self.run_id, seq=self.seq, event=name, data=payload))
        return payload

    def emit(self, name: str, data: dict[str, Any], *, flush: bool = True) -> None:
        """Deltas pass ``flush=False`` and go out at once, written in the next batch. Every
        other event is written (with the batch before it) before it goes out, so a client that
        acts on it (submits tool outputs, reconnects) finds it, and all before it, stored."""
        if flush:
            self.emit_together((name, data))
            return
        payload = self._add(name, data)
        _live(self.run_id, self.seq, name, payload)
        if (
            len(self.pending) >= FLUSH_EVERY_EVENTS
            or time.monotonic() - self._last_flush >= FLUSH_EVERY_SECONDS
        ):
            self.flush()

    def emit_together(self, *events: tuple[str, dict[str, Any]]) -> None:
        """Events written in one batch (one commit, not one each), then sent out in order once
        that commits (inside the caller's transaction: once the caller's commits)."""
        first = self.seq + 1
        payloads = [(name, self._add(name, data)) for name, data in events]
        self.flush()

        def push() -> None:
            for seq, (name, payload) in enumerate(payloads, start=first):
                _live(self.run_id, seq, name, payload)

        transaction.on_commit(push)

    def flush(self) -> None:
        with transaction.atomic():  # one commit for the message's progress and the events
            if self.on_flush is not None:
                self.on_flush()
            if self.pending:
                RunEvent.objects.bulk_create(self.pending)
                self.pending = []
        self._last_flush = time.monotonic()


def tool_call_delta(step_id: str, index: int, call: dict[str, Any]) -> dict[str, Any]:
    """A ``thread.run.step.delta`` for one tool call: first the call, then only what is new
    (its output), since clients append the strings of successive deltas."""
    return {
        "id": step_id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [{"index": index, **call}]}},
    }
