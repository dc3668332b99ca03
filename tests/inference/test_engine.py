"""The engine against the Ollama double, through the unmodified ollama client."""

import json
import threading
from typing import Any

import pytest
from django.test import override_settings

from entities.models import Message, Run, RunEvent, Thread, User
from entities.services.runs import run_cancel
from entities.services.users import user_create
from inference.engine import execute_run
from inference.testing.ollama_double import OllamaDouble, Reply

from .conftest import say

# The run's watch (heartbeat, cancel checks) queries from its own thread and connection: inside
# a test-wide transaction it would wait on SQLite's lock and outlive the test.
pytestmark = pytest.mark.django_db(transaction=True)


def events_of(run: Run) -> list[str]:
    return list(run.events.order_by("seq").values_list("event", flat=True))


def answer(run: Run) -> Message:
    return Message.objects.get(run=run, role="assistant")


def test_a_run_streams_the_answer_into_a_message(ollama: OllamaDouble, make_run: Any) -> None:
    ollama.enqueue(Reply(content="Hi! How can I help?"))
    run = make_run("Hello there")
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "completed"
    assert run.started_at and run.completed_at
    assert run.usage and run.usage["completion_tokens"] > 0
    assert run.usage["total_tokens"] == run.usage["prompt_tokens"] + run.usage["completion_tokens"]
    message = answer(run)
    assert message.text == "Hi! How can I help?"
    assert (message.status, message.assistant_id) == ("completed", run.assistant_id)
    step = run.steps.get()
    assert (step.type, step.status) == ("message_creation", "completed")
    assert step.step_details["message_creation"]["message_id"] == message.id

    names = events_of(run)
    deltas = names.count("thread.message.delta")
    assert deltas == len(["Hi!", "How", "can", "I", "help?"])
    assert names == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        *["thread.message.delta"] * deltas,
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    seqs = list(run.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(names) + 1))
    text = "".join(
        json.loads(e.data)["delta"]["content"][0]["text"]["value"]
        for e in run.events.filter(event="thread.message.delta").order_by("seq")
    )
    assert text == "Hi! How can I help?"
    final = json.loads(run.events.order_by("-seq").first().data)
    assert (final["id"], final["status"], final["object"]) == (run.id, "completed", "thread.run")


def test_the_model_sees_instructions_history_and_settings(
    ollama: OllamaDouble, make_run: Any, thread: Thread, alice: User
) -> None:
    say(thread, alice, "first")
    run = make_run(
        "second",
        temperature=0.4,
        top_p=0.8,
        max_completion_tokens=50,
        additional_instructions="Answer in French.",
    )
    execute_run(run.id)
    sent = ollama.last_request("/api/chat")
    assert sent["messages"] == [
        {"role": "system", "content": "You are terse.\n\nAnswer in French."},
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
    ]
    assert sent["options"]["temperature"] == 0.4
    assert sent["options"]["top_p"] == 0.8
    assert sent["options"]["num_predict"] == 50
    assert sent["stream"] is True
    # the answer becomes history for the next run
    run2 = make_run("third")
    execute_run(run2.id)
    history = ollama.last_request("/api/chat")["messages"]
    assert [m["role"] for m in history] == ["system", "user", "user", "assistant", "user"]
    assert history[3]["content"] == "Echo: second"


def test_senders_are_named_when_several_people_share_a_thread(
    ollama: OllamaDouble, make_run: Any, thread: Thread, alice: User
) -> None:
    bob = user_create(name="bob")
    thread.participants.add(bob)
    say(thread, bob, "I am bob")
    execute_run(make_run("and I am alice").id)
    users = [
        m["content"] for m in ollama.last_request("/api/chat")["messages"] if m["role"] == "user"
    ]
    assert users == ["bob: I am bob", "alice: and I am alice"]


