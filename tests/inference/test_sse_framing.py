"""The bytes of a stream that goes silent, read by each SSE reader our clients use.

What ``inference.stream.sse_body`` sends, chunk by chunk: events, keep-alives while nothing
happens, then ``done``. Each reader must see the events and nothing else, however long the
silence (the live tests, ``test_live_silence.py``, do the same through real processes).
"""

import json

from openai._streaming import SSEDecoder

from entities_api.transport import parse_sse
from inference.stream import DONE, KEEPALIVE, Event
from tests.stack import sse_events

FIRST = Event(1, "thread.run.created", json.dumps({"id": "run_1"}))
SECOND = Event(2, "thread.message.delta", json.dumps({"id": "msg_1"}))
# Events, a silence of three keep-alives after an event with an id, more events, the end.
CHUNKS = [FIRST.sse(), KEEPALIVE, KEEPALIVE, KEEPALIVE, SECOND.sse(), KEEPALIVE, DONE]
EXPECTED = [
    ("1", "thread.run.created", FIRST.data),
    ("2", "thread.message.delta", SECOND.data),
    ("2", "done", "[DONE]"),  # an event without an id keeps the last one (the SSE spec)
]


def lines() -> list[str]:
    return b"".join(CHUNKS).decode().split("\n")


def test_the_openai_sdk_decoder_sees_only_the_events() -> None:
    decoded = list(SSEDecoder().iter_bytes(iter(CHUNKS)))
    assert [(e.id, e.event, e.data) for e in decoded] == EXPECTED
    # The SDK parses every event's data as JSON but [DONE]: no keep-alive may reach it.
    assert all(e.data for e in decoded)


def test_the_openai_sdk_decoder_byte_by_byte() -> None:
    raw = b"".join(CHUNKS)
    decoded = list(SSEDecoder().iter_bytes(raw[i : i + 1] for i in range(len(raw))))
    assert [(e.id, e.event, e.data) for e in decoded] == EXPECTED


def test_entities_api_and_the_test_readers_see_only_the_events() -> None:
    assert [(e.id, e.event, e.data) for e in parse_sse(iter(lines()))] == [
        (1, "thread.run.created", FIRST.data),
        (2, "thread.message.delta", SECOND.data),
        (None, "done", "[DONE]"),
    ]
    assert list(sse_events(iter(lines()))) == [
        (1, "thread.run.created", FIRST.data),
        (2, "thread.message.delta", SECOND.data),
        (None, "done", "[DONE]"),
    ]
