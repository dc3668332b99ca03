"""The examples in examples/ run against a live server and print what they promise."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import RequestFactory

from entities_api import OllamaClient
from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import ROOT, Stack

pytestmark = pytest.mark.usefixtures("fresh_double")
EXAMPLES = ROOT / "examples"


def run_example(name: str, stack: Stack, key: str, *args: str) -> list[str]:
    return run_script(EXAMPLES / name, stack, key, *args)


def run_script(script: Path, stack: Stack, key: str, *args: str) -> list[str]:
    env = {
        **os.environ,
        "ENTITIES_BASE_URL": stack.url,
        "ENTITIES_API_KEY": key,
        "PYTHONPATH": str(ROOT),  # as after `pip install .`, whatever this venv holds
    }
    result = subprocess.run(
        [sys.executable, str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_quickstart_prints_the_streamed_answer(
    stack: Stack, admin_key: str, double: OllamaDouble
) -> None:
    double.enqueue("Of course! Which math problem shall we solve?")
    lines = run_example("quickstart.py", stack, admin_key)
    assert lines[0].startswith("User created: ID: user_")
    assert lines[1].startswith("Assistant created: ID: asst_")
    assert lines[2].startswith("Message created: ID: msg_")
    assert lines[3].startswith("Run created: ID: run_")
    assert lines[4:] == ["Of course! Which math problem shall we solve?"]
    chat = double.last_request("/api/chat")
    assert chat["model"] == "llama3.1"
    assert chat["messages"][0] == {"role": "system", "content": "You are a helpful assistant"}
    assert chat["messages"][-1]["content"].endswith("Can you help me with a math problem?")


def readme_python_sdk_block() -> str:
    """The first python code block of the README's "Python SDK" section."""
    section = (ROOT / "README.md").read_text().split("\n## Python SDK\n", 1)[1].split("\n## ")[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README's Python SDK section has no python block"
    return found.group(1)


def test_the_readme_quick_start_runs_as_written(
    stack: Stack, admin_key: str, double: OllamaDouble, tmp_path: Path
) -> None:
    script = tmp_path / "readme_quick_start.py"
    script.write_text(readme_python_sdk_block())
    double.enqueue("Of course! Which math problem shall we solve?")

    printed = run_script(script, stack, admin_key)

    assert printed == ["Of course! Which math problem shall we solve?"]
    assert double.last_request("/api/chat")["model"] == "llama3.1"


def test_the_function_calling_example_answers_with_its_function(
    stack: Stack, admin_key: str, double: OllamaDouble
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]
        if last["role"] == "tool":
            weather = json.loads(last["content"])
            return Reply(content=f"{weather['city']}: {weather['sky']}, {weather['celsius']}°C.")
        return Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Lyon"}}])

    double.responder = respond
    lines = run_example("function_calling.py", stack, admin_key, "Weather in Lyon?")
    assert lines == [
        '[calling get_weather({"city": "Lyon"})]',
        '[get_weather returned {"city": "Lyon", "sky": "sunny", "celsius": 24}]',
        "Lyon: sunny, 24°C.",
    ]


@pytest.fixture
def sse_example(
    stack: Stack, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    monkeypatch.setenv("ENTITIES_BASE_URL", stack.url)
    monkeypatch.setenv("ENTITIES_API_KEY", admin_key)
    spec = importlib.util.spec_from_file_location(
        "django_sse_view", EXAMPLES / "django_sse_view.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    module.entities().close()


def post(module: ModuleType, thread_id: str, body: dict[str, Any]) -> list[str]:
    request = RequestFactory().post(
        f"/conversation/{thread_id}", data=json.dumps(body), content_type="application/json"
    )
    response = module.conversation(request, thread_id)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/event-stream"
    raw = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    return [line[6:] for line in raw.split("\n\n") if line.startswith("data: ")]


def test_the_django_view_streams_a_conversation_as_sse(
    sse_example: ModuleType, admin_key: str, stack: Stack, double: OllamaDouble
) -> None:
    client = OllamaClient(stack.url, admin_key)
    user = client.user_service.create_user(name="dora")
    assistant = client.assistant_service.create_assistant(user_id=user.id, model="llama3.1")
    thread = client.thread_service.create_thread(participant_ids=[user.id])
    double.enqueue("32768 squared is 1073741824.")
    events = post(
        sse_example,
        thread.id,
        {
            "message": "Can you solve 32768 squared?",
            "assistant_id": assistant.id,
            "user_id": user.id,
        },
    )
    run_id = json.loads(events[0])["run_id"]
    assert run_id.startswith("run_") and events[-1] == "[DONE]"
    assert "".join(json.loads(e)["chunk"] for e in events[1:-1]) == "32768 squared is 1073741824."
    sent = client.message_service.list_messages(thread.id, order="asc").to_list()
    assert (sent[0].text, sent[0].sender_id) == ("Can you solve 32768 squared?", user.id)

    # A run that fails ends the stream with [ERROR].
    broken = client.assistant_service.create_assistant(user_id=user.id, model="nosuchmodel")
    events = post(sse_example, thread.id, {"message": "again", "assistant_id": broken.id})
    assert events[-1] == "[ERROR]"
    # A bad request is refused before anything streams.
    refused = sse_example.conversation(
        RequestFactory().post("/c", data="{}", content_type="application/json"), thread.id
    )
    assert refused.status_code == 400
    client.close()