def test_json_response_format_is_passed_as_ollamas_format(
    ollama: OllamaDouble, make_run: Any
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    execute_run(make_run(response_format={"type": "json_object"}).id)
    assert ollama.last_request("/api/chat")["format"] == "json"
    run = make_run(
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
    )
    Run.objects.exclude(pk=run.pk).update(status="completed")
    execute_run(run.id)
    assert ollama.last_request("/api/chat")["format"] == schema


def test_max_completion_tokens_ends_the_run_incomplete(ollama: OllamaDouble, make_run: Any) -> None:
    ollama.enqueue(Reply(content="one two three four five six seven eight"))
    run = make_run(max_completion_tokens=3)
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "incomplete"
    assert run.incomplete_details == {"reason": "max_completion_tokens"}
    message = answer(run)
    assert message.status == "incomplete"
    assert message.incomplete_details == {"reason": "max_tokens"}
    assert message.text == "one two three "
    assert events_of(run)[-1] == "thread.run.incomplete"


def test_thinking_is_kept_apart_from_the_answer(
    ollama: OllamaDouble, make_run: Any, assistant: Any
) -> None:
    assistant.model = "qwen3"
    assistant.save()
    ollama.enqueue(Reply(thinking="Let me think about it.", content="42"))
    run = make_run("What is six times seven?")
    execute_run(run.id)
    message = answer(run)
    assert message.text == "42"
    assert message.thinking == "Let me think about it."
    assert ollama.last_request("/api/chat")["think"] is True


def test_a_model_that_is_not_pulled_fails_with_a_hint(ollama: OllamaDouble, make_run: Any) -> None:
    run = make_run(model="mistral")
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.failed_at is not None
    assert run.last_error["message"] == (
        f"model 'mistral' is not available on {ollama.host} — run \"ollama pull mistral\""
    )
    assert events_of(run)[-1] == "thread.run.failed"
    assert not Message.objects.filter(run=run).exists()


def test_ollama_down_fails_the_run_with_where_it_looked(
    ollama: OllamaDouble, make_run: Any
) -> None:
    ollama.stop()
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "failed"
    assert f"Ollama is not reachable at {ollama.host}" in run.last_error["message"]


@override_settings(OLLAMA_TIMEOUT_SECONDS=1)
def test_a_chat_with_no_answer_fails_the_run_at_its_deadline_once_not_after_a_retry(
    ollama: OllamaDouble, make_run: Any
) -> None:
    ollama.hang("/api/chat")  # it takes the request and never answers
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.last_error == {
        "code": "server_error",
        "message": f"Ollama at {ollama.host} did not begin its answer (/api/chat) within 1s "
        "(OLLAMA_TIMEOUT_SECONDS).",
    }
    assert len(ollama.requests_to("/api/chat")) == 1


def test_an_endpoint_with_no_answer_fails_the_run_at_its_deadline_once(
    ollama: OllamaDouble, make_run: Any
) -> None:
    # The same deadline as Ollama's chat, for a model on an OpenAI-compatible endpoint.
    ollama.hang("/v1/chat/completions")
    endpoints = {"local": {"base_url": ollama.openai_base_url}}
    with override_settings(INFERENCE_ENDPOINTS=endpoints, OLLAMA_TIMEOUT_SECONDS=1):
        run = make_run(model="local/llama3.1")
        execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.last_error == {
        "code": "server_error",
        "message": f"The endpoint 'local' at {ollama.openai_base_url} did not answer within 1s "
        "(OLLAMA_TIMEOUT_SECONDS).",
    }
    assert len(ollama.requests_to("/v1/chat/completions")) == 1


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        (Reply(content="one two three four", error_after=2), "Ollama stopped mid-answer"),
        (Reply(content="one two three four", drop_after=2), "dropped mid-answer"),
    ],
)
def test_a_stream_that_breaks_fails_the_run_and_keeps_the_partial_answer(
    ollama: OllamaDouble, make_run: Any, reply: Reply, fragment: str
) -> None:
    ollama.enqueue(reply)
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "failed"
    assert fragment in run.last_error["message"]
    message = answer(run)
    assert (message.status, message.text) == ("incomplete", "one two ")
    assert message.incomplete_details == {"reason": "run_failed"}
    assert run.steps.get().status == "failed"


