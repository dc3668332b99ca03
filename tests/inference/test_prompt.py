"""What the model is shown: instructions, history in order, and truncation."""

from typing import Any

import pytest

from entities.models import Thread, User
from inference.engine import execute_run
from inference.prompt import PromptTooLong, build_prompt, estimate_tokens
from inference.testing.ollama_double import OllamaDouble

from .conftest import say


def contents(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages]


def test_last_messages_keeps_the_newest(make_run: Any, thread: Thread, alice: User) -> None:
    for i in range(6):
        say(thread, alice, f"m{i}")
    run = make_run(None, truncation_strategy={"type": "last_messages", "last_messages": 2})
    prompt = build_prompt(run, context_window=None)
    assert contents(prompt.messages) == ["You are terse.", "m4", "m5"]
    assert prompt.dropped == 4


def test_auto_keeps_the_newest_messages_that_fit_the_window(
    make_run: Any, thread: Thread, alice: User
) -> None:
    for i in range(50):
        say(thread, alice, f"message number {i} " + "x" * 100)
    run = make_run(None, max_completion_tokens=100)
    prompt = build_prompt(run, context_window=500)
    kept = contents(prompt.messages)[1:]
    assert kept == [f"message number {i} " + "x" * 100 for i in range(50 - len(kept), 50)]
    assert 0 < len(kept) < 50
    assert prompt.estimated_tokens <= 500 - 100
    everything = build_prompt(run, context_window=1_000_000)
    assert everything.dropped == 0


def test_max_prompt_tokens_caps_the_prompt(make_run: Any, thread: Thread, alice: User) -> None:
    for _ in range(10):
        say(thread, alice, "y" * 400)
    run = make_run(None, max_prompt_tokens=350)
    prompt = build_prompt(run, context_window=100_000)
    assert prompt.estimated_tokens <= 350
    assert len(prompt.messages) - 1 == (350 - estimate_tokens("You are terse.")) // estimate_tokens(
        "y" * 400
    )


def test_a_prompt_that_cannot_fit_ends_the_run_incomplete(
    ollama: OllamaDouble, make_run: Any
) -> None:
    run = make_run("z" * 4000, max_prompt_tokens=100)
    with pytest.raises(PromptTooLong):
        build_prompt(run, context_window=None)
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "incomplete"
    assert run.incomplete_details == {"reason": "max_prompt_tokens"}
    assert ollama.requests_to("/api/chat") == []


def test_auto_truncation_uses_the_context_length_ollama_reports(
    ollama: OllamaDouble, make_run: Any, thread: Thread, alice: User, assistant: Any
) -> None:
    ollama.add_model("tiny:latest", context_length=2048)
    assistant.model = "tiny"
    assistant.save()
    for i in range(40):
        say(thread, alice, f"old {i} " + "w" * 300)
    execute_run(make_run("the newest question").id)
    sent = ollama.last_request("/api/chat")["messages"]
    assert sent[-1]["content"] == "the newest question"
    assert 1 < len(sent) < 41
    assert sum(estimate_tokens(m["content"]) for m in sent) <= 2048
