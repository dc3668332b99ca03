"""The unmodified ``openai`` SDK (the pinned release) against a live server.

What ``tests/inference/test_live_*.py`` already prove is not repeated here (``runs.stream``
with a handler's text deltas and step callbacks, ``create_and_poll``, tool outputs submitted
from a handler, ``create_and_run_poll`` with a server function); this module covers the rest
of the surface ``docs/openai-compatibility.md`` lists. A server bug the SDK meets is written
as the test that should pass, marked ``xfail(strict=True, reason="SERVER BUG: …")``.
"""

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import AssistantEventHandler
from openai.types.beta.threads import Message, Text
from openai.types.beta.threads.runs import RunStep, ToolCall, ToolCallDelta

from inference.testing.ollama_double import OllamaDouble, Reply
from tests.inference import conftest as live
from tests.stack import Stack, sse_events
from tests.tool_definitions import WEATHER as WEATHER_TOOL

# The SDK types tools as TypedDicts; the shared definition is a plain dict.
WEATHER: Any = WEATHER_TOOL

# The live stack's fixtures (a module beside tests/inference/ does not see that conftest).
double, stack, key, client, http = live.double, live.stack, live.key, live.client, live.http
assistant_id, fresh_double = live.assistant_id, live.fresh_double

pytestmark = pytest.mark.usefixtures("fresh_double")


