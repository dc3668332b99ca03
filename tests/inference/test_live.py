"""Live publishing: run events that wait together leave as one message, in their order."""

from typing import Any

from inference.live import MAX_BATCH, batched, events_in


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
