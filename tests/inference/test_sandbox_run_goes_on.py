"""Hostile code through the whole engine: the sandbox stops it at a limit, the model is told
why, and the run goes on to a completed answer."""

from typing import Any

import pytest
from django.test import override_settings

from entities.models import Assistant, Message
from inference.engine import execute_run
from inference.testing.ollama_double import OllamaDouble, Reply


def answer_after_tool(body: dict[str, Any]) -> Reply:
    last = body["messages"][-1]
    return Reply(content="The code was stopped." if last["role"] == "tool" else "(no tool)")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "code, limits, marker",
    [
        (
            "while True:\n    pass\n",
            {"SANDBOX_CPU_SECONDS": 1, "SANDBOX_WALL_SECONDS": 20.0},
            "[stopped: the CPU time limit was reached]",
        ),
        (
            "import time\ntime.sleep(10_000)\n",
            {"SANDBOX_WALL_SECONDS": 1.5},
            "[stopped: the time limit was reached]",
        ),
        (
            "while True:\n    print('x' * 1000)\n",
            {"SANDBOX_OUTPUT_BYTES": 8 * 1024, "SANDBOX_WALL_SECONDS": 20.0},
            "[stopped: the output limit was reached]",
        ),
    ],
    ids=["endless-loop", "long-sleep", "output-flood"],
)
def test_code_stopped_at_a_limit_reaches_the_model_and_the_run_completes(
    ollama: OllamaDouble,
    make_run: Any,
    assistant: Assistant,
    code: str,
    limits: dict[str, Any],
    marker: str,
) -> None:
    assistant.tools = [{"type": "code_interpreter"}]
    assistant.save()
    ollama.enqueue(Reply(tool_calls=[{"name": "code_interpreter", "arguments": {"code": code}}]))
    ollama.responder = answer_after_tool
    with override_settings(**limits):
        run = make_run("Run this for me.")
        execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "completed", run.last_error
    assert Message.objects.get(run=run).text == "The code was stopped."
    tool_message = ollama.last_request("/api/chat")["messages"][-1]
    assert tool_message["role"] == "tool"
    assert marker in tool_message["content"]