def weather_model(body: dict[str, Any]) -> Reply:
    """Calls get_weather, then answers with what it returned."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return Reply(content=f"It says: {last['content']}")
    return Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])


def text_of(message: Message) -> str:
    part = message.content[0]
    assert part.type == "text"
    return part.text.value


@pytest.fixture
def bob(stack: Stack) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=f"{stack.url}/v1", api_key=stack.api_key("bob"), max_retries=0
    ) as client:
        yield client


# --- assistants --------------------------------------------------------------------------


def test_assistants_create_retrieve_update_delete(client: openai.OpenAI) -> None:
    assistants = client.beta.assistants
    made = assistants.create(
        model="llama3.1",
        name="Mathy",
        description="test_case",
        instructions="You are a helpful assistant",
        tools=[WEATHER],
        metadata={"team": "math"},
        temperature=0.2,
        top_p=0.9,
        response_format={"type": "json_object"},
    )
    assert made.id.startswith("asst_") and made.object == "assistant"
    assert made.tools[0].type == "function" and made.tools[0].function.name == "get_weather"
    assert made.response_format is not None and made.response_format.type == "json_object"  # type: ignore[union-attr]
    got = assistants.retrieve(made.id)
    assert (got.name, got.metadata, got.temperature) == ("Mathy", {"team": "math"}, 0.2)
    updated = assistants.update(made.id, name="Mathy 2", tools=[], response_format="auto")
    assert (updated.name, updated.tools, updated.response_format) == ("Mathy 2", [], "auto")
    assert updated.instructions == "You are a helpful assistant"
    deleted = assistants.delete(made.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (made.id, True, "assistant.deleted")
    with pytest.raises(openai.NotFoundError):
        assistants.retrieve(made.id)


def test_assistants_list_pages_with_cursors(client: openai.OpenAI) -> None:
    made = [client.beta.assistants.create(model="llama3.1", name=f"p{i}").id for i in range(5)]
    newest_first = made[::-1]
    page = client.beta.assistants.list(limit=2)
    assert [a.id for a in page.data] == newest_first[:2] and page.has_more
    # The SDK's auto-pagination follows `after` while has_more.
    walked = [a.id for a in client.beta.assistants.list(limit=2)]
    assert walked[:5] == newest_first
    assert page.has_next_page()
    assert [a.id for a in page.get_next_page().data] == newest_first[2:4]
    asc = client.beta.assistants.list(order="asc", after=made[0], limit=3)
    assert [a.id for a in asc.data] == made[1:4]
    before = client.beta.assistants.list(order="asc", before=made[4], limit=2)
    assert [a.id for a in before.data] == made[2:4]


# --- threads and messages ----------------------------------------------------------------


def test_threads_create_with_messages_retrieve_update_delete(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "What is 2 + 2?", "metadata": {"n": "1"}},
            {"role": "assistant", "content": "4."},
            {"role": "user", "content": [{"type": "text", "text": "And 3 + 3?"}]},
        ],
        metadata={"topic": "sums"},
    )
    assert thread.id.startswith("thread_") and thread.metadata == {"topic": "sums"}
    messages = client.beta.threads.messages.list(thread.id, order="asc")
    assert [(m.role, text_of(m)) for m in messages.data] == [
        ("user", "What is 2 + 2?"),
        ("assistant", "4."),
        ("user", "And 3 + 3?"),
    ]
    assert messages.data[0].metadata == {"n": "1"}
    assert client.beta.threads.retrieve(thread.id).metadata == {"topic": "sums"}
    updated = client.beta.threads.update(thread.id, metadata={"topic": "products"})
    assert updated.metadata == {"topic": "products"}
    deleted = client.beta.threads.delete(thread.id)
    assert (deleted.deleted, deleted.object) == (True, "thread.deleted")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(thread.id)


def test_messages_create_list_retrieve_update_delete(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    messages = client.beta.threads.messages
    made = [
        messages.create(thread.id, role="user", content=f"m{i}", metadata={"i": str(i)})
        for i in range(5)
    ]
    assert made[0].object == "thread.message" and made[0].thread_id == thread.id
    assert made[0].status == "completed" and made[0].role == "user"

    default = messages.list(thread.id)  # newest first, as OpenAI
    assert [text_of(m) for m in default.data] == ["m4", "m3", "m2", "m1", "m0"]
    assert (default.first_id, default.last_id) == (made[4].id, made[0].id)  # type: ignore[attr-defined]
    asc = messages.list(thread.id, order="asc", limit=2)
    assert [text_of(m) for m in asc.data] == ["m0", "m1"] and asc.has_more
    assert [text_of(m) for m in messages.list(thread.id, order="asc")] == [
        f"m{i}" for i in range(5)
    ]
    after = messages.list(thread.id, order="asc", after=made[1].id, limit=2)
    assert [text_of(m) for m in after.data] == ["m2", "m3"]
    before = messages.list(thread.id, order="desc", before=made[1].id)
    assert [text_of(m) for m in before.data] == ["m4", "m3", "m2"]
    assert messages.list(thread.id, run_id="run_none").data == []

    got = messages.retrieve(made[2].id, thread_id=thread.id)
    assert (text_of(got), got.metadata) == ("m2", {"i": "2"})
    updated = messages.update(made[2].id, thread_id=thread.id, metadata={"i": "two"})
    assert updated.metadata == {"i": "two"}
    deleted = messages.delete(made[2].id, thread_id=thread.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (
        made[2].id,
        True,
        "thread.message.deleted",
    )
    assert len(messages.list(thread.id).data) == 4


# --- runs --------------------------------------------------------------------------------


def test_runs_create_retrieve_list_update(
    client: openai.OpenAI,
    double: OllamaDouble,
    assistant_id: str,
) -> None:
    double.enqueue("One.", "Two.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "count"}])
    first = client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant_id,
        additional_instructions="Count.",
        additional_messages=[{"role": "user", "content": "from one"}],
        metadata={"n": "1"},
        temperature=0.1,
        max_completion_tokens=100,
        truncation_strategy={"type": "last_messages", "last_messages": 5},
    )
    assert first.status == "queued" and first.object == "thread.run"
    assert first.truncation_strategy is not None
    assert first.truncation_strategy.last_messages == 5
    first = client.beta.threads.runs.poll(first.id, thread_id=thread.id, poll_interval_ms=50)
    assert first.status == "completed" and first.completed_at is not None
    assert first.usage is not None and first.usage.total_tokens > 0
    second = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id, poll_interval_ms=50
    )
    got = client.beta.threads.runs.retrieve(first.id, thread_id=thread.id)
    assert (got.id, got.metadata, got.temperature) == (first.id, {"n": "1"}, 0.1)
    runs = client.beta.threads.runs.list(thread.id)
    assert [r.id for r in runs.data] == [second.id, first.id]
    assert [r.id for r in client.beta.threads.runs.list(thread.id, order="asc", limit=1)] == [
        first.id,
        second.id,
    ]
    updated = client.beta.threads.runs.update(first.id, thread_id=thread.id, metadata={"n": "one"})
    assert updated.metadata == {"n": "one"}
    texts = [text_of(m) for m in client.beta.threads.messages.list(thread.id, order="asc")]
    assert texts == ["count", "from one", "One.", "Two."]


def test_runs_cancel(
    client: openai.OpenAI,
    double: OllamaDouble,
    assistant_id: str,
) -> None:
    double.enqueue(Reply(content="slow " * 300, tokens_per_second=20))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)
    cancelled = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status in ("cancelling", "cancelled")
    final = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=50)
    assert final.status == "cancelled" and final.cancelled_at is not None
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert caught.value.code == "run_not_active"


def test_runs_cancel_before_the_first_token_ends_the_run_within_a_second(
    client: openai.OpenAI,
    double: OllamaDouble,
    assistant_id: str,
) -> None:
    double.enqueue(Reply(content="late", delay_before_first_token=4))
    double.clear_requests()
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)
    double.wait_for_requests(1, "/api/chat", timeout=10)  # the model is evaluating the prompt
    started = time.monotonic()
    client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    final = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=50)
    assert final.status == "cancelled"
    assert time.monotonic() - started < 1.5


def test_runs_create_with_stream_true_yields_typed_events(
    client: openai.OpenAI,
    double: OllamaDouble,
    assistant_id: str,
) -> None:
    double.enqueue("Raw events.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    events = list(
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id, stream=True)
    )
    names = [e.event for e in events]
    assert names[0] == "thread.run.created" and names[-1] == "thread.run.completed"
    text = ""
    for event in events:
        if event.event == "thread.message.delta":
            for part in event.data.delta.content or []:
                assert part.type == "text" and part.text is not None
                text += part.text.value or ""
    assert text == "Raw events."


# --- streaming helpers -------------------------------------------------------------------


def test_stream_text_deltas_and_final_messages(
    client: openai.OpenAI,
    double: OllamaDouble,
    assistant_id: str,
) -> None:
    double.enqueue(Reply(content="Streamed in many small pieces.", tokens_per_second=200))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant_id) as stream:
        pieces = list(stream.text_deltas)
        messages = stream.get_final_messages()
        steps = stream.get_final_run_steps()
        run = stream.get_final_run()
    assert "".join(pieces) == "Streamed in many small pieces." and len(pieces) == 5
    assert [text_of(m) for m in messages] == ["Streamed in many small pieces."]
    assert messages[0].status == "completed"
    # The SDK keeps a step as its `created` event had it (in_progress): it applies only deltas.
    assert [s.type for s in steps] == ["message_creation"]
    assert run.status == "completed"


def test_stream_handler_sees_every_callback(
    client: openai.OpenAI,
    double: OllamaDouble,
    assistant_id: str,
) -> None:
    double.enqueue("Hello handler.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    seen: list[str] = []

    class Handler(AssistantEventHandler):
        def on_message_created(self, message: Message) -> None:
            seen.append("message_created")

        def on_text_created(self, text: Text) -> None:
            seen.append("text_created")

        def on_text_done(self, text: Text) -> None:
            seen.append(f"text_done:{text.value}")

        def on_message_done(self, message: Message) -> None:
            seen.append(f"message_done:{message.status}")

        def on_run_step_created(self, run_step: RunStep) -> None:
            seen.append(f"step_created:{run_step.type}")

        def on_end(self) -> None:
            seen.append("end")

    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant_id, event_handler=Handler()
    ) as stream:
        stream.until_done()
    assert seen == [
        "step_created:message_creation",
        "message_created",
        "text_created",
        "text_done:Hello handler.",
        "message_done:completed",
        "end",
    ]


def test_a_stream_stops_at_requires_action_then_submit_tool_outputs_stream_goes_on(
    client: openai.OpenAI,
    double: OllamaDouble,
) -> None:
    double.responder = weather_model
    assistant = client.beta.assistants.create(model="llama3.1", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Paris?"}])
    done: list[tuple[str, str]] = []

    class Calls(AssistantEventHandler):
        def on_tool_call_done(self, tool_call: ToolCall) -> None:
            assert tool_call.type == "function"
            done.append((tool_call.function.name, tool_call.function.arguments))

    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=Calls()
    ) as calls_stream:
        calls_stream.until_done()
        run = calls_stream.get_final_run()
    assert run.status == "requires_action" and run.required_action is not None
    assert [(name, json.loads(arguments)) for name, arguments in done] == [
        ("get_weather", {"city": "Paris"})
    ]
    call = run.required_action.submit_tool_outputs.tool_calls[0]

    with client.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "rain"}],
    ) as stream:
        text = "".join(stream.text_deltas)
        final = stream.get_final_run()
    assert text == "It says: rain" and final.status == "completed"
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]
    details = steps.data[0].step_details
    assert details.type == "tool_calls"
    assert details.tool_calls[0].function.output == "rain"  # type: ignore[union-attr]


def test_on_tool_call_delta_streams_the_arguments(
    client: openai.OpenAI,
    double: OllamaDouble,
) -> None:
    double.responder = weather_model
    assistant = client.beta.assistants.create(model="llama3.1", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Paris?"}])
    arguments: list[str] = []

    class Calls(AssistantEventHandler):
        def on_tool_call_delta(self, delta: ToolCallDelta, snapshot: ToolCall) -> None:
            if delta.type == "function" and delta.function and delta.function.arguments:
                arguments.append(delta.function.arguments)

    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=Calls()
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert json.loads("".join(arguments) or "null") == {"city": "Paris"}


def test_create_and_run_stream(
    client: openai.OpenAI, double: OllamaDouble, assistant_id: str
) -> None:
    double.enqueue("A new thread, answered.")
    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": "hi"}], "metadata": {"via": "stream"}},
    ) as stream:
        text = "".join(stream.text_deltas)
        run = stream.get_final_run()
    assert text == "A new thread, answered."
    assert client.beta.threads.retrieve(run.thread_id).metadata == {"via": "stream"}


def test_a_streamed_create_thread_and_run_announces_the_thread_first(
    client: openai.OpenAI, http: httpx.Client, double: OllamaDouble, assistant_id: str
) -> None:
    """As OpenAI's: ``thread.created`` with the new thread, then the run's events; a client
    that resumes the stream sees the same numbers."""
    double.enqueue("Announced.")
    events = list(
        client.beta.threads.create_and_run(
            assistant_id=assistant_id,
            thread={"messages": [{"role": "user", "content": "hi"}], "metadata": {"via": "sse"}},
            stream=True,
        )
    )
    first, second = events[0], events[1]
    assert first.event == "thread.created" and second.event == "thread.run.created"
    assert first.data.object == "thread" and first.data.metadata == {"via": "sse"}
    assert first.data.id == second.data.thread_id
    assert events[-1].event == "thread.run.completed"
    assert client.beta.threads.retrieve(first.data.id).created_at == first.data.created_at

    replay = f"/threads/{first.data.id}/runs/{second.data.id}/events"
    with http.stream("GET", replay) as response:
        names = [name for _, name, _ in sse_events(response.iter_lines())]
    assert names == [e.event for e in events] + ["done"]


def test_create_and_run_poll_then_submit_tool_outputs_and_poll(
    client: openai.OpenAI,
    double: OllamaDouble,
) -> None:
    double.responder = weather_model
    assistant = client.beta.assistants.create(model="llama3.1", tools=[WEATHER])
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Paris?"}]},
        poll_interval_ms=50,
    )
    assert run.status == "requires_action" and run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": c.id, "output": "fog"} for c in calls],
        poll_interval_ms=50,
    )
    assert run.status == "completed"
    messages = client.beta.threads.messages.list(run.thread_id, run_id=run.id)
    assert text_of(messages.data[0]) == "It says: fog"


# --- run steps ---------------------------------------------------------------------------


def test_run_steps_list_and_retrieve(
    client: openai.OpenAI,
    double: OllamaDouble,
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if body["messages"][-1]["role"] == "tool":
            return Reply(content="Done.")
        return Reply(tool_calls=[{"name": "calculate", "arguments": {"expression": "2**10"}}])

    double.responder = respond
    assistant = client.beta.assistants.create(
        model="llama3.1", tools=[{"type": "function", "function": {"name": "calculate"}}]
    )
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "2**10?"}]},
        poll_interval_ms=50,
    )
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)
    assert [s.type for s in steps.data] == ["message_creation", "tool_calls"]  # newest first
    one = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, limit=1)
    assert len(one.data) == 1 and one.has_more
    step = client.beta.threads.runs.steps.retrieve(
        steps.data[1].id, thread_id=run.thread_id, run_id=run.id
    )
    assert (step.object, step.status, step.run_id) == ("thread.run.step", "completed", run.id)
    assert step.step_details.type == "tool_calls"
    call = step.step_details.tool_calls[0]
    assert call.type == "function"
    assert (call.function.name, call.function.output) == ("calculate", "1024")
    message_step = steps.data[0].step_details
    assert message_step.type == "message_creation"
    answer = client.beta.threads.messages.retrieve(
        message_step.message_creation.message_id, thread_id=run.thread_id
    )
    assert text_of(answer) == "Done."


# --- files -------------------------------------------------------------------------------


def test_files_upload_retrieve_list_delete(client: openai.OpenAI) -> None:
    uploaded = client.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="assistants")
    assert uploaded.id.startswith("file_") and uploaded.object == "file"
    assert (uploaded.filename, uploaded.bytes, uploaded.purpose) == ("data.csv", 8, "assistants")
    got = client.files.retrieve(uploaded.id)
    assert (got.id, got.filename, got.status) == (uploaded.id, "data.csv", "processed")
    assert uploaded.id in [f.id for f in client.files.list(purpose="assistants")]
    assert uploaded.id not in [f.id for f in client.files.list(purpose="user_data")]
    deleted = client.files.delete(uploaded.id)
    assert (deleted.id, deleted.deleted) == (uploaded.id, True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_files_content(client: openai.OpenAI) -> None:
    uploaded = client.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="assistants")
    assert client.files.content(uploaded.id).content == b"a,b\n1,2\n"


# --- our extensions ----------------------------------------------------------------------


def test_extension_fields_ride_along_in_model_extra_and_extra_body(
    client: openai.OpenAI, http: httpx.Client
) -> None:
    me = http.get("/users/me").json()["id"]
    assistant = client.beta.assistants.create(model="llama3.1")
    assert assistant.model_extra is not None
    assert assistant.model_extra["user_id"] == me
    thread = client.beta.threads.create(extra_body={"participant_ids": [me]})
    assert thread.model_extra is not None and thread.model_extra["participant_ids"] == [me]
    message = client.beta.threads.messages.create(thread.id, role="user", content="hi")
    assert message.model_extra is not None and message.model_extra["sender_id"] == me


# --- beside the Assistants API ----------------------------------------------------------


def test_models_list_and_what_is_not_there(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert {"llama3.1:latest", "phi3:latest"} <= {m.id for m in models}
    with pytest.raises(openai.NotFoundError) as missing:  # no vector stores: file_search is out
        client.vector_stores.create(name="docs")
    assert missing.value.code == "unknown_url"
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.assistants.create(model="llama3.1", tools=[{"type": "file_search"}])
    assert refused.value.param is not None and refused.value.param.startswith("tools")


# --- errors ------------------------------------------------------------------------------


def test_error_classes(
    client: openai.OpenAI,
    bob: openai.OpenAI,
    stack: Stack,
    double: OllamaDouble,
    assistant_id: str,
) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        client.beta.assistants.retrieve("asst_missing")
    assert not_found.value.status_code == 404 and not_found.value.type == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):  # alice's assistant is not there for bob
        bob.beta.assistants.retrieve(assistant_id)

    with pytest.raises(openai.BadRequestError) as bad:
        client.beta.assistants.create(model="llama3.1", temperature=3)
    assert bad.value.param == "temperature" and bad.value.code == "invalid_value"
    with pytest.raises(openai.BadRequestError) as missing:
        client.beta.assistants.create(model="llama3.1", extra_body={"model": None})
    assert missing.value.param == "model"
    with pytest.raises(openai.BadRequestError) as unknown:
        client.beta.threads.create(extra_body={"colour": "blue"})
    assert unknown.value.param == "colour"

    with pytest.raises(openai.PermissionDeniedError) as forbidden:  # only admins may
        client.beta.assistants.create(model="llama3.1", extra_body={"user_id": "user_someone"})
    assert forbidden.value.status_code == 403
    with (
        openai.OpenAI(base_url=f"{stack.url}/v1", api_key="ek_wrong", max_retries=0) as stranger,
        pytest.raises(openai.AuthenticationError) as unauthenticated,
    ):
        stranger.beta.assistants.list()
    assert unauthenticated.value.status_code == 401

    double.enqueue(Reply(content="long " * 300, tokens_per_second=20))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)
    with pytest.raises(openai.ConflictError) as conflict:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)
    assert conflict.value.status_code == 409 and run.id in conflict.value.message
    client.beta.threads.runs.cancel(run.id, thread_id=thread.id)


def test_unknown_fields_are_refused_in_openais_words(http: httpx.Client) -> None:
    answer = http.post("/threads", json={"colour": "blue"})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "Unrecognized request argument supplied: colour"