def test_a_transient_error_before_any_output_is_retried_once(
    ollama: OllamaDouble, make_run: Any
) -> None:
    ollama.enqueue(Reply(status=503, error="server busy"), Reply(content="fine now"))
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "completed"
    assert answer(run).text == "fine now"


def test_cancel_mid_stream_stops_within_a_second(ollama: OllamaDouble, make_run: Any) -> None:
    ollama.enqueue(Reply(content=" ".join(["word"] * 200), tokens_per_second=20))
    run = make_run()
    worker = threading.Thread(target=execute_run, args=(run.id,))
    worker.start()
    ollama.wait_for_requests(1, "/api/chat", timeout=5)
    while not RunEvent.objects.filter(run=run, event="thread.message.delta").exists():
        worker.join(0.05)
    run_cancel(run=run)
    worker.join(timeout=2)
    assert not worker.is_alive()
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert run.cancelled_at is not None
    message = answer(run)
    assert message.status == "incomplete"
    assert message.incomplete_details == {"reason": "run_cancelled"}
    assert 0 < len(message.text.split()) < 200
    assert events_of(run)[-3:] == [
        "thread.message.incomplete",
        "thread.run.step.cancelled",
        "thread.run.cancelled",
    ]
    ollama.wait_for_idle(timeout=5)
    assert ollama.aborted_streams == 1


def test_a_run_is_executed_once_however_often_the_task_comes(
    ollama: OllamaDouble, make_run: Any
) -> None:
    run = make_run()
    execute_run(run.id)
    execute_run(run.id)
    assert len(ollama.requests_to("/api/chat")) == 1
    assert Message.objects.filter(run=run).count() == 1


def test_two_deliveries_at_once_execute_the_run_once(ollama: OllamaDouble, make_run: Any) -> None:
    # Each delivery may start the model before it claims the run: the one that loses the claim
    # closes its call and writes nothing.
    ollama.enqueue(Reply(content="only once", delay_before_first_token=0.3))
    ollama.enqueue(Reply(content="only once", delay_before_first_token=0.3))
    run = make_run()
    workers = [threading.Thread(target=execute_run, args=(run.id,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    run.refresh_from_db()
    assert run.status == "completed" and run.attempts == 1
    assert [m.text for m in Message.objects.filter(run=run)] == ["only once"]
    seqs = list(run.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert events_of(run).count("thread.run.in_progress") == 1


def test_a_run_past_expires_at_expires_instead_of_running(
    ollama: OllamaDouble, make_run: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    run = make_run()
    Run.objects.filter(pk=run.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "expired"
    assert ollama.requests_to("/api/chat") == []
    assert events_of(run)[-1] == "thread.run.expired"


def test_a_model_named_endpoint_slash_model_runs_on_that_openai_compatible_server(
    ollama: OllamaDouble, make_run: Any
) -> None:
    from django.test import override_settings

    ollama.enqueue(Reply(content="Answered over the OpenAI-compatible API."))
    endpoints = {"local": {"base_url": ollama.openai_base_url, "api_key": "sk-test"}}
    with override_settings(INFERENCE_ENDPOINTS=endpoints):
        run = make_run(model="local/llama3.1")
        execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "completed"
    assert answer(run).text == "Answered over the OpenAI-compatible API."
    assert run.usage and run.usage["completion_tokens"] > 0
    sent = ollama.last_recorded("/v1/chat/completions")
    assert sent.body["model"] == "llama3.1"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert ollama.requests_to("/api/chat") == []


def test_cancel_before_the_first_token_does_not_wait_for_the_model(
    ollama: OllamaDouble, make_run: Any
) -> None:
    import time

    ollama.enqueue(Reply(content="late", delay_before_first_token=30))
    run = make_run()
    worker = threading.Thread(target=execute_run, args=(run.id,))
    worker.start()
    ollama.wait_for_requests(1, "/api/chat", timeout=10)
    run_cancel(run=run)
    asked = time.monotonic()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - asked < 1.5
    run.refresh_from_db()
    assert run.status == "cancelled"
