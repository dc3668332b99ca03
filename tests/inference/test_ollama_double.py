"""Tests of the Ollama test double, driven through the unmodified official ``ollama`` client
(and, for its OpenAI-compatible ``/v1`` endpoints, the ``openai`` SDK and raw httpx).

Everything goes over real HTTP on loopback; nothing here needs Django.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import ollama
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolUnionParam

from inference.testing.ollama_double import (
    PULL_MANIFEST_ERROR,
    RUNNER_STOPPED_ERROR,
    ModelName,
    OllamaDouble,
    Reply,
    parse_keep_alive,
    split_tokens,
)

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def double() -> Iterator[OllamaDouble]:
    with OllamaDouble() as running:
        yield running


@pytest.fixture
def client(double: OllamaDouble) -> Iterator[ollama.Client]:
    with ollama.Client(host=double.host) as ollama_client:
        yield ollama_client


# ---------------------------------------------------------------------- chat


def test_streaming_chat_yields_tokens_in_order_then_done_chunk(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.enqueue(Reply(content="The sky is blue."))

    chunks = list(client.chat(model="llama3.1", messages=USER, stream=True))

    *tokens, final = chunks
    assert [c.message.content for c in tokens] == ["The ", "sky ", "is ", "blue."]
    assert all(c.done is False and c.message.role == "assistant" for c in tokens)
    assert final.done is True
    assert final.done_reason == "stop"
    assert final.message.content == ""
    assert final.model == "llama3.1"
    assert final.created_at and final.created_at.endswith("Z")
    assert final.eval_count == 4
    assert final.prompt_eval_count and final.prompt_eval_count > 0
    for name in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(getattr(final, name), int) and getattr(final, name) > 0


def test_non_streaming_chat_returns_whole_message_and_counts(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.enqueue(Reply(content="Hello there, friend!", prompt_eval_count=26, eval_count=7))

    response = client.chat(model="llama3.1:latest", messages=USER, stream=False)

    assert response.message.role == "assistant"
    assert response.message.content == "Hello there, friend!"
    assert response.done is True and response.done_reason == "stop"
    assert (response.prompt_eval_count, response.eval_count) == (26, 7)


def test_default_reply_echoes_last_user_message(client: ollama.Client) -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second question"},
    ]

    response = client.chat(model="llama3.1", messages=messages)

    assert response.message.content == "Echo: second question"


def test_responder_computes_replies_and_strings_are_accepted(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.responder = lambda body: f"{len(body['messages'])} message(s) to {body['model']}"
    double.enqueue("scripted first")

    first = client.chat(model="llama3.1", messages=USER)
    second = client.chat(model="llama3.1", messages=USER)

    assert first.message.content == "scripted first"
    assert second.message.content == "1 message(s) to llama3.1"
    assert double.pending_replies == 0


def test_thinking_is_streamed_separately_before_content(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.enqueue(Reply(thinking="Paris is in France.", content="It is sunny."))

    chunks = list(client.chat(model="qwen3", messages=USER, stream=True))

    thinking = [c.message.thinking for c in chunks if c.message.thinking]
    content = [c.message.content for c in chunks if c.message.content]
    assert "".join(thinking) == "Paris is in France."
    assert "".join(content) == "It is sunny."
    first_content = next(i for i, c in enumerate(chunks) if c.message.content)
    assert all(not c.message.thinking for c in chunks[first_content:])
    assert chunks[-1].eval_count == len(thinking) + len(content)


def test_thinking_non_streaming_and_think_false(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.enqueue(
        Reply(thinking="Let me think.", content="42"), Reply(thinking="hidden", content="7")
    )

    with_thinking = client.chat(model="qwen3", messages=USER, think=True)
    without = client.chat(model="qwen3", messages=USER, think=False)

    assert (with_thinking.message.thinking, with_thinking.message.content) == (
        "Let me think.",
        "42",
    )
    assert (without.message.thinking, without.message.content) == (None, "7")


def test_think_on_model_without_thinking_is_400(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as excinfo:
        client.chat(model="llama3.1", messages=USER, think=True)

    assert excinfo.value.status_code == 400
    assert excinfo.value.error == '"llama3.1" does not support thinking'


def test_native_tool_calls_have_object_arguments(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]))

    response = client.chat(model="llama3.1", messages=USER, tools=[WEATHER_TOOL])

    assert response.message.content == ""
    [call] = response.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Paris"}
    assert response.done_reason == "stop"


def test_tool_call_line_appears_mid_stream(double: OllamaDouble, client: ollama.Client) -> None:
    double.enqueue(
        Reply(
            content="Checking the weather now.",
            tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}],
            tool_calls_at=2,
        )
    )

    chunks = list(client.chat(model="llama3.1", messages=USER, tools=[WEATHER_TOOL], stream=True))

    kinds = ["tools" if c.message.tool_calls else c.message.content for c in chunks[:-1]]
    assert kinds == ["Checking ", "the ", "tools", "weather ", "now."]
    [call] = chunks[2].message.tool_calls or []
    assert call.function.arguments == {"city": "Paris", "days": 2}
    assert chunks[-1].done is True


def test_raw_tool_call_wire_format(double: OllamaDouble) -> None:
    double.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]))

    body = {"model": "llama3.1", "messages": USER, "tools": [WEATHER_TOOL], "stream": False}
    payload = httpx.post(f"{double.host}/api/chat", json=body).json()

    [call] = payload["message"]["tool_calls"]
    assert call["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "Oslo"}}
    assert call["id"].startswith("call_")


def test_num_predict_truncates_with_done_reason_length(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.enqueue(Reply(content="one two three four five"))

    response = client.chat(model="llama3.1", messages=USER, options={"num_predict": 2})

    assert response.message.content == "one two "
    assert (response.done_reason, response.eval_count) == ("length", 2)


def test_model_names_resolve_like_ollama(client: ollama.Client) -> None:
    for name in ("llama3.1", "llama3.1:latest", "LLAMA3.1", "registry.ollama.ai/library/llama3.1"):
        assert client.chat(model=name, messages=USER).model == name
    assert ModelName.parse("user/model:7b").full == "registry.ollama.ai/user/model:7b"


def test_empty_messages_load_and_keep_alive_zero_unloads(
    double: OllamaDouble, client: ollama.Client
) -> None:
    loaded = client.chat(model="qwen3", messages=[])
    assert (loaded.done, loaded.done_reason) == (True, "load")
    assert [m.model for m in client.ps().models] == ["qwen3:latest"]

    unloaded = client.chat(model="qwen3", messages=[], keep_alive=0)

    assert unloaded.done_reason == "unload"
    assert client.ps().models == []
    assert double.pending_replies == 0


# ---------------------------------------------------------------------- errors


def test_unknown_model_is_404(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as excinfo:
        client.chat(model="nonexistent", messages=USER)

    assert excinfo.value.status_code == 404
    assert excinfo.value.error == 'model "nonexistent" not found, try pulling it first'

    with pytest.raises(ollama.ResponseError) as streaming:
        list(client.chat(model="nonexistent", messages=USER, stream=True))
    assert streaming.value.status_code == 404


def test_tools_on_model_without_tools_capability_is_400(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as excinfo:
        client.chat(model="phi3", messages=USER, tools=[WEATHER_TOOL])

    assert excinfo.value.status_code == 400
    assert excinfo.value.error == "registry.ollama.ai/library/phi3:latest does not support tools"


def test_error_line_mid_stream_raises_in_client_iterator(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.enqueue(Reply(content="a b c d e", error_after=2))

    received = []
    with pytest.raises(ollama.ResponseError) as excinfo:
        for chunk in client.chat(model="llama3.1", messages=USER, stream=True):
            received.append(chunk.message.content)

    assert received == ["a ", "b "]
    assert excinfo.value.error == RUNNER_STOPPED_ERROR


def test_error_after_non_streaming_is_http_500(double: OllamaDouble, client: ollama.Client) -> None:
    double.enqueue(Reply(content="a b", error_after=1, error="boom"))

    with pytest.raises(ollama.ResponseError) as excinfo:
        client.chat(model="llama3.1", messages=USER)

    assert (excinfo.value.status_code, excinfo.value.error) == (500, "boom")


def test_scripted_http_error_before_streaming(double: OllamaDouble, client: ollama.Client) -> None:
    double.enqueue(Reply(status=503, error="server busy, please try again.  maximum pending"))

    with pytest.raises(ollama.ResponseError) as excinfo:
        list(client.chat(model="llama3.1", messages=USER, stream=True))

    assert excinfo.value.status_code == 503
    assert excinfo.value.error.startswith("server busy")


def test_dropped_connection_raises_in_client_iterator(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.enqueue(Reply(content="a b c d e", drop_after=3))

    received = []
    with pytest.raises(httpx.RemoteProtocolError):
        for chunk in client.chat(model="llama3.1", messages=USER, stream=True):
            received.append(chunk.message.content)

    assert received == ["a ", "b ", "c "]
    # The double keeps serving after a dropped stream.
    assert client.chat(model="llama3.1", messages=USER).done is True


def test_a_paused_reply_goes_silent_mid_answer_until_resumed(
    double: OllamaDouble, client: ollama.Client
) -> None:
    resume = threading.Event()
    double.enqueue(Reply(content="a b c d e", pause_after=2, resume=resume))
    stream = client.chat(model="llama3.1", messages=USER, stream=True)
    assert [next(stream).message.content for _ in range(2)] == ["a ", "b "]
    double.wait_for_paused(1, timeout=10)

    resume.set()
    rest = list(stream)

    assert [chunk.message.content for chunk in rest[:-1]] == ["c ", "d ", "e"]
    assert rest[-1].done is True and rest[-1].eval_count == 5
    assert double.paused_generations == 0
    # Set before the pause point, the same event lets a reply through without a pause.
    double.enqueue(Reply(content="x y", pause_after=1, resume=resume))
    assert client.chat(model="llama3.1", messages=USER).message.content == "x y"
    with pytest.raises(ValueError, match="go together"):
        Reply(content="x", pause_after=1)


def test_stopping_the_double_ends_a_pause(double: OllamaDouble, client: ollama.Client) -> None:
    double.enqueue(Reply(content="a b c", pause_after=1, resume=threading.Event()))
    stream = client.chat(model="llama3.1", messages=USER, stream=True)
    next(stream)
    double.wait_for_paused(1, timeout=10)

    double.stop()

    with pytest.raises(httpx.RemoteProtocolError):
        list(stream)
    assert double.paused_generations == 0
    double.start()


def test_stop_mid_stream_cuts_the_stream_then_refuses_connections(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.enqueue(Reply(content="word " * 50, tokens_per_second=200))
    stream = client.chat(model="llama3.1", messages=USER, stream=True)
    assert next(stream).message.content == "word "

    double.stop()

    with pytest.raises(httpx.RemoteProtocolError):
        list(stream)
    with pytest.raises(ConnectionError):
        client.list()

    double.start()
    assert len(client.list().models) == 3


def test_client_abandoning_a_stream_is_noticed(double: OllamaDouble, client: ollama.Client) -> None:
    double.enqueue(Reply(content="word " * 50, tokens_per_second=200))
    stream = client.chat(model="llama3.1", messages=USER, stream=True)
    assert isinstance(stream, Generator)
    next(stream)
    assert double.active_generations == 1

    stream.close()
    double.wait_for_idle(timeout=2)

    assert double.aborted_streams == 1


def test_a_stream_s_headers_leave_with_its_first_line_as_ollama_s(double: OllamaDouble) -> None:
    # Ollama (gin's c.Stream) writes the status line with the first line: until the first
    # token a client has not one byte, so a read deadline on it is a first-token deadline.
    double.enqueue(Reply(content="late", delay_before_first_token=2))
    body = {"model": "llama3.1", "messages": USER}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{double.host}/api/chat", json=body, timeout=httpx.Timeout(5, read=0.3))
    double.enqueue(Reply(content="late", delay_before_first_token=0.3))
    with httpx.stream("POST", f"{double.host}/api/chat", json=body, timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in response.iter_lines()]
    assert [line["message"]["content"] for line in lines] == ["late", ""]


def test_a_hung_double_takes_connections_and_answers_nothing_until_told(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.hang("/api/show")
    with pytest.raises(httpx.ReadTimeout):
        ollama.Client(host=double.host, timeout=0.5).show("llama3.1")
    assert double.requests_to("/api/show") == [{"model": "llama3.1"}]
    assert len(client.list().models) == 3  # only the named path hangs

    double.hang()  # every path
    with pytest.raises(httpx.ReadTimeout):
        ollama.Client(host=double.host, timeout=0.5).list()
    raised: list[BaseException] = []

    def chat() -> None:
        try:
            ollama.Client(host=double.host, timeout=10).chat(model="llama3.1", messages=USER)
        except BaseException as exc:
            raised.append(exc)

    waiting = threading.Thread(target=chat)
    waiting.start()
    double.wait_for_requests(1, "/api/chat")
    assert double.held_requests >= 1
    double.answer()  # the held request is closed unanswered
    waiting.join(10)
    assert [type(exc) for exc in raised] == [httpx.RemoteProtocolError]
    assert double.held_requests == 0
    assert client.chat(model="llama3.1", messages=USER).done is True


def test_token_rate_and_first_token_delay_are_respected(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.enqueue(Reply(content="tok " * 10, tokens_per_second=50, delay_before_first_token=0.1))

    started = time.monotonic()
    chunks = list(client.chat(model="llama3.1", messages=USER, stream=True))
    elapsed = time.monotonic() - started

    assert len(chunks) == 11
    assert elapsed >= 0.1 + 10 / 50 * 0.9
    final = chunks[-1]
    assert final.eval_duration and final.eval_duration >= 0.18e9
    assert final.prompt_eval_duration and final.prompt_eval_duration >= 0.1e9


def test_double_wide_default_rate_applies(double: OllamaDouble, client: ollama.Client) -> None:
    double.tokens_per_second = 100
    double.enqueue(Reply(content="x " * 10))

    started = time.monotonic()
    client.chat(model="llama3.1", messages=USER)

    assert time.monotonic() - started >= 10 / 100 * 0.9


# ---------------------------------------------------------------------- requests


def test_requests_are_recorded(double: OllamaDouble, client: ollama.Client) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    client.chat(
        model="llama3.1",
        messages=USER,
        tools=[WEATHER_TOOL],
        format=schema,
        options={"temperature": 0.2, "num_ctx": 4096},
        keep_alive="10m",
    )
    client.list()

    body = double.last_request("/api/chat")
    assert body["messages"] == USER
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["format"] == schema
    assert body["options"] == {"temperature": 0.2, "num_ctx": 4096}
    assert body["keep_alive"] == "10m"
    assert body["stream"] is False
    assert [r.path for r in double.requests] == ["/api/chat", "/api/tags"]
    assert double.wait_for_requests(1, "/api/tags", timeout=1) == [{}]


def test_generate_streaming_and_non_streaming(double: OllamaDouble, client: ollama.Client) -> None:
    double.enqueue(Reply(content="Blue light scatters."), "Short answer.")

    chunks = list(client.generate(model="llama3.1", prompt="Why is the sky blue?", stream=True))
    whole = client.generate(model="llama3.1", prompt="Why?", system="Be brief.")

    assert "".join(c.response or "" for c in chunks) == "Blue light scatters."
    assert chunks[-1].done is True and chunks[-1].context
    assert whole.response == "Short answer."
    assert double.last_request("/api/generate")["system"] == "Be brief."


# ---------------------------------------------------------------------- model management


def test_tags_lists_catalogue(double: OllamaDouble, client: ollama.Client) -> None:
    double.add_model("mistral:7b", family="mistral", capabilities=("completion",), size=123)

    models = {m.model: m for m in client.list().models}

    assert set(models) == {"llama3.1:latest", "phi3:latest", "qwen3:latest", "mistral:7b"}
    mistral = models["mistral:7b"]
    assert mistral.size == 123
    assert mistral.digest and len(mistral.digest) == 64
    assert mistral.modified_at is not None
    assert mistral.details is not None
    assert (mistral.details.format, mistral.details.family) == ("gguf", "mistral")
    assert mistral.details.families == ["mistral"]
    assert mistral.details.quantization_level == "Q4_K_M"
    assert mistral.details.parameter_size == "8B"


def test_show_reports_capabilities_and_context_length(
    double: OllamaDouble, client: ollama.Client
) -> None:
    double.add_model("tiny", family="gemma3", context_length=2048, capabilities=["completion"])

    qwen = client.show("qwen3")
    tiny = client.show("tiny")

    assert qwen.capabilities == ["completion", "tools", "thinking"]
    assert qwen.modelinfo is not None and qwen.modelinfo["qwen3.context_length"] == 40960
    assert qwen.details is not None and qwen.details.family == "qwen3"
    assert tiny.capabilities == ["completion"]
    assert tiny.modelinfo is not None
    assert tiny.modelinfo["general.architecture"] == "gemma3"
    assert tiny.modelinfo["gemma3.context_length"] == 2048

    with pytest.raises(ollama.ResponseError) as excinfo:
        client.show("missing")
    assert (excinfo.value.status_code, excinfo.value.error) == (404, "model 'missing' not found")


def test_version_and_root(double: OllamaDouble) -> None:
    assert httpx.get(f"{double.host}/api/version").json() == {"version": double.version}
    assert httpx.get(double.host).text == "Ollama is running"
    assert httpx.get(f"{double.host}/api/nope").status_code == 404


def test_pull_streams_progress_and_adds_model(double: OllamaDouble, client: ollama.Client) -> None:
    double.add_pullable("mistral:7b", family="mistral", size=1000)
    double.pull_steps = 4

    progress = list(client.pull("mistral:7b", stream=True))

    statuses = [p.status for p in progress]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    downloads = [p for p in progress if p.total]
    assert [p.completed for p in downloads] == [0, 250, 500, 750, 1000]
    assert all(p.total == 1000 and (p.digest or "").startswith("sha256:") for p in downloads)
    assert "mistral:7b" in double.model_names
    details = client.show("mistral:7b").details
    assert details is not None and details.family == "mistral"


def test_non_streaming_pull_and_unknown_names(double: OllamaDouble, client: ollama.Client) -> None:
    assert client.pull("llama3.1").status == "success"

    with pytest.raises(ollama.ResponseError) as streamed:
        list(client.pull("no-such-model", stream=True))
    assert streamed.value.error == PULL_MANIFEST_ERROR
    with pytest.raises(ollama.ResponseError) as whole:
        client.pull("no-such-model")
    assert (whole.value.status_code, whole.value.error) == (500, PULL_MANIFEST_ERROR)

    double.allow_any_pull = True
    assert client.pull("no-such-model").status == "success"
    assert "no-such-model:latest" in double.model_names


def test_pull_delay_is_respected(double: OllamaDouble, client: ollama.Client) -> None:
    double.pull_steps, double.pull_delay = 2, 0.02

    started = time.monotonic()
    lines = list(client.pull("phi3", stream=True))

    assert time.monotonic() - started >= (len(lines) - 1) * 0.02 * 0.9


def test_delete_removes_model(double: OllamaDouble, client: ollama.Client) -> None:
    assert client.delete("phi3").status == "success"
    assert "phi3:latest" not in double.model_names

    with pytest.raises(ollama.ResponseError) as excinfo:
        client.delete("phi3")
    assert (excinfo.value.status_code, excinfo.value.error) == (404, "model 'phi3' not found")


def test_ps_lists_models_used_recently(client: ollama.Client) -> None:
    assert client.ps().models == []

    client.chat(model="llama3.1", messages=USER, keep_alive="1h")

    [running] = client.ps().models
    assert running.model == "llama3.1:latest"
    assert running.expires_at is not None
    assert running.details is not None and running.details.family == "llama"


# ---------------------------------------------------------------------- helpers & CLI


def test_helpers() -> None:
    assert "".join(split_tokens("  Hello,  world!\n")) == "  Hello,  world!\n"
    assert parse_keep_alive("1h30m").total_seconds() == 5400
    assert parse_keep_alive(0).total_seconds() == 0
    assert parse_keep_alive(-1).days > 365
    with pytest.raises(ValueError):
        Reply(error="needs a status or error_after")
    with pytest.raises(ValueError):
        Reply(tokens_per_second=0)


def test_command_line_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "inference.testing.ollama_double", "--port", "0"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("Ollama double listening on http://127.0.0.1:")
        host = banner.split()[4]
        with ollama.Client(host=host) as cli_client:
            assert cli_client.chat(model="llama3.1", messages=USER).message.content
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0


# ---------------------------------------------------------------------- OpenAI compatibility


# The OpenAI SDK's typed views of the native fixtures above.
OAI_USER = cast(list[ChatCompletionMessageParam], USER)
OAI_WEATHER_TOOL = cast(ChatCompletionToolUnionParam, WEATHER_TOOL)


@pytest.fixture
def oai(double: OllamaDouble) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=double.openai_base_url, api_key="sk-test", max_retries=0) as sdk:
        yield sdk


def error_message(exc: openai.APIStatusError) -> Any:
    """The ``error.message`` the server sent (the SDK's ``message`` adds the status)."""
    assert isinstance(exc.body, dict)
    return exc.body["message"]


def sse_events(double: OllamaDouble, body: dict[str, Any]) -> list[Any]:
    """POST ``body`` to ``/v1/chat/completions`` and return the decoded ``data:`` events
    (``"[DONE]"`` kept as the string)."""
    events: list[Any] = []
    url = f"{double.openai_base_url}/chat/completions"
    with httpx.stream("POST", url, json={"stream": True, **body}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line:
                assert line.startswith("data: ")
                data = line.removeprefix("data: ")
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_openai_stream_has_one_chunk_per_token_then_finish_and_done(double: OllamaDouble) -> None:
    double.enqueue(Reply(content="The sky is blue."))

    events = sse_events(double, {"model": "llama3.1", "messages": USER})

    *chunks, finish, done = events
    assert done == "[DONE]"
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": token} for token in ("The ", "sky ", "is ", "blue.")
    ]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)
    assert finish["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": "stop"}
    ]
    first = chunks[0]
    assert first["id"].startswith("chatcmpl-")
    assert first["object"] == "chat.completion.chunk"
    assert first["model"] == "llama3.1"
    assert first["system_fingerprint"] == "fp_ollama"
    assert isinstance(first["created"], int)
    assert {c["id"] for c in events[:-1]} == {first["id"]}
    assert all("usage" not in c for c in events[:-1])


