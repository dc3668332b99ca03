"""The providers, driven over loopback against the Ollama double.

The double serves both Ollama's native API (for ``OllamaProvider``) and its OpenAI-compatible
``/v1`` endpoints (for ``OpenAICompatibleProvider``), so both providers are tested against the
wire format they meet in production. Only settings are needed from Django, never the database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from inference.engine import execute_run
from inference.prompt import estimate_tokens
from inference.providers import ChatRequest, ChatStream, Chunk, ProviderError, ToolCall, resolve
from inference.providers.ollama import DEFAULT_NUM_CTX, OllamaProvider
from inference.providers.openai_compatible import OpenAICompatibleProvider
from inference.testing.ollama_double import OllamaDouble, Reply

from .conftest import say

USER: list[dict[str, Any]] = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER_TOOL: dict[str, Any] = {
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
CHAT_PATH = "/v1/chat/completions"


@pytest.fixture
def double() -> Iterator[OllamaDouble]:
    with OllamaDouble() as running:
        yield running


@pytest.fixture
def endpoints(double: OllamaDouble) -> Iterator[OllamaDouble]:
    """Ollama at the double, and the endpoint ``local`` at the double's ``/v1``."""
    local = {"base_url": double.openai_base_url, "api_key": "sk-local"}
    with override_settings(
        OLLAMA_HOST=double.host,
        OLLAMA_TIMEOUT_SECONDS=10.0,
        INFERENCE_ENDPOINTS={"local": local},
    ):
        yield double


@pytest.fixture
def local(endpoints: OllamaDouble) -> OpenAICompatibleProvider:
    provider, model = resolve("local/llama3.1")
    assert isinstance(provider, OpenAICompatibleProvider) and model == "llama3.1"
    return provider


@pytest.fixture
def dead_url() -> str:
    """The address of a server that has stopped: connections to it are refused."""
    with OllamaDouble() as gone:
        host = gone.host
    return host


def chat(provider: Any, model: str = "llama3.1", **fields: Any) -> list[Chunk]:
    fields.setdefault("messages", USER)
    return list(provider.chat(ChatRequest(model=model, **fields)))


# ---------------------------------------------------------------------- the registry


def test_a_plain_model_name_goes_to_ollama(endpoints: OllamaDouble) -> None:
    provider, model = resolve("llama3.1")

    assert isinstance(provider, OllamaProvider)
    assert (provider.name, provider.host, model) == ("ollama", endpoints.host, "llama3.1")


def test_endpoint_slash_model_goes_to_that_endpoint(endpoints: OllamaDouble) -> None:
    provider, model = resolve("local/llama3.1:latest")

    assert isinstance(provider, OpenAICompatibleProvider)
    assert (provider.name, model) == ("local", "llama3.1:latest")
    assert provider.base_url == endpoints.openai_base_url
    assert provider.api_key == "sk-local"


@pytest.mark.parametrize("name", ["hf.co/x/y", "user/model:7b", "local", "LOCAL/llama3.1"])
def test_names_without_a_configured_prefix_stay_with_ollama(
    endpoints: OllamaDouble, name: str
) -> None:
    provider, model = resolve(name)

    assert isinstance(provider, OllamaProvider)
    assert model == name


def test_an_endpoint_may_name_its_provider_type(double: OllamaDouble) -> None:
    configured = {"provider": "openai-compatible", "base_url": double.openai_base_url}
    with override_settings(INFERENCE_ENDPOINTS={"vllm": configured}):
        provider, model = resolve("vllm/org/model")

    assert isinstance(provider, OpenAICompatibleProvider)
    assert (provider.name, provider.api_key, model) == ("vllm", "", "org/model")


# ---------------------------------------------------------------------- OpenAI-compatible


