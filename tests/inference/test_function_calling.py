"""Function calling against the Ollama double: client functions (requires_action), server-side
functions, calls written as text, and the limits."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from entities.models import Assistant, Message, Run
from entities.services.runs import run_submit_tool_outputs
from inference.engine import claim_and_execute, execute_run, prepared
from inference.reaper import reap
from inference.testing.ollama_double import OllamaDouble, Reply
from tests.tool_definitions import WEATHER

CALC = {"type": "function", "function": {"name": "calculate"}}


# The run's watch (heartbeat, cancel checks) queries from its own thread and connection: inside
# a test-wide transaction it would wait on SQLite's lock and outlive the test.
pytestmark = pytest.mark.django_db(transaction=True)


def answer_with_tool_output(body: dict[str, Any]) -> Reply:
    """After tool results, the double answers with them, as a model would."""
    last = body["messages"][-1]
    if last["role"] == "tool" or last["content"].startswith("Tool results:"):
        return Reply(content=f"Result: {last['content']}")
    return Reply(content="no tool result seen")


@pytest.fixture
def with_tools(assistant: Assistant) -> Assistant:
    assistant.tools = [WEATHER]
    assistant.save()
    return assistant


def events_of(run: Run) -> list[str]:
    return list(run.events.order_by("seq").values_list("event", flat=True))


def final_text(run: Run) -> str:
    return Message.objects.filter(run=run, role="assistant").order_by("-id")[0].text


def test_a_client_function_waits_for_outputs_then_answers_with_them(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant
) -> None:
    ollama.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]))
    ollama.responder = answer_with_tool_output
    run = make_run("Weather in Paris?")
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "requires_action"
    assert ollama.last_request("/api/chat")["tools"][0]["function"]["name"] == "get_weather"
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    assert len(calls) == 1
    assert calls[0]["id"].startswith("call_")
    assert calls[0]["type"] == "function"
    assert calls[0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert events_of(run)[-1] == "thread.run.requires_action"
    step = run.steps.get(type="tool_calls")
    assert step.status == "in_progress"

    run_submit_tool_outputs(
        run=run, tool_outputs=[{"tool_call_id": calls[0]["id"], "output": "22°C, sunny"}]
    )
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "completed"
    assert final_text(run) == "Result: 22°C, sunny"
    sent = ollama.last_request("/api/chat")["messages"]
    assert sent[-2]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }
    assert sent[-1] == {"role": "tool", "content": "22°C, sunny", "tool_name": "get_weather"}
    step.refresh_from_db()
    assert step.status == "completed"
    assert step.step_details["tool_calls"][0]["function"]["output"] == "22°C, sunny"


def test_a_delivery_that_read_the_run_before_another_took_it_through_a_round_starts_afresh(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant
) -> None:
    # Two deliveries of one task: the first reads the run and starts the model on it, then
    # stalls; the second takes the run to requires_action and the client answers. The first
    # then wins the claim: it must answer from the run as it is now, with the tool's output.
    call = Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    ollama.enqueue(call, call)
    ollama.responder = answer_with_tool_output
    run = make_run("Weather in Paris?")
    with override_settings(RUN_CANCEL_CHECK_SECONDS=60):  # it stalls before its watch holds it
        stalled = prepared(run.id)
    assert stalled is not None
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "requires_action"
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    run_submit_tool_outputs(
        run=run, tool_outputs=[{"tool_call_id": calls[0]["id"], "output": "22°C, sunny"}]
    )

    claim_and_execute(stalled)

    run.refresh_from_db()
    assert run.status == "completed"
    assert final_text(run) == "Result: 22°C, sunny"
    assert run.steps.filter(type="tool_calls").count() == 1  # the tool was not called again
    assert ollama.last_request("/api/chat")["messages"][-1]["content"] == "22°C, sunny"


def test_a_call_in_the_middle_of_the_stream(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant
) -> None:
    ollama.enqueue(
        Reply(
            content="Let me look that up.",
            tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}],
            tool_calls_at=2,
        )
    )
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "requires_action"
    said = Message.objects.get(run=run)
    assert (said.text, said.status) == ("Let me look that up.", "completed")
    assert events_of(run).index("thread.message.completed") < events_of(run).index(
        "thread.run.requires_action"
    )


def test_two_parallel_calls_and_parallel_off(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant
) -> None:
    two = [
        {"name": "get_weather", "arguments": {"city": "Paris"}},
        {"name": "get_weather", "arguments": {"city": "Rome"}},
    ]
    ollama.enqueue(Reply(tool_calls=two))
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    assert [json.loads(c["function"]["arguments"])["city"] for c in calls] == ["Paris", "Rome"]
    assert len({c["id"] for c in calls}) == 2
    Run.objects.filter(pk=run.pk).update(status="cancelled")

    ollama.enqueue(Reply(tool_calls=two))
    single = make_run(parallel_tool_calls=False)
    execute_run(single.id)
    single.refresh_from_db()
    assert len(single.required_action["submit_tool_outputs"]["tool_calls"]) == 1


def test_a_server_function_answers_in_one_run(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant
) -> None:
    assistant.tools = [CALC]
    assistant.save()
    ollama.enqueue(
        Reply(tool_calls=[{"name": "calculate", "arguments": {"expression": "32768 ** 2"}}])
    )
    ollama.responder = answer_with_tool_output
    run = make_run("What is 32768 squared?")
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "completed"
    assert final_text(run) == "Result: 1073741824"
    step = run.steps.get(type="tool_calls")
    assert step.status == "completed"
    assert step.step_details["tool_calls"][0]["function"]["output"] == "1073741824"
    # the model was offered the schema derived from the Python signature
    offered = ollama.requests_to("/api/chat")[0]["tools"][0]["function"]
    assert offered["parameters"]["required"] == ["expression"]
    names = events_of(run)
    assert names.count("thread.run.step.delta") == 3  # id and name, arguments, output
    assert "thread.run.requires_action" not in names


def test_server_and_client_calls_in_one_turn(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant
) -> None:
    assistant.tools = [CALC, WEATHER]
    assistant.save()
    ollama.enqueue(
        Reply(
            tool_calls=[
                {"name": "calculate", "arguments": {"expression": "1+1"}},
                {"name": "get_weather", "arguments": {"city": "Lima"}},
            ]
        )
    )
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    waiting = run.required_action["submit_tool_outputs"]["tool_calls"]
    assert [c["function"]["name"] for c in waiting] == ["get_weather"]
    details = run.steps.get(type="tool_calls").step_details["tool_calls"]
    assert [c["function"]["output"] for c in details] == ["2", None]


def test_a_server_function_that_raises_becomes_an_error_output(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant
) -> None:
    assistant.tools = [{"type": "function", "function": {"name": "get_current_time"}}]
    assistant.save()
    ollama.enqueue(
        Reply(tool_calls=[{"name": "get_current_time", "arguments": {"timezone": "Mars/Base"}}])
    )
    ollama.responder = answer_with_tool_output
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "completed"
    assert "unknown time zone 'Mars/Base'" in final_text(run)


def test_a_model_without_native_tools_calls_them_in_text(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant
) -> None:
    with_tools.model = "phi3"
    with_tools.save()
    ollama.enqueue(
        Reply(content='```json\n{"name": "get_weather", "arguments": {"city": "Kyiv"}}\n```')
    )
    ollama.responder = answer_with_tool_output
    run = make_run()
    execute_run(run.id)
    sent = ollama.last_request("/api/chat")
    assert "tools" not in sent or not sent["tools"]
    assert "get_weather" in sent["messages"][0]["content"]  # taught in the system prompt
    run.refresh_from_db()
    assert run.status == "requires_action"
    assert not Message.objects.filter(run=run).exists()  # the call was not shown as an answer
    assert run.events.filter(event="thread.message.delta").count() == 0
    call = run.required_action["submit_tool_outputs"]["tool_calls"][0]
    run_submit_tool_outputs(run=run, tool_outputs=[{"tool_call_id": call["id"], "output": "snow"}])
    execute_run(run.id)
    run.refresh_from_db()
    assert final_text(run) == "Result: Tool results:\n- get_weather: snow"


def test_an_ordinary_answer_from_a_tool_model_streams_untouched(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant
) -> None:
    ollama.enqueue(Reply(content="It is usually mild in spring."))
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    assert (run.status, final_text(run)) == ("completed", "It is usually mild in spring.")


def test_bad_arguments_go_back_to_the_model_then_fail_the_run(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant
) -> None:
    bad = Reply(tool_calls=[{"name": "get_weather", "arguments": {"town": "Paris"}}])
    ollama.enqueue(bad, bad)
    ollama.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]))
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "requires_action"  # corrected on the third try
    second = ollama.requests_to("/api/chat")[1]["messages"]
    assert "'city' is a required property" in second[-1]["content"]

    ollama.enqueue(*[bad] * 5)
    with override_settings(MAX_TOOL_ARGUMENT_ERRORS=2):
        again = make_run_after(run, make_run)
        execute_run(again.id)
    again.refresh_from_db()
    assert again.status == "failed"
    assert again.last_error["message"].startswith("The model kept calling get_weather wrongly")  # type: ignore[index]
    assert "'city' is a required property" in again.last_error["message"]  # type: ignore[index]


def make_run_after(run: Run, make_run: Any, **kwargs: Any) -> Run:
    Run.objects.filter(pk=run.pk).update(status="cancelled", required_action=None)
    return make_run(**kwargs)


def test_the_round_cap_ends_the_run_incomplete(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant
) -> None:
    assistant.tools = [CALC]
    assistant.save()
    ollama.responder = lambda body: Reply(
        tool_calls=[{"name": "calculate", "arguments": {"expression": "1+1"}}]
    )
    with override_settings(MAX_TOOL_ROUNDS=3):
        run = make_run()
        execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "incomplete"
    assert run.incomplete_details == {"reason": "max_tool_rounds"}
    assert len(ollama.requests_to("/api/chat")) == 4
    assert run.steps.filter(type="tool_calls").count() == 3


def test_tool_choice_none_and_named(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant
) -> None:
    assistant.tools = [CALC, WEATHER]
    assistant.save()
    execute_run(make_run(tool_choice="none").id)
    assert not ollama.last_request("/api/chat").get("tools")
    run = make_run(tool_choice={"type": "function", "function": {"name": "get_weather"}})
    Run.objects.exclude(pk=run.pk).update(status="completed")
    execute_run(run.id)
    sent = ollama.last_request("/api/chat")
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]
    assert "You must call the tool get_weather now." in sent["messages"][0]["content"]


def test_outputs_not_submitted_in_time_expire_the_run(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant
) -> None:
    ollama.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]))
    run = make_run()
    execute_run(run.id)
    Run.objects.filter(pk=run.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert reap()["expired"] == 1
    run.refresh_from_db()
    assert run.status == "expired"
    assert run.required_action is None
    assert run.steps.get(type="tool_calls").status == "expired"


def test_a_cancel_during_a_tool_round_is_not_lost(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant
) -> None:
    import threading

    from entities.services.runs import run_cancel
    from tools.functions import server_function

    started, release = threading.Event(), threading.Event()

    @server_function
    def slow_lookup() -> str:
        """Takes a moment."""
        started.set()
        release.wait(5)
        return "found"

    assistant.tools = [{"type": "function", "function": {"name": "slow_lookup"}}, WEATHER]
    assistant.save()
    ollama.enqueue(
        Reply(
            tool_calls=[
                {"name": "slow_lookup", "arguments": {}},
                {"name": "get_weather", "arguments": {"city": "Paris"}},
            ]
        )
    )
    run = make_run()
    worker = threading.Thread(target=execute_run, args=(run.id,))
    worker.start()
    assert started.wait(10)
    run_cancel(run=run)  # in_progress: asks the worker, which is busy in the server function
    release.set()
    worker.join(10)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert run.required_action is None


def submit(run: Run, output: str) -> None:
    """Answer every waiting call of the run with ``output``, as a client would."""
    run.refresh_from_db()
    assert run.status == "requires_action"
    waiting = run.required_action["submit_tool_outputs"]["tool_calls"]  # type: ignore[index]
    run_submit_tool_outputs(
        run=run, tool_outputs=[{"tool_call_id": c["id"], "output": output} for c in waiting]
    )


PARIS = Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])


def test_the_round_cap_counts_the_rounds_of_the_whole_run(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant
) -> None:
    ollama.responder = lambda body: PARIS  # a client that answers, and a model that never stops
    with override_settings(MAX_TOOL_ROUNDS=2):
        run = make_run()
        execute_run(run.id)
        for _ in range(2):
            submit(run, "rain")
            execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "incomplete"
    assert run.incomplete_details == {"reason": "max_tool_rounds"}
    assert run.required_action is None
    assert run.steps.filter(type="tool_calls").count() == 2
    assert len(ollama.requests_to("/api/chat")) == 3


def test_bad_arguments_are_counted_over_the_whole_run(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant
) -> None:
    bad = Reply(tool_calls=[{"name": "get_weather", "arguments": {"town": "Paris"}}])
    ollama.enqueue(bad, PARIS, bad)
    with override_settings(MAX_TOOL_ARGUMENT_ERRORS=1):
        run = make_run()
        execute_run(run.id)  # one bad call, corrected: the run waits for the client
        submit(run, "rain")
        execute_run(run.id)  # the second bad call of the run is one too many
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.last_error["message"].startswith("The model kept calling get_weather wrongly")


@pytest.mark.parametrize(
    "choice, told",
    [
        ("required", "one of the tools"),
        ({"type": "function", "function": {"name": "get_weather"}}, "the tool get_weather"),
    ],
)
def test_a_forced_tool_choice_holds_for_the_first_round_of_the_run_only(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant, choice: Any, told: str
) -> None:
    ollama.enqueue(PARIS)
    ollama.responder = answer_with_tool_output
    run = make_run(tool_choice=choice)
    execute_run(run.id)
    submit(run, "sunny")
    execute_run(run.id)
    run.refresh_from_db()
    assert (run.status, final_text(run)) == ("completed", "Result: sunny")
    first, second = ollama.requests_to("/api/chat")
    assert f"You must call {told} now." in first["messages"][0]["content"]
    assert "You must call" not in second["messages"][0]["content"]


def test_tool_choice_code_interpreter_forces_the_code_interpreter(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant
) -> None:
    assistant.tools = [CALC, {"type": "code_interpreter"}]
    assistant.save()
    ollama.enqueue(Reply(content="I would rather not."))
    run = make_run(tool_choice={"type": "code_interpreter"})
    execute_run(run.id)
    sent = ollama.last_request("/api/chat")
    assert [t["function"]["name"] for t in sent["tools"]] == ["code_interpreter"]
    assert "You must call the tool code_interpreter now." in sent["messages"][0]["content"]


@pytest.mark.parametrize(
    "choice, named",
    [
        ({"type": "function", "function": {"name": "launch_rocket"}}, "'launch_rocket'"),
        ({"type": "code_interpreter"}, "'code_interpreter'"),
    ],
)
def test_a_tool_choice_naming_a_tool_the_run_lacks_is_a_400(
    with_tools: Assistant, thread: Any, as_alice: Any, choice: Any, named: str
) -> None:
    body = {"assistant_id": with_tools.id, "tool_choice": choice}
    response = as_alice.post(f"/v1/threads/{thread.id}/runs", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "tool_choice"
    assert named in error["message"]
    assert not Run.objects.filter(thread=thread).exists()


def test_a_python_block_from_a_model_with_native_tools_is_shown_not_run(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant
) -> None:
    assistant.tools = [{"type": "code_interpreter"}]
    assistant.save()
    block = "```python\nprint(6 * 7)\n```"
    ollama.enqueue(Reply(content=block))
    run = make_run("How do I print 42 in Python?")
    execute_run(run.id)
    run.refresh_from_db()
    assert (run.status, final_text(run)) == ("completed", block)
    assert not run.steps.filter(type="tool_calls").exists()


@pytest.mark.parametrize(
    "model, reply, problem",
    [
        (
            "llama3.1",
            Reply(tool_calls=[{"name": "code_interpreter", "arguments": {"source": "1"}}]),
            "'code' is a required property",
        ),
        (
            "phi3",
            Reply(content='{"name": "code_interpreter", "arguments": "print(1)"}'),
            "are not valid JSON",
        ),
    ],
)
def test_bad_code_interpreter_arguments_reach_the_model(
    ollama: OllamaDouble,
    make_run: Any,
    assistant: Assistant,
    model: str,
    reply: Reply,
    problem: str,
) -> None:
    assistant.model = model
    assistant.tools = [{"type": "code_interpreter"}]
    assistant.save()
    ollama.enqueue(reply)
    ollama.responder = answer_with_tool_output
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "completed"
    assert problem in final_text(run)  # the model read the error as the call's output
    call = run.steps.get(type="tool_calls").step_details["tool_calls"][0]
    (logs,) = call["code_interpreter"]["outputs"]
    assert logs["type"] == "logs" and problem in logs["logs"]

    ollama.enqueue(reply, reply)
    with override_settings(MAX_TOOL_ARGUMENT_ERRORS=1):
        again = make_run_after(run, make_run)
        execute_run(again.id)
    again.refresh_from_db()
    assert again.status == "failed"
    assert "kept calling code_interpreter wrongly" in again.last_error["message"]  # type: ignore[index]


def test_outputs_submitted_after_the_run_expired_are_refused(
    ollama: OllamaDouble, make_run: Any, with_tools: Assistant, as_alice: Any
) -> None:
    ollama.enqueue(PARIS)
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    call = run.required_action["submit_tool_outputs"]["tool_calls"][0]
    Run.objects.filter(pk=run.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = as_alice.post(
        f"/v1/threads/{run.thread_id}/runs/{run.id}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": call["id"], "output": "rain"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "run_expired"
    run.refresh_from_db()
    assert run.status == "requires_action"  # left for the reaper to mark expired
    assert len(ollama.requests_to("/api/chat")) == 1


def test_metadata_changed_during_the_run_is_kept(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant, as_alice: Any
) -> None:
    import threading

    asked, release = threading.Event(), threading.Event()

    def slow_answer(body: dict[str, Any]) -> Reply:
        asked.set()
        release.wait(10)
        return Reply(content="Done.")

    ollama.responder = slow_answer
    run = make_run(metadata={"ticket": "1"})
    worker = threading.Thread(target=execute_run, args=(run.id,))
    worker.start()
    try:
        assert asked.wait(10)
        url = f"/v1/threads/{run.thread_id}/runs/{run.id}"
        assert as_alice.post(url, {"metadata": {"ticket": "2"}}, format="json").status_code == 200
    finally:
        release.set()
        worker.join(10)
    run.refresh_from_db()
    assert run.status == "completed"
    assert run.metadata == {"ticket": "2"}


def test_a_stuck_server_function_times_out_without_blocking_the_next_calls(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant
) -> None:
    import threading

    from tools.functions import server_function

    release = threading.Event()

    @server_function
    def stuck_lookup() -> str:
        """Never answers in time."""
        release.wait(30)
        return "too late"

    assistant.tools = [{"type": "function", "function": {"name": "stuck_lookup"}}, CALC]
    assistant.save()
    stuck = [{"name": "stuck_lookup", "arguments": {}}] * 5  # more than any small pool
    ollama.enqueue(
        Reply(tool_calls=[*stuck, {"name": "calculate", "arguments": {"expression": "1+1"}}])
    )
    ollama.responder = answer_with_tool_output
    try:
        with override_settings(SERVER_FUNCTION_TIMEOUT_SECONDS=0.2):
            run = make_run()
            execute_run(run.id)
    finally:
        release.set()
    run.refresh_from_db()
    assert run.status == "completed"
    outputs = [
        c["function"]["output"] for c in run.steps.get(type="tool_calls").step_details["tool_calls"]
    ]
    assert outputs[:5] == ["Error: stuck_lookup did not finish within 0.2 seconds."] * 5
    assert outputs[5] == "2"
    assert final_text(run) == "Result: 2"  # the last tool message the model read


def test_a_huge_server_function_result_is_cut(
    ollama: OllamaDouble, make_run: Any, assistant: Assistant
) -> None:
    from tools.calls import MAX_OUTPUT_BYTES
    from tools.functions import server_function

    @server_function
    def whole_archive() -> str:
        """Returns far too much."""
        return "x" * (MAX_OUTPUT_BYTES * 3)

    assistant.tools = [{"type": "function", "function": {"name": "whole_archive"}}]
    assistant.save()
    ollama.enqueue(Reply(tool_calls=[{"name": "whole_archive", "arguments": {}}]))
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    output = run.steps.get(type="tool_calls").step_details["tool_calls"][0]["function"]["output"]
    assert output.startswith("x" * MAX_OUTPUT_BYTES + "\n[output truncated:")
    assert len(output) < MAX_OUTPUT_BYTES + 200
    tool_message = ollama.last_request("/api/chat")["messages"][-1]
    assert tool_message["content"] == output