def test_openai_sdk_stream_with_usage_chunk(double: OllamaDouble, oai: openai.OpenAI) -> None:
    double.enqueue(Reply(content="Hello there, friend!", prompt_eval_count=26, eval_count=7))

    stream = oai.chat.completions.create(
        model="llama3.1",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello there, friend!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (26, 7)
    assert usage_chunk.usage.total_tokens == 33


def test_openai_reasoning_is_streamed_in_delta_reasoning(double: OllamaDouble) -> None:
    double.enqueue(Reply(thinking="Paris is in France.", content="Sunny."))

    events = sse_events(double, {"model": "qwen3", "messages": USER})

    deltas = [e["choices"][0]["delta"] for e in events[:-1]]
    assert "".join(d.get("reasoning", "") for d in deltas) == "Paris is in France."
    assert "".join(d["content"] for d in deltas) == "Sunny."
    first_content = next(i for i, d in enumerate(deltas) if d["content"])
    assert all("reasoning" not in d for d in deltas[first_content:])


def test_openai_reasoning_effort_maps_to_think(double: OllamaDouble, oai: openai.OpenAI) -> None:
    double.enqueue(Reply(thinking="hidden", content="7"), Reply(thinking="shown", content="8"))

    without = oai.chat.completions.create(model="qwen3", messages=OAI_USER, reasoning_effort="none")
    with_reasoning = oai.chat.completions.create(
        model="qwen3", messages=OAI_USER, reasoning_effort="high"
    )

    assert without.choices[0].message.content == "7"
    assert without.choices[0].message.model_extra == {}
    assert with_reasoning.choices[0].message.model_extra == {"reasoning": "shown"}
    with pytest.raises(openai.BadRequestError) as unsupported:
        oai.chat.completions.create(model="llama3.1", messages=OAI_USER, reasoning_effort="low")
    assert unsupported.value.body == {
        "message": '"llama3.1" does not support thinking',
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.BadRequestError) as invalid:
        oai.chat.completions.create(
            model="qwen3", messages=OAI_USER, extra_body={"reasoning_effort": "x"}
        )
    assert error_message(invalid.value) == (
        'invalid reasoning value: \'x\' (must be "high", "medium", "low", or "none")'
    )


def test_openai_tool_calls_stream_with_string_arguments(
    double: OllamaDouble, oai: openai.OpenAI
) -> None:
    double.enqueue(
        Reply(
            content="Let me check.",
            tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}],
        )
    )

    chunks = list(
        oai.chat.completions.create(
            model="llama3.1",
            messages=OAI_USER,
            tools=[OAI_WEATHER_TOOL],
            stream=True,
        )
    )

    with_calls = [c for c in chunks if c.choices[0].delta.tool_calls]
    assert len(with_calls) == 1
    [call] = with_calls[0].choices[0].delta.tool_calls or []
    assert (call.index, call.type) == (0, "function")
    assert call.id and call.id.startswith("call_")
    assert call.function is not None and call.function.name == "get_weather"
    assert json.loads(call.function.arguments or "") == {"city": "Paris", "days": 2}
    assert call.function.arguments == '{"city":"Paris","days":2}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Let me check."


