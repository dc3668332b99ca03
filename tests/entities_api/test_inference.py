"""``InferenceFactory`` runners against a live server: following runs in any state, client
functions, the structured events, cloud endpoints and failures."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from entities_api import MissingFunctionError, OllamaClient, RunError
from entities_api.inference import (
    InferenceFactory,
    MessageEvent,
    StatusEvent,
    TextEvent,
    ToolCallEvent,
    ToolOutputEvent,
)
from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import Stack
from tests.tool_definitions import WEATHER

pytestmark = pytest.mark.usefixtures("fresh_double")


def last_user_text(body: dict[str, Any]) -> str:
    return next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")


def weather_model(body: dict[str, Any]) -> Reply:
    """Calls get_weather, then answers with what the call returned."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return Reply(content=f"It says: {last['content']}")
    return Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])


def prepare(client: OllamaClient, text: str, **assistant: Any) -> tuple[str, str]:
    """A thread with the user's message, and an assistant: (thread, assistant) ids."""
    made = client.assistant_service.create_assistant(model="llama3.1", **assistant)
    thread = client.thread_service.create_thread(messages=[{"role": "user", "content": text}])
    return thread.id, made.id


def start(client: OllamaClient, text: str, **assistant: Any) -> tuple[str, str, str]:
    """As :func:`prepare`, and a run queued on the thread: (thread, assistant, run) ids."""
    thread_id, assistant_id = prepare(client, text, **assistant)
    run = client.run_service.create_run(thread_id=thread_id, assistant_id=assistant_id)
    return thread_id, assistant_id, run.id


def test_following_a_finished_run_replays_its_answer(
    alice: OllamaClient, double: OllamaDouble
) -> None:
    double.enqueue("Already done, all of it.")
    thread_id, assistant_id, run_id = start(alice, "hi")
    assert alice.run_service.wait_for_run(thread_id, run_id, timeout=30).status == "completed"
    runner = InferenceFactory(alice).get_inference("local").runner
    chunks = list(
        runner.process_conversation(
            thread_id=thread_id, run_id=run_id, assistant_id=assistant_id, model="llama3.1"
        )
    )
    assert "".join(chunks) == "Already done, all of it."
    assert len(chunks) == 5  # as streamed: one chunk per token


def test_following_a_running_run_gets_what_streamed_before_and_after(
    alice: OllamaClient, double: OllamaDouble
) -> None:
    text = " ".join(f"w{i}" for i in range(40))
    double.enqueue(Reply(content=text, tokens_per_second=80))
    thread_id, _, run_id = start(alice, "go")
    runs = alice.run_service
    seen_before = 0
    for event in runs.stream_events(thread_id, run_id):  # until some text was written
        if event.event == "thread.message.delta":
            seen_before += 1
            if seen_before == 5:
                break
    assert runs.retrieve_run(thread_id, run_id).status == "in_progress"
    runner = InferenceFactory(alice).get_inference("local").runner
    assert "".join(runner.process_conversation(thread_id, run_id=run_id)) == text


