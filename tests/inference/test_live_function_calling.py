"""Function calling through the unmodified openai SDK against a live stack."""

import json
from typing import Any

import openai
import pytest
from openai import AssistantEventHandler
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Text, TextDelta
from openai.types.beta.threads.runs import CodeInterpreterToolCall, ToolCall

from inference.testing.ollama_double import OllamaDouble, Reply
from tests.tool_definitions import WEATHER

pytestmark = pytest.mark.usefixtures("fresh_double")


def answer_with_tool_output(body: dict[str, Any]) -> Reply:
    last = body["messages"][-1]
    if last["role"] == "tool":
        return Reply(content=f"It says: {last['content']}")
    return Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])


def test_create_and_poll_then_submit_tool_outputs_and_poll(
    client: openai.OpenAI, double: OllamaDouble
) -> None:
    double.responder = answer_with_tool_output
    assistant = client.beta.assistants.create(model="llama3.1", tools=[WEATHER])  # type: ignore[list-item]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Paris weather?"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "requires_action"
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "18°C and cloudy"}],
        poll_interval_ms=50,
    )
    assert run.status == "completed"
    messages = client.beta.threads.messages.list(thread.id, run_id=run.id)
    assert messages.data[0].content[0].text.value == "It says: 18°C and cloudy"  # type: ignore[union-attr]
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]


def test_stream_with_a_handler_that_submits_outputs(
    client: openai.OpenAI, double: OllamaDouble
) -> None:
    double.responder = answer_with_tool_output
    assistant = client.beta.assistants.create(model="llama3.1", tools=[WEATHER])  # type: ignore[list-item]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Paris weather?"}])
    seen: dict[str, list[Any]] = {"created": [], "text": [], "steps": []}

    class Handler(AssistantEventHandler):
        def on_tool_call_created(self, tool_call: ToolCall) -> None:
            seen["created"].append(tool_call.function.name)  # type: ignore[union-attr]

        def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
            seen["text"].append(delta.value)

        def on_run_step_done(self, run_step: Any) -> None:
            seen["steps"].append(run_step.type)

        def on_event(self, event: AssistantStreamEvent) -> None:
            if event.event == "thread.run.requires_action":
                calls = event.data.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
                with client.beta.threads.runs.submit_tool_outputs_stream(
                    thread_id=thread.id,
                    run_id=event.data.id,
                    tool_outputs=[{"tool_call_id": c.id, "output": "sunny"} for c in calls],
                    event_handler=Handler(),
                ) as stream:
                    stream.until_done()

    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=Handler()
    ) as stream:
        stream.until_done()
    assert seen["created"] == ["get_weather"]
    assert "".join(seen["text"]) == "It says: sunny"
    assert seen["steps"] == ["tool_calls", "message_creation"]
    runs = client.beta.threads.runs.list(thread.id)
    assert runs.data[0].status == "completed"


def test_a_server_function_answers_in_one_run(client: openai.OpenAI, double: OllamaDouble) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]
        if last["role"] == "tool":
            return Reply(content=f"32768 squared is {last['content']}.")
        return Reply(tool_calls=[{"name": "calculate", "arguments": {"expression": "32768**2"}}])

    double.responder = respond
    assistant = client.beta.assistants.create(
        model="llama3.1", tools=[{"type": "function", "function": {"name": "calculate"}}]
    )
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Can you solve 32768 squared?"}]},
        poll_interval_ms=50,
    )
    assert run.status == "completed"
    messages = client.beta.threads.messages.list(run.thread_id, run_id=run.id)
    assert messages.data[0].content[0].text.value == "32768 squared is 1073741824."  # type: ignore[union-attr]


def test_plot_through_the_api_yields_a_png_file(
    client: openai.OpenAI, double: OllamaDouble
) -> None:
    plot = (
        "import matplotlib.pyplot as plt\n"
        "xs = range(11)\n"
        "plt.plot(list(xs), [x * x for x in xs])\n"
        "plt.savefig('/mnt/data/square.png')\n"
    )

    def respond(body: dict[str, Any]) -> Reply:
        if body["messages"][-1]["role"] == "tool":
            return Reply(content="Here is the plot.")
        return Reply(tool_calls=[{"name": "code_interpreter", "arguments": {"code": plot}}])

    double.responder = respond
    assistant = client.beta.assistants.create(
        model="llama3.1", tools=[{"type": "code_interpreter"}]
    )
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "plot y = x² for x in 0..10"}]},
        poll_interval_ms=50,
    )
    assert run.status == "completed", run.last_error
    message = client.beta.threads.messages.list(run.thread_id, run_id=run.id).data[0]
    image = message.content[0]
    assert image.type == "image_file"
    png = client.files.content(image.image_file.file_id).content
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, order="asc")
    call = steps.data[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert isinstance(call, CodeInterpreterToolCall)
    assert call.code_interpreter.input == plot
    assert [o.type for o in call.code_interpreter.outputs] == ["logs", "image"]