def test_openai_non_streaming_completion(double: OllamaDouble, oai: openai.OpenAI) -> None:
    double.enqueue(
        Reply(thinking="Hmm.", content="Hello!", prompt_eval_count=10, eval_count=3),
        Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]),
    )

    completion = oai.chat.completions.create(model="qwen3", messages=OAI_USER)
    tools = oai.chat.completions.create(
        model="llama3.1", messages=OAI_USER, tools=[OAI_WEATHER_TOOL]
    )

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    [choice] = completion.choices
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert (choice.message.role, choice.message.content) == ("assistant", "Hello!")
    assert choice.message.model_extra == {"reasoning": "Hmm."}
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (10, 3)
    [call_choice] = tools.choices
    assert call_choice.finish_reason == "tool_calls"
    [call] = call_choice.message.tool_calls or []
    assert call.type == "function"
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city":"Oslo"}')


def test_openai_max_tokens_truncates_with_length(double: OllamaDouble, oai: openai.OpenAI) -> None:
    double.enqueue(Reply(content="one two three four five"), Reply(content="one two three"))

    whole = oai.chat.completions.create(model="llama3.1", messages=OAI_USER, max_tokens=2)
    events = sse_events(double, {"model": "llama3.1", "messages": USER, "max_tokens": 1})

    assert whole.choices[0].message.content == "one two "
    assert whole.choices[0].finish_reason == "length"
    assert whole.usage is not None and whole.usage.completion_tokens == 2
    assert [e["choices"][0]["finish_reason"] for e in events[:-1]] == [None, "length"]
    assert double.last_request("/v1/chat/completions")["max_tokens"] == 1


