"""A run's events: numbered, persisted, and pushed live.

Names and payloads are OpenAI's (``thread.run.created``, ``thread.message.delta``, ...), built
by the same serializers as the REST API. Every event gets the next number of its run, is
written to the database and only then published: what a client was shown is stored, even
when the worker is killed the next moment. The worker writes deltas in batches, so the
database is not written per token: those that came while a write was under way go in the next.
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

# Deltas are written at most this often, and no sooner after a write than this many times the
# time it took (a fast model's tokens share commits, more of them when writing is slow: the
# worker spends at most a quarter of its time writing deltas), or once this many wait.
FLUSH_EVERY_SECONDS = 0.01
FLUSH_SPACING = 3.0
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
    """The worker's side: numbers events, writes them, then publishes them.

    A delta (``emit(..., flush=False)``) waits for the next write: at once when the last one
    is far enough behind (``FLUSH_EVERY_SECONDS``, ``FLUSH_SPACING``), else as soon as it is
    (``due``, which the engine calls while it waits for the model's next chunk), or once
    ``FLUSH_EVERY_EVENTS`` wait. A slow model's token goes out after one small commit; a fast
    one's share commits, as they pile up while the last write is under way or recent. Each
    write is one commit for the deltas and the message's progress (``on_flush``), so the stored
    message is the text its deltas carried.
    """

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
        self._next_write_at = 0.0  # the soonest the next write of deltas may begin

    def _add(self, name: str, data: dict[str, Any]) -> None:
        self.seq += 1
        self.pending.append(
            RunEvent(run_id=self.run_id, seq=self.seq, event=name, data=json.dumps(data))
        )

    def emit(self, name: str, data: dict[str, Any], *, flush: bool = True) -> None:
        """Deltas pass ``flush=False``: written (and sent) with the next batch. Every other
        event is written at once, with the deltas before it."""
        if flush:
            self.emit_together((name, data))
            return
        self._add(name, data)
        if len(self.pending) >= FLUSH_EVERY_EVENTS:
            self.flush()
        else:
            self.due()

    def due(self) -> float | None:
        """Write the waiting deltas if it is time; else how many seconds until it is (None:
        nothing waits)."""
        if not self.pending:
            return None
        wait = self._next_write_at - time.monotonic()
        if wait > 0:
            return wait
        self.flush()
        return None

    def emit_together(self, *events: tuple[str, dict[str, Any]]) -> None:
        """Events written in one batch (one commit, not one each) with the deltas before
        them, then sent out in order once that commits (inside the caller's transaction:
        once the caller's commits)."""
        for name, data in events:
            self._add(name, data)
        self.flush()

    def flush(self) -> None:
        """Write the waiting events with the message's progress (one commit), then send
        them out, once that commits."""
        if not self.pending:
            return
        rows, began = self.pending, time.monotonic()

        def push() -> None:
            for row in rows:
                _live(self.run_id, row.seq, row.event, row.data)

        with transaction.atomic():
            if self.on_flush is not None:
                self.on_flush()
            # Copies: an insert gives its rows their ids, and one rolled back (the database
            # failed, here or in the caller's transaction) must not leave ids on events that
            # are written again; another writer may have taken those ids meanwhile.
            RunEvent.objects.bulk_create(
                [RunEvent(run_id=r.run_id, seq=r.seq, event=r.event, data=r.data) for r in rows]
            )
            transaction.on_commit(push)
        self.pending = []  # only once written: a failed write is tried again with the next
        ended = time.monotonic()
        self._next_write_at = ended + max(FLUSH_EVERY_SECONDS, FLUSH_SPACING * (ended - began))


def tool_call_delta(step_id: str, index: int, call: dict[str, Any]) -> dict[str, Any]:
    """A ``thread.run.step.delta`` for one tool call: first the call, then only what is new
    (its output), since clients append the strings of successive deltas."""
    return {
        "id": step_id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [{"index": index, **call}]}},
    }
