"""Live publishing: run events that wait together leave as one message, in their order."""

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

from inference.channel_layer import EmbeddedChannelLayer
from inference.live import MAX_BATCH, MAX_BATCH_CHARS, batched, events_in


def event(run: str, seq: int) -> tuple[str, dict[str, Any]]:
    return f"run.{run}", {"type": "run.event", "seq": seq, "event": "e", "data": "{}"}


def test_waiting_run_events_go_out_together_and_in_order() -> None:
    notice: tuple[str, dict[str, Any]] = (
        "thread.t1",
        {"type": "thread.run", "run_id": "r1", "origin": None},
    )
    items = [event("a", 1), event("a", 2), notice, event("a", 3), event("b", 1), event("a", 4)]

    out = batched(items)

    assert [group for group, _ in out] == ["run.a", "thread.t1", "run.a", "run.b", "run.a"]
    assert out[1][1] == notice[1]  # not a run event: passed on as it is
    seqs = [(group, [e["seq"] for e in events_in(m)]) for group, m in out if group != "thread.t1"]
    assert seqs == [("run.a", [1, 2]), ("run.a", [3]), ("run.b", [1]), ("run.a", [4])]


def test_a_long_wait_is_cut_into_messages_of_at_most_max_batch() -> None:
    out = batched([event("a", seq) for seq in range(1, MAX_BATCH + 2)])

    assert [len(events_in(m)) for _, m in out] == [MAX_BATCH, 1]
    assert [e["seq"] for _, m in out for e in events_in(m)] == list(range(1, MAX_BATCH + 2))


def test_a_single_event_message_is_read_as_one_event() -> None:
    _, message = event("a", 7)
    assert events_in(message) == [message]


def test_a_wait_of_large_events_is_cut_by_size() -> None:
    # A run's created/queued events carry its instructions; a batch must stay a modest frame.
    big = "x" * (MAX_BATCH_CHARS // 2)
    items = [
        ("run.a", {"type": "run.event", "seq": n, "event": "e", "data": big}) for n in (1, 2, 3)
    ]

    out = batched(items)

    assert [[e["seq"] for e in events_in(m)] for _, m in out] == [[1, 2], [3]]


def test_the_embedded_layer_takes_frames_past_asyncios_64_kib_line(tmp_path: Path) -> None:
    layer = EmbeddedChannelLayer(socket_path=str(tmp_path / "events.sock"))
    long_instructions = json.dumps({"instructions": "\u4e2d" * 30_000})  # ~190 KB escaped
    frames = [
        {"type": "run.event", "seq": 1, "event": "thread.run.created", "data": long_instructions},
        {"type": "run.event", "seq": 2, "event": "thread.run.queued", "data": "{}"},
    ]

    async def scenario() -> list[int]:
        channel = await layer.new_channel()
        await layer.group_add("run.r1", channel)
        _, writer = await asyncio.open_unix_connection(layer.socket_path)
        for message in frames:
            writer.write((json.dumps({"group": "run.r1", "message": message}) + "\n").encode())
        await writer.drain()
        got = [await asyncio.wait_for(layer.receive(channel), 5) for _ in frames]
        writer.close()
        return [message["seq"] for message in got]

    # A thread of its own: the browser tests' Playwright keeps an event loop in this one.
    got: list[list[int]] = []
    runner = threading.Thread(target=lambda: got.append(asyncio.run(scenario())))
    runner.start()
    runner.join(10)
    assert got == [[1, 2]]