def test_openai_unknown_model_is_404_not_found_error(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as excinfo:
        oai.chat.completions.create(model="nonexistent", messages=OAI_USER)

    assert excinfo.value.status_code == 404
    assert excinfo.value.body == {
        "message": 'model "nonexistent" not found, try pulling it first',
        "type": "not_found_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="nonexistent", messages=OAI_USER, stream=True)


def test_openai_bad_requests_are_400(double: OllamaDouble, oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as empty:
        oai.chat.completions.create(model="llama3.1", messages=[])
    with pytest.raises(openai.BadRequestError) as no_tools:
        oai.chat.completions.create(model="phi3", messages=OAI_USER, tools=[OAI_WEATHER_TOOL])
    bad_arguments: ChatCompletionMessageParam = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '"{}"'}}
        ],
    }
    with pytest.raises(openai.BadRequestError) as arguments:
        oai.chat.completions.create(model="llama3.1", messages=[*OAI_USER, bad_arguments])

    assert error_message(empty.value) == "[] is too short - 'messages'"
    assert error_message(no_tools.value) == (
        "registry.ollama.ai/library/phi3:latest does not support tools"
    )
    assert error_message(arguments.value) == "invalid tool call arguments"
    assert double.pending_replies == 0


def test_openai_scripted_status_and_mid_stream_error(
    double: OllamaDouble, oai: openai.OpenAI
) -> None:
    double.enqueue(
        Reply(status=503, error="server busy"),
        Reply(content="a b c d", error_after=2, error="boom"),
    )

    with pytest.raises(openai.InternalServerError) as busy:
        oai.chat.completions.create(model="llama3.1", messages=OAI_USER)
    events = sse_events(double, {"model": "llama3.1", "messages": USER})

    assert busy.value.status_code == 503
    assert busy.value.body == {
        "message": "server busy",
        "type": "api_error",
        "param": None,
        "code": None,
    }
    assert [e["choices"][0]["delta"]["content"] for e in events[:2]] == ["a ", "b "]
    assert events[2:] == [
        {"error": {"message": "boom", "type": "api_error", "param": None, "code": None}}
    ]


