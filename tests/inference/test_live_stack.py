"""End to end through real processes: daphne web, a qcluster worker, the Ollama double.

What a client sees over HTTP: SSE in OpenAI's wire format (parsed by the real openai SDK),
replay and resume, cancel mid-stream, a disconnecting client, and a worker killed mid-run.
"""

import json
import time
from typing import Any

import httpx
import openai
import pytest
from openai import AssistantEventHandler
from openai.types.beta.threads import Text, TextDelta

from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import Stack, sse_events

pytestmark = pytest.mark.usefixtures("fresh_double")


def wait_for_status(
    http: httpx.Client, thread_id: str, run_id: str, *statuses: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = http.get(f"/threads/{thread_id}/runs/{run_id}").json()
        if run["status"] in statuses or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


def test_openai_sdk_streams_text_deltas(
    client: openai.OpenAI, double: OllamaDouble, assistant_id: str
) -> None:
    double.enqueue(Reply(content="Four, of course. Two plus two is four.", tokens_per_second=200))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "2+2?"}])
    deltas: list[str] = []
    done_steps: list[str] = []

    class Handler(AssistantEventHandler):
        def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
            deltas.append(delta.value or "")

        def on_run_step_done(self, run_step: Any) -> None:
            done_steps.append(run_step.status)

    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant_id, event_handler=Handler()
    ) as stream:
        stream.until_done()
        final = stream.get_final_messages()
        run = stream.get_final_run()
    assert "".join(deltas) == "Four, of course. Two plus two is four."
    assert len(deltas) > 5
    assert final[0].content[0].text.value == "Four, of course. Two plus two is four."  # type: ignore[union-attr]
    assert run.status == "completed"
    assert run.usage is not None and run.usage.completion_tokens > 0
    assert done_steps == ["completed"]


def test_openai_sdk_create_and_poll(
    client: openai.OpenAI, double: OllamaDouble, assistant_id: str
) -> None:
    double.enqueue(Reply(content="Polled answer."))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id, poll_interval_ms=50
    )
    assert run.status == "completed"
    messages = client.beta.threads.messages.list(thread.id, run_id=run.id)
    assert messages.data[0].content[0].text.value == "Polled answer."  # type: ignore[union-attr]
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert steps.data[0].step_details.type == "message_creation"