def test_openai_compatible_streams_content_then_a_done_chunk_with_usage(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    endpoints.enqueue(Reply(content="The sky is blue.", prompt_eval_count=12, eval_count=4))

    *tokens, done = chat(local)

    assert [c.content for c in tokens] == ["The ", "sky ", "is ", "blue."]
    assert not any(c.done or c.tool_calls for c in tokens)
    assert (done.done, done.done_reason, done.content) == (True, "stop", "")
    assert (done.prompt_tokens, done.completion_tokens) == (12, 4)
    assert done.tool_calls == []


def test_openai_compatible_request_body(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}

    chat(local, temperature=0.2, top_p=0.9, max_tokens=50, response_format=schema)
    chat(local, response_format={"type": "text"})

    first, second = endpoints.requests_to(CHAT_PATH)
    assert first["model"] == "llama3.1"
    assert first["messages"] == USER
    assert first["stream"] is True
    assert first["stream_options"] == {"include_usage": True}
    assert (first["temperature"], first["top_p"], first["max_tokens"]) == (0.2, 0.9, 50)
    assert first["response_format"] == schema
    assert "tools" not in first
    assert not {"temperature", "top_p", "max_tokens", "response_format"} & set(second)


def test_openai_compatible_passes_reasoning_as_thinking(
    double: OllamaDouble, endpoints: OllamaDouble
) -> None:
    provider, model = resolve("local/qwen3")
    endpoints.enqueue(Reply(thinking="Paris is in France.", content="Sunny."))

    chunks = chat(provider, model)

    assert "".join(c.thinking for c in chunks) == "Paris is in France."
    assert "".join(c.content for c in chunks) == "Sunny."


def test_openai_compatible_reports_length_when_max_tokens_truncates(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    endpoints.enqueue(Reply(content="one two three four five"))

    *tokens, done = chat(local, max_tokens=2)

    assert "".join(c.content for c in tokens) == "one two "
    assert (done.done_reason, done.completion_tokens) == ("length", 2)


def test_openai_compatible_assembles_tool_calls(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    endpoints.enqueue(
        Reply(
            content="Checking.",
            tool_calls=[
                {"name": "get_weather", "arguments": {"city": "Paris"}},
                {"name": "get_weather", "arguments": {"city": "Oslo"}},
            ],
        )
    )

    chunks = chat(local, tools=[WEATHER_TOOL])

    assert "".join(c.content for c in chunks) == "Checking."
    done = chunks[-1]
    assert done.done and done.done_reason == "stop"
    assert done.tool_calls == [
        ToolCall(name="get_weather", arguments='{"city":"Paris"}'),
        ToolCall(name="get_weather", arguments='{"city":"Oslo"}'),
    ]
    assert all(isinstance(json.loads(str(c.arguments)), dict) for c in done.tool_calls)
    assert endpoints.last_request(CHAT_PATH)["tools"] == [WEATHER_TOOL]


def test_openai_compatible_sends_object_tool_arguments_as_json(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    call = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    history = [*USER, {"role": "assistant", "content": "", "tool_calls": [call]}]

    chat(local, messages=history, tools=[WEATHER_TOOL])

    [sent] = endpoints.last_request(CHAT_PATH)["messages"][1]["tool_calls"]
    assert sent["type"] == "function" and sent["id"]
    assert sent["function"]["name"] == "get_weather"
    assert json.loads(sent["function"]["arguments"]) == {"city": "Paris"}


def test_openai_compatible_sends_string_tool_arguments_unchanged(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    call = {"function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    history = [*USER, {"role": "assistant", "content": "", "tool_calls": [call]}]

    chat(local, messages=history, tools=[WEATHER_TOOL])  # the double answers 400 like Ollama

    [sent] = endpoints.last_request(CHAT_PATH)["messages"][1]["tool_calls"]
    assert sent["function"]["arguments"] == '{"city":"Paris"}'


def test_openai_compatible_links_tool_results_to_their_calls(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    call = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    history = [
        *USER,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "Sunny, 21 C", "tool_name": "get_weather"},
    ]

    chat(local, messages=history, tools=[WEATHER_TOOL])

    _, assistant, tool = endpoints.last_request(CHAT_PATH)["messages"]
    assert tool["tool_call_id"] == assistant["tool_calls"][0]["id"]


def test_openai_compatible_sends_the_api_key_as_bearer(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    endpoints.api_key = "sk-local"  # the double now refuses any other key

    chat(local)
    models = local.list_models()

    assert models
    for recorded in endpoints.requests:
        assert recorded.headers["authorization"] == "Bearer sk-local"


def test_openai_compatible_without_api_key_sends_no_authorization(double: OllamaDouble) -> None:
    provider = OpenAICompatibleProvider(name="open", base_url=double.openai_base_url)
    with override_settings(OLLAMA_TIMEOUT_SECONDS=10.0):
        chat(provider)

    assert "authorization" not in double.last_recorded(CHAT_PATH).headers


def test_openai_compatible_wrong_api_key_is_permanent(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    endpoints.api_key = "sk-other"

    with pytest.raises(ProviderError) as excinfo:
        chat(local)

    assert excinfo.value.permanent is True
    assert "'local' answered 401" in excinfo.value.message


def test_openai_compatible_missing_model_is_permanent_and_names_the_endpoint(
    endpoints: OllamaDouble,
) -> None:
    provider, model = resolve("local/no-such-model")

    with pytest.raises(ProviderError) as excinfo:
        chat(provider, model)

    error = excinfo.value
    assert error.permanent is True
    assert "'local'" in error.message and "404" in error.message
    assert "no-such-model" in error.message
    assert 'model "no-such-model" not found' in error.message


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (429, False), (503, False)])
def test_openai_compatible_http_errors(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble, status: int, permanent: bool
) -> None:
    endpoints.enqueue(Reply(status=status, error="nope"))

    with pytest.raises(ProviderError) as excinfo:
        chat(local)

    assert excinfo.value.permanent is permanent
    assert f"answered {status}" in excinfo.value.message and "nope" in excinfo.value.message


def test_openai_compatible_unreachable_endpoint_is_transient(dead_url: str) -> None:
    provider = OpenAICompatibleProvider(name="gone", base_url=f"{dead_url}/v1", api_key="k")

    with override_settings(OLLAMA_TIMEOUT_SECONDS=5.0):
        with pytest.raises(ProviderError) as chatting:
            chat(provider)
        with pytest.raises(ProviderError) as listing:
            provider.list_models()

    assert chatting.value.permanent is False
    assert "'gone'" in chatting.value.message and "not reachable" in chatting.value.message
    assert listing.value.permanent is False


def test_openai_compatible_error_mid_stream_is_transient(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    endpoints.enqueue(Reply(content="a b c d", error_after=2, error="runner crashed"))

    received: list[str] = []
    with pytest.raises(ProviderError) as excinfo:
        for chunk in local.chat(ChatRequest(model="llama3.1", messages=USER)):
            received.append(chunk.content)

    assert received == ["a ", "b "]
    assert excinfo.value.permanent is False
    assert "runner crashed" in excinfo.value.message


def test_openai_compatible_dropped_stream_is_transient(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    endpoints.enqueue(Reply(content="a b c d", drop_after=1))

    with pytest.raises(ProviderError) as excinfo:
        chat(local)

    assert excinfo.value.permanent is False
    assert "broke off" in excinfo.value.message


def test_openai_compatible_lists_models_with_the_endpoint_prefix(
    local: OpenAICompatibleProvider, endpoints: OllamaDouble
) -> None:
    names = sorted(m.name for m in local.list_models())

    assert names == ["local/llama3.1:latest", "local/phi3:latest", "local/qwen3:latest"]
    assert endpoints.last_recorded().path == "/v1/models"


def test_openai_compatible_lists_no_models_of_an_empty_server() -> None:
    with OllamaDouble(include_default_models=False) as empty:
        provider = OpenAICompatibleProvider(name="empty", base_url=empty.openai_base_url)
        with override_settings(OLLAMA_TIMEOUT_SECONDS=5.0):
            assert provider.list_models() == []


def test_openai_compatible_model_info_is_generic(local: OpenAICompatibleProvider) -> None:
    info = local.model_info("llama3.1")

    assert (info.name, info.context_length) == ("llama3.1", None)
    assert "completion" in info.capabilities


# ---------------------------------------------------------------------- Ollama


def test_ollama_streams_content_then_a_done_chunk(endpoints: OllamaDouble) -> None:
    provider, model = resolve("llama3.1")
    endpoints.enqueue(Reply(content="Hello there.", prompt_eval_count=9, eval_count=2))

    *tokens, done = chat(provider, model, max_tokens=10, temperature=0.5)

    assert [c.content for c in tokens] == ["Hello ", "there."]
    assert (done.done, done.done_reason) == (True, "stop")
    assert (done.prompt_tokens, done.completion_tokens) == (9, 2)
    options = endpoints.last_request("/api/chat")["options"]
    assert (options["num_predict"], options["temperature"]) == (10, 0.5)


def test_ollama_model_info_comes_from_show(endpoints: OllamaDouble) -> None:
    endpoints.add_model(
        "tiny:1b", family="gemma3", context_length=2048, capabilities=["completion"]
    )
    provider = OllamaProvider()

    qwen = provider.model_info("qwen3")
    tiny = provider.model_info("tiny:1b")

    assert (qwen.name, qwen.max_context_length) == ("qwen3", 40960)
    assert qwen.context_length == DEFAULT_NUM_CTX  # the window its runs get
    assert qwen.capabilities == ("completion", "tools", "thinking")
    assert qwen.details["family"] == "qwen3"
    assert qwen.modified_at
    assert (tiny.context_length, tiny.capabilities) == (2048, ("completion",))
    assert tiny.max_context_length == 2048
    with pytest.raises(ProviderError) as excinfo:
        provider.model_info("missing")
    assert excinfo.value.permanent is True
    assert 'ollama pull missing"' in excinfo.value.message


@pytest.mark.parametrize(
    ("model", "num_ctx_setting", "window"),
    [
        ("tiny:1b", None, 2048),  # the model's own window, smaller than the default
        ("llama3.1", None, DEFAULT_NUM_CTX),  # 131072 reported: capped, not left to Ollama
        ("llama3.1", 16384, 16384),  # the operator's choice
    ],
)
def test_a_run_asks_ollama_for_the_context_window_it_was_given(
    ollama: OllamaDouble,
    make_run: Any,
    assistant: Any,
    model: str,
    num_ctx_setting: int | None,
    window: int,
) -> None:
    ollama.add_model("tiny:1b", context_length=2048)
    assistant.model = model
    assistant.save()
    ollama.enqueue(Reply(content="Fine."))

    with override_settings(OLLAMA_NUM_CTX=num_ctx_setting):
        execute_run(make_run("hello").id)

    assert ollama.last_request("/api/chat")["options"]["num_ctx"] == window


def test_a_long_thread_is_cut_to_the_window_ollama_is_asked_for(
    ollama: OllamaDouble, make_run: Any, thread: Any, alice: Any
) -> None:
    # llama3.1 reports 131072 tokens: the prompt must fit what is asked for, not that.
    for i in range(60):
        say(thread, alice, f"old {i} " + "w" * 2400)
    ollama.enqueue(Reply(content="Fine."))

    execute_run(make_run("the newest question").id)

    sent = ollama.last_request("/api/chat")
    assert sent["messages"][-1]["content"] == "the newest question"
    assert 1 < len(sent["messages"]) < 61
    window = sent["options"]["num_ctx"]
    assert sum(estimate_tokens(m["content"]) for m in sent["messages"]) <= window


def test_ollama_lists_its_catalogue(endpoints: OllamaDouble) -> None:
    models = {m.name: m for m in OllamaProvider().list_models()}

    assert set(models) == {"llama3.1:latest", "phi3:latest", "qwen3:latest"}
    assert models["phi3:latest"].size == 2_176_178_913
    assert models["phi3:latest"].details["family"] == "phi3"


def test_ollama_missing_model_is_permanent(endpoints: OllamaDouble) -> None:
    with pytest.raises(ProviderError) as excinfo:
        chat(OllamaProvider(), "no-such-model")

    assert excinfo.value.permanent is True
    assert excinfo.value.code == "invalid_prompt"


def test_ollama_unreachable_is_transient(dead_url: str) -> None:
    provider = OllamaProvider(host=dead_url)

    with override_settings(OLLAMA_TIMEOUT_SECONDS=5.0):
        with pytest.raises(ProviderError) as chatting:
            chat(provider)
        with pytest.raises(ProviderError) as showing:
            provider.model_info("llama3.1")

    assert chatting.value.permanent is False and showing.value.permanent is False
    assert "not reachable" in chatting.value.message


# ---------------------------------------------------------------------- deadlines


@override_settings(OLLAMA_LOOKUP_TIMEOUT_SECONDS=1, OLLAMA_TIMEOUT_SECONDS=20)
def test_a_model_lookup_with_no_answer_fails_at_its_own_deadline(double: OllamaDouble) -> None:
    double.hang("/api/show")  # it takes the connection and never answers

    with pytest.raises(ProviderError) as looking_up:
        OllamaProvider(host=double.host).model_info("llama3.1")

    assert looking_up.value.message == (
        f"Ollama at {double.host} did not answer the model lookup (/api/show of 'llama3.1') "
        "within 1s (OLLAMA_LOOKUP_TIMEOUT_SECONDS)."
    )
    assert len(double.requests_to("/api/show")) == 1


@override_settings(OLLAMA_TIMEOUT_SECONDS=1, OLLAMA_CHUNK_TIMEOUT_SECONDS=20)
def test_a_chat_that_never_begins_fails_at_the_first_byte_deadline_for_good(
    double: OllamaDouble,
) -> None:
    double.hang("/api/chat")

    with pytest.raises(ProviderError) as chatting:
        chat(OllamaProvider(host=double.host))

    assert chatting.value.message == (
        f"Ollama at {double.host} did not begin its answer (/api/chat) within 1s "
        "(OLLAMA_TIMEOUT_SECONDS)."
    )
    assert chatting.value.permanent  # the deadline is not spent a second time
    assert len(double.requests_to("/api/chat")) == 1


@override_settings(OLLAMA_TIMEOUT_SECONDS=20, OLLAMA_CHUNK_TIMEOUT_SECONDS=1)
def test_the_first_token_has_the_first_byte_deadline_and_a_stall_after_it_the_chunk_deadline(
    double: OllamaDouble,
) -> None:
    # Each token 2 s after the one before: the first is in time (its deadline is 20 s), the
    # second is a stall mid-answer (1 s).
    double.enqueue(Reply(tokens=["slow ", "stall ", "never"], tokens_per_second=0.5))
    received: list[Chunk] = []

    with pytest.raises(ProviderError) as chatting:
        received.extend(OllamaProvider(host=double.host).chat(ChatRequest("llama3.1", USER)))

    assert [c.content for c in received] == ["slow "]
    assert chatting.value.message == (
        f"Ollama at {double.host} stopped sending mid-answer: nothing for 1s "
        "(OLLAMA_CHUNK_TIMEOUT_SECONDS)."
    )
    assert chatting.value.permanent


# ---------------------------------------------------------------------- cancel


@pytest.mark.parametrize("model", ["llama3.1", "local/llama3.1"])
def test_closing_a_stream_from_another_thread_ends_it_quietly(
    endpoints: OllamaDouble, model: str
) -> None:
    provider, name = resolve(model)
    endpoints.enqueue(Reply(content="word " * 200, tokens_per_second=100))
    stream: ChatStream = provider.chat(ChatRequest(model=name, messages=USER))
    first_chunk = threading.Event()

    def cancel() -> None:
        if first_chunk.wait(5):
            stream.close()

    canceller = threading.Thread(target=cancel)
    canceller.start()
    received: list[Chunk] = []
    for chunk in stream:  # must end, not raise, once closed
        received.append(chunk)
        first_chunk.set()
    canceller.join()

    assert 1 <= len(received) < 50
    assert not any(c.done for c in received)
    endpoints.wait_for_idle(timeout=2)
    assert endpoints.aborted_streams == 1  # the connection really was closed


# ---------------------------------------------------------------------- sent


@pytest.mark.parametrize("model", ["llama3.1", "local/llama3.1"])
def test_a_stream_tells_when_its_request_is_out_before_any_answer(
    endpoints: OllamaDouble, model: str
) -> None:
    # The engine claims the run while the model works; it waits for this, not the answer.
    provider, name = resolve(model)
    endpoints.enqueue(Reply(content="late", delay_before_first_token=2.0))
    stream: ChatStream = provider.chat(ChatRequest(model=name, messages=USER))
    received: list[Chunk] = []
    reader = threading.Thread(target=lambda: received.extend(stream))
    assert not stream.sent.is_set()  # nothing asked until the stream is read

    reader.start()

    assert stream.sent.wait(1.5)
    assert received == []  # the model has not answered yet
    reader.join(timeout=10)
    assert "".join(c.content for c in received) == "late"


def test_streams_made_by_one_thread_keep_their_connection_until_one_is_closed(
    endpoints: OllamaDouble,
) -> None:
    # A new client and connection for every answer cost ~1.5 ms of its time to first token.
    provider = OllamaProvider(host=endpoints.host)
    chat(provider)
    chat(provider)
    first, second = (r.client_port for r in endpoints.requests if r.path == "/api/chat")
    assert first == second  # the same kept-alive connection

    endpoints.enqueue(Reply(content="word " * 200, tokens_per_second=100))
    stream = provider.chat(ChatRequest(model="llama3.1", messages=USER))
    for _ in stream:
        stream.close()  # a cancel: the connection goes, and the kept client with it
    chat(provider)
    ports = [r.client_port for r in endpoints.requests if r.path == "/api/chat"]
    assert ports[2] == first and ports[3] != first