def test_openai_sdk_raises_on_error_event_and_dropped_stream(
    double: OllamaDouble, oai: openai.OpenAI
) -> None:
    double.enqueue(Reply(content="a b c d", error_after=1), Reply(content="a b c d", drop_after=1))

    with pytest.raises(openai.APIError) as errored:
        list(oai.chat.completions.create(model="llama3.1", messages=OAI_USER, stream=True))
    with pytest.raises(openai.APIConnectionError):
        list(oai.chat.completions.create(model="llama3.1", messages=OAI_USER, stream=True))

    assert errored.value.message == RUNNER_STOPPED_ERROR
    assert oai.chat.completions.create(model="llama3.1", messages=OAI_USER).choices


def test_openai_bearer_key_is_recorded_and_optionally_required(double: OllamaDouble) -> None:
    with openai.OpenAI(base_url=double.openai_base_url, api_key="sk-a", max_retries=0) as sdk:
        sdk.chat.completions.create(model="llama3.1", messages=OAI_USER)
        assert double.last_recorded().headers["authorization"] == "Bearer sk-a"

        double.api_key = "sk-b"
        with pytest.raises(openai.AuthenticationError) as excinfo:
            sdk.chat.completions.create(model="llama3.1", messages=OAI_USER)
        with pytest.raises(openai.AuthenticationError):
            sdk.models.list()

    assert excinfo.value.code == "invalid_api_key"
    assert httpx.get(f"{double.host}/api/tags").status_code == 200  # native API stays open
    with openai.OpenAI(base_url=double.openai_base_url, api_key="sk-b", max_retries=0) as good:
        assert good.chat.completions.create(model="llama3.1", messages=OAI_USER).choices
    assert [r.path for r in double.requests].count("/v1/chat/completions") == 3