def test_following_a_queued_run_waits_for_a_worker(
    alice: OllamaClient, double: OllamaDouble
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if last_user_text(body) == "hold a worker":
            return Reply(content="held " * 10, tokens_per_second=10)  # busy for a second
        return Reply(content="Your turn came.")

    double.responder = respond
    double.clear_requests()
    start(alice, "hold a worker")  # the stack's only worker
    double.wait_for_requests(1, "/api/chat", timeout=10)
    thread_id, _, run_id = start(alice, "me next")
    assert alice.run_service.retrieve_run(thread_id, run_id).status == "queued"

    runner = InferenceFactory(alice).get_inference("local").runner
    events = list(runner.process_conversation_events(thread_id, run_id=run_id))
    statuses = [e.status for e in events if isinstance(e, StatusEvent)]
    assert statuses == ["queued", "queued", "in_progress", "completed"]
    assert "".join(e.text for e in events if isinstance(e, TextEvent)) == "Your turn came."


def test_the_runner_calls_available_functions_and_goes_on(
    alice: OllamaClient, double: OllamaDouble
) -> None:
    double.responder = weather_model
    calls: list[dict[str, Any]] = []

    def get_weather(city: str) -> dict[str, Any]:
        calls.append({"city": city})
        return {"city": city, "sky": "clear", "celsius": 21}

    thread_id, _assistant_id, run_id = start(alice, "Weather in Paris?", tools=[WEATHER])
    inference = InferenceFactory(alice).get_inference(
        inference_type="local", available_functions={"get_weather": get_weather}
    )
    answer = "".join(inference.runner.process_conversation(thread_id, run_id=run_id))
    assert calls == [{"city": "Paris"}]
    assert answer == 'It says: {"city": "Paris", "sky": "clear", "celsius": 21}'
    assert alice.run_service.retrieve_run(thread_id, run_id).status == "completed"


def test_a_function_that_raises_tells_the_model(alice: OllamaClient, double: OllamaDouble) -> None:
    double.responder = weather_model

    def get_weather(city: str) -> str:
        raise LookupError(f"no station in {city}")

    thread_id, _, run_id = start(alice, "Weather in Paris?", tools=[WEATHER])
    runner = InferenceFactory(alice).get_inference("local", {"get_weather": get_weather}).runner
    answer = "".join(runner.process_conversation(thread_id, run_id=run_id))
    assert answer == "It says: Error: get_weather failed: no station in Paris"


def test_a_missing_function_is_a_clear_error_and_frees_the_thread(
    alice: OllamaClient, double: OllamaDouble
) -> None:
    double.responder = weather_model
    thread_id, assistant_id, run_id = start(alice, "Weather in Paris?", tools=[WEATHER])
    runner = InferenceFactory(alice).get_inference("local", {"get_time": lambda: "noon"}).runner
    with pytest.raises(MissingFunctionError) as caught:
        list(runner.process_conversation(thread_id, run_id=run_id))
    assert caught.value.name == "get_weather"
    assert "'get_weather', which is not in available_functions (given: get_time)" in str(
        caught.value
    )
    assert alice.run_service.retrieve_run(thread_id, run_id).status == "cancelled"
    again = alice.run_service.create_run(thread_id=thread_id, assistant_id=assistant_id)
    assert again.status == "queued"


def test_structured_events_of_a_conversation_with_functions(
    alice: OllamaClient, double: OllamaDouble
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        tools = [m for m in body["messages"] if m["role"] == "tool"]
        if len(tools) == 2:
            return Reply(content=f"{tools[0]['content']} at {tools[1]['content']}.")
        if len(tools) == 1:
            return Reply(tool_calls=[{"name": "calculate", "arguments": {"expression": "6*7"}}])
        return Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}])

    double.responder = respond
    calculate = {"type": "function", "function": {"name": "calculate"}}  # a server function
    thread_id, assistant_id = prepare(alice, "Oslo?", tools=[WEATHER, calculate])
    runner = InferenceFactory(alice).get_inference("local", {"get_weather": lambda city: "snow"})
    events = list(runner.runner.process_conversation_events(thread_id, assistant_id=assistant_id))

    kinds = [e.kind for e in events]
    assert kinds[:2] == ["status", "status"] and kinds[-1] == "status"
    statuses = [e.status for e in events if isinstance(e, StatusEvent)]
    assert statuses == [
        "queued", "queued", "in_progress", "requires_action", "queued", "in_progress", "completed"
    ]  # fmt: skip
    calls = [(e.name, json.loads(e.arguments)) for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [("get_weather", {"city": "Oslo"}), ("calculate", {"expression": "6*7"})]
    outputs = [(e.name, e.output, e.by) for e in events if isinstance(e, ToolOutputEvent)]
    assert outputs == [("get_weather", "snow", "client"), ("calculate", "42", "server")]
    assert "".join(e.text for e in events if isinstance(e, TextEvent)) == "snow at 42."
    finished = [e.message for e in events if isinstance(e, MessageEvent)]
    assert [m.text for m in finished] == ["snow at 42."]
    assert all(e.run_id == events[0].run_id for e in events)

    # Resuming after an event gives exactly what came after it.
    numbered = [e.seq for e in events if e.seq is not None]
    rest = list(
        runner.runner.process_conversation_events(
            thread_id, run_id=events[0].run_id, after=numbered[5]
        )
    )
    assert [e.seq for e in rest if e.seq is not None] == numbered[6:]
    assert not [e for e in rest if isinstance(e, ToolOutputEvent) and e.by == "client"]


def test_a_failed_run_raises_with_the_servers_reason(alice: OllamaClient) -> None:
    thread = alice.thread_service.create_thread(messages=[{"role": "user", "content": "hi"}])
    assistant = alice.assistant_service.create_assistant(model="nosuchmodel")
    runner = InferenceFactory(alice).get_inference("local").runner
    with pytest.raises(RunError) as caught:
        list(runner.process_conversation(thread.id, assistant_id=assistant.id))
    assert caught.value.status == "failed"
    assert "ollama pull nosuchmodel" in caught.value.message


def test_the_runner_refuses_a_run_of_another_assistant(
    alice: OllamaClient, double: OllamaDouble
) -> None:
    thread_id, _, run_id = start(alice, "hi")
    other = alice.assistant_service.create_assistant(model="llama3.1")
    runner = InferenceFactory(alice).get_inference("local").runner
    with pytest.raises(ValueError, match="is a run of assistant"):
        list(runner.process_conversation(thread_id, run_id=run_id, assistant_id=other.id))
    assert alice.run_service.wait_for_run(thread_id, run_id, timeout=30).status == "completed"


def test_cloud_runs_the_model_on_the_servers_openai_compatible_endpoint(
    alice: OllamaClient, double: OllamaDouble
) -> None:
    double.clear_requests()
    double.enqueue("From the cloud.")
    thread = alice.thread_service.create_thread(messages=[{"role": "user", "content": "hi"}])
    assistant = alice.assistant_service.create_assistant(model="llama3.1")
    cloud = InferenceFactory(alice).get_inference(inference_type="cloud", endpoint="cloud")
    answer = cloud.runner.process_conversation(
        thread.id, assistant_id=assistant.id, model="llama3.1"
    )
    assert "".join(answer) == "From the cloud."
    run = alice.run_service.list_runs(thread.id).to_list()[0]
    assert run.model == "cloud/llama3.1"
    assert double.last_request("/v1/chat/completions")["model"] == "llama3.1"
    assert double.requests_to("/api/chat") == []

    local_run = alice.run_service.create_run(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(ValueError, match="not on the endpoint 'cloud'"):
        list(cloud.runner.process_conversation(thread.id, run_id=local_run.id))
    alice.run_service.wait_for_run(thread.id, local_run.id, timeout=30)


def test_cloud_needs_an_endpoint(alice: OllamaClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENTITIES_CLOUD_ENDPOINT", raising=False)
    factory = InferenceFactory(alice)
    with pytest.raises(ValueError, match="INFERENCE_ENDPOINTS"):
        factory.get_inference("cloud")
    monkeypatch.setenv("ENTITIES_CLOUD_ENDPOINT", "vllm")
    cloud = factory.get_inference("cloud")
    assert cloud.inference_type == "cloud"
    with pytest.raises(ValueError, match="unknown inference_type 'gpu'"):
        factory.get_inference("gpu")


class DropsTheFirstEventStream(httpx.BaseTransport):
    """The network: the first ``…/events`` response breaks after ``after`` bytes."""

    def __init__(self, after: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.after = after
        self.event_streams = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/events"):
            return response
        self.event_streams += 1
        if self.event_streams > 1:
            return response
        inner, after = response.stream, self.after

        class Breaking(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                sent = 0
                for chunk in inner:  # type: ignore[union-attr]
                    yield chunk
                    sent += len(chunk)
                    if sent >= after:
                        raise httpx.ReadError("connection reset by peer")

            def close(self) -> None:
                inner.close()  # type: ignore[union-attr]

        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=Breaking(),
            extensions=response.extensions,
        )


def test_a_broken_stream_is_resumed_without_losing_or_repeating_a_chunk(
    stack: Stack, alice: OllamaClient, double: OllamaDouble
) -> None:
    text = " ".join(f"w{i}" for i in range(60))
    double.enqueue(Reply(content=text, tokens_per_second=200))
    thread_id, _, run_id = start(alice, "go")
    network = DropsTheFirstEventStream(after=3000)
    with OllamaClient(stack.url, alice.api_key, http_client=httpx.Client(transport=network)) as c:
        runner = InferenceFactory(c).get_inference("local").runner
        chunks = list(runner.process_conversation(thread_id, run_id=run_id))
    assert network.event_streams == 2
    assert "".join(chunks) == text and len(chunks) == 60