def test_sse_wire_format_and_replay_with_last_event_id(
    http: httpx.Client, double: OllamaDouble, assistant_id: str
) -> None:
    double.enqueue(Reply(content="alpha beta gamma delta"))
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    with http.stream(
        "POST", f"/threads/{thread['id']}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = list(response.iter_lines())
    assert raw[-3:] == ["event: done", "data: [DONE]", ""]
    events = list(sse_events(iter(raw)))
    names = [name for _, name, _ in events]
    assert names[:3] == ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
    assert names[-1] == "done" and names[-2] == "thread.run.completed"
    seqs = [seq for seq, name, _ in events if name != "done"]
    assert seqs == list(range(1, len(seqs) + 1))
    run_id = json.loads(events[0][2])["id"]

    # A client that saw up to event 8 asks for the rest, and gets exactly the rest.
    replay_url = f"/threads/{thread['id']}/runs/{run_id}/events"
    with http.stream("GET", replay_url, headers={"Last-Event-ID": "8"}) as response:
        rest = list(sse_events(response.iter_lines()))
    assert [seq for seq, name, _ in rest if name != "done"] == seqs[8:]
    assert [name for _, name, _ in rest] == names[8:]


def _stream_until_deltas(
    http: httpx.Client, assistant_id: str, deltas: int
) -> tuple[dict[str, Any], list[tuple[int, str, str]]]:
    """A new thread, and the events of a streamed run on it until ``deltas`` deltas came."""
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    seen: list[tuple[int, str, str]] = []
    with http.stream(
        "POST", f"/threads/{thread['id']}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as response:
        for seq, name, data in sse_events(response.iter_lines()):
            assert seq is not None
            seen.append((seq, name, data))
            if sum(1 for _, n, _ in seen if n == "thread.message.delta") == deltas:
                break
    return thread, seen


def _assert_whole(seen: list[tuple[int, str, str]], text: str) -> None:
    """Every event once under gapless numbers, the whole answer in order, the run completed."""
    assert [s for s, _, _ in seen] == list(range(1, len(seen) + 1))
    streamed = "".join(
        json.loads(d)["delta"]["content"][0]["text"]["value"]
        for _, n, d in seen
        if n == "thread.message.delta"
    )
    assert streamed == text
    assert seen[-1][1] == "thread.run.completed"


def test_a_reconnecting_client_loses_no_token(
    http: httpx.Client, double: OllamaDouble, assistant_id: str
) -> None:
    text = " ".join(f"w{i}" for i in range(60))
    double.enqueue(Reply(content=text, tokens_per_second=100))
    thread, seen = _stream_until_deltas(http, assistant_id, 10)  # the network drops here
    run_id = json.loads(seen[0][2])["id"]
    with http.stream(
        "GET",
        f"/threads/{thread['id']}/runs/{run_id}/events",
        headers={"Last-Event-ID": str(seen[-1][0])},
    ) as response:
        seen += [(s, n, d) for s, n, d in sse_events(response.iter_lines()) if s is not None]
    _assert_whole(seen, text)


def test_a_client_resuming_a_fast_stream_is_not_held_until_the_model_pauses(
    http: httpx.Client, double: OllamaDouble, assistant_id: str
) -> None:
    # Tokens arrive faster than the gap window: the deltas published while the client was
    # away (not yet written) must still reach it while the answer goes on, not at its end.
    text = " ".join(f"w{i}" for i in range(500))
    double.enqueue(Reply(content=text, tokens_per_second=100))
    thread, seen = _stream_until_deltas(http, assistant_id, 20)
    run_id = json.loads(seen[0][2])["id"]
    status_at_first_resumed_delta = None
    with http.stream(
        "GET",
        f"/threads/{thread['id']}/runs/{run_id}/events",
        headers={"Last-Event-ID": str(seen[-1][0])},
    ) as response:
        for seq, name, data in sse_events(response.iter_lines()):
            if seq is None:
                continue
            seen.append((seq, name, data))
            if name == "thread.message.delta" and status_at_first_resumed_delta is None:
                run = http.get(f"/threads/{thread['id']}/runs/{run_id}").json()
                status_at_first_resumed_delta = run["status"]
    assert status_at_first_resumed_delta == "in_progress"
    _assert_whole(seen, text)


def test_a_client_that_disconnects_does_not_stop_the_run(
    http: httpx.Client, double: OllamaDouble, assistant_id: str
) -> None:
    double.enqueue(Reply(content=" ".join(["tok"] * 40), tokens_per_second=100))
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    with http.stream(
        "POST", f"/threads/{thread['id']}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as response:
        for _, name, data in sse_events(response.iter_lines()):
            if name == "thread.run.created":
                run_id = json.loads(data)["id"]
            if name == "thread.message.delta":
                break
    run = wait_for_status(http, thread["id"], run_id, "completed", "failed")
    assert run["status"] == "completed"
    messages = http.get(f"/threads/{thread['id']}/messages", params={"run_id": run_id}).json()
    assert messages["data"][0]["content"][0]["text"]["value"] == " ".join(["tok"] * 40)


def test_cancel_mid_stream(http: httpx.Client, double: OllamaDouble, assistant_id: str) -> None:
    double.enqueue(Reply(content=" ".join(["slow"] * 300), tokens_per_second=30))
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    names: list[str] = []
    with http.stream(
        "POST", f"/threads/{thread['id']}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as response:
        for _, name, data in sse_events(response.iter_lines()):
            names.append(name)
            if name == "thread.run.created":
                run_id = json.loads(data)["id"]
            if name == "thread.message.delta" and names.count(name) == 3:
                cancelled_at = time.monotonic()
                reply = http.post(f"/threads/{thread['id']}/runs/{run_id}/cancel").json()
                assert reply["status"] == "cancelling"
    assert time.monotonic() - cancelled_at < 1.5
    assert names[-2:] == ["thread.run.cancelled", "done"]
    message = http.get(f"/threads/{thread['id']}/messages", params={"run_id": run_id}).json()[
        "data"
    ][0]
    assert message["status"] == "incomplete"
    assert message["content"][0]["text"]["value"].startswith("slow slow slow")


def test_models_lists_the_ollama_catalogue(http: httpx.Client, double: OllamaDouble) -> None:
    models = http.get("/models").json()
    assert {"llama3.1:latest", "phi3:latest"} <= {m["id"] for m in models["data"]}
    assert models["data"][0]["object"] == "model"


def test_an_unknown_model_fails_with_a_hint_over_sse(http: httpx.Client, stack: Stack) -> None:
    assistant = http.post("/assistants", json={"model": "nosuchmodel"}).json()
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    with http.stream(
        "POST",
        f"/threads/{thread['id']}/runs",
        json={"assistant_id": assistant["id"], "stream": True},
    ) as response:
        events = list(sse_events(response.iter_lines()))
    assert events[-2][1] == "thread.run.failed"
    error = json.loads(events[-2][2])["last_error"]
    assert 'run "ollama pull nosuchmodel"' in error["message"]


def test_a_killed_worker_never_leaves_a_run_stuck(
    http: httpx.Client, stack: Stack, double: OllamaDouble, assistant_id: str
) -> None:
    # Mid-answer: the run fails, with a last_error that says what happened.
    double.enqueue(Reply(content=" ".join(["x"] * 500), tokens_per_second=20))
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    run = http.post(f"/threads/{thread['id']}/runs", json={"assistant_id": assistant_id}).json()
    while not http.get(f"/threads/{thread['id']}/messages", params={"run_id": run["id"]}).json()[
        "data"
    ]:
        time.sleep(0.1)
    time.sleep(0.5)  # let some tokens stream and be written
    killed_at = time.monotonic()
    stack.kill_worker()
    failed = wait_for_status(http, thread["id"], run["id"], "failed", timeout=60)
    assert failed["status"] == "failed", stack.log("web.log")
    assert time.monotonic() - killed_at < 60
    assert "worker running this run stopped" in failed["last_error"]["message"]
    message = http.get(f"/threads/{thread['id']}/messages", params={"run_id": run["id"]}).json()[
        "data"
    ][0]
    assert message["status"] == "incomplete"

    # Before any output: the run is given to a worker again, and completes.
    stack.start_worker()
    double.clear_requests()
    double.enqueue(Reply(content="second try", delay_before_first_token=30))
    double.enqueue(Reply(content="second try"))
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    run = http.post(f"/threads/{thread['id']}/runs", json={"assistant_id": assistant_id}).json()
    wait_for_status(http, thread["id"], run["id"], "in_progress")
    double.wait_for_requests(1, "/api/chat", timeout=10)
    stack.kill_worker()
    stack.start_worker()
    done = wait_for_status(http, thread["id"], run["id"], "completed", "failed", timeout=60)
    assert done["status"] == "completed", stack.log("worker.log")
    message = http.get(f"/threads/{thread['id']}/messages", params={"run_id": run["id"]}).json()[
        "data"
    ]
    assert [m["content"][0]["text"]["value"] for m in message] == ["second try"]