def test_openai_models_list_and_retrieve(double: OllamaDouble, oai: openai.OpenAI) -> None:
    double.add_model("user/mistral:7b")

    models = {m.id: m for m in oai.models.list()}
    llama = oai.models.retrieve("llama3.1")

    assert set(models) == {"llama3.1:latest", "phi3:latest", "qwen3:latest", "user/mistral:7b"}
    assert (models["user/mistral:7b"].owned_by, models["phi3:latest"].owned_by) == (
        "user",
        "library",
    )
    assert models["phi3:latest"].object == "model"
    assert isinstance(models["phi3:latest"].created, int)
    assert (llama.id, llama.owned_by) == ("llama3.1", "library")
    with pytest.raises(openai.NotFoundError) as excinfo:
        oai.models.retrieve("missing")
    assert error_message(excinfo.value) == "model 'missing' not found"


def test_openai_models_of_empty_catalogue_is_null_like_ollama() -> None:
    with OllamaDouble(include_default_models=False) as empty:
        payload = httpx.get(f"{empty.openai_base_url}/models").json()

    assert payload == {"object": "list", "data": None}


def test_openai_requests_are_recorded_as_sent_and_echoed(
    double: OllamaDouble, oai: openai.OpenAI
) -> None:
    seen: list[dict[str, Any]] = []

    def responder(body: dict[str, Any]) -> str:
        seen.append(body)
        return f"{body['model']} at {body.get('temperature')}"

    parts: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": [{"type": "text", "text": "Parts work."}]}
    ]
    echoed = oai.chat.completions.create(model="llama3.1", messages=parts)
    double.responder = responder
    answered = oai.chat.completions.create(model="llama3.1", messages=OAI_USER, temperature=0.3)

    assert echoed.choices[0].message.content == "Echo: Parts work."
    assert answered.choices[0].message.content == "llama3.1 at 0.3"
    assert seen == [double.last_request("/v1/chat/completions")]
    assert seen[0]["messages"] == USER
    assert seen[0]["temperature"] == 0.3
    assert httpx.get(f"{double.openai_base_url}/nope").status_code == 404
