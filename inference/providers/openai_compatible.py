"""Any server speaking OpenAI's ``/chat/completions`` (vLLM, llama.cpp, LM Studio, a hosted API).

A model written ``ENDPOINT/MODEL`` goes to the endpoint of that name in
``INFERENCE_ENDPOINTS``; this is the original library's ``inference_type="cloud"``.
"""

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
from django.conf import settings

from .base import (
    ChatRequest,
    Chunk,
    ModelInfo,
    ProviderError,
    ToolCall,
    shared_ssl_context,
    when_sent,
)


def _body(request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": request.messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        body["tools"] = request.tools
    for name, value in (
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("max_tokens", request.max_tokens),
    ):
        if value is not None:
            body[name] = value
    if isinstance(request.response_format, dict) and request.response_format.get("type") != "text":
        body["response_format"] = request.response_format
    return body


def _openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ollama-shaped history (object arguments, ``tool_name``) to OpenAI's (string arguments,
    each tool result naming the id of the call it answers)."""
    out: list[dict[str, Any]] = []
    unanswered: list[tuple[str, str]] = []  # (call id, function name), oldest first
    for message in messages:
        message = dict(message)
        if message.get("tool_calls"):
            calls: list[dict[str, Any]] = []
            for call in message["tool_calls"]:
                call_id = call.get("id") or f"call_{len(out)}_{len(calls)}"
                arguments = call["function"]["arguments"]
                calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": call["function"]["name"],
                            "arguments": arguments
                            if isinstance(arguments, str)
                            else json.dumps(arguments),
                        },
                    }
                )
                unanswered.append((call_id, call["function"]["name"]))
            message["tool_calls"] = calls
        if message.get("role") == "tool":
            name = message.pop("tool_name", None)
            call_id = message.get("tool_call_id")
            if not call_id:
                match = next((c for c in unanswered if c[1] == name), None)
                call_id = (match or (unanswered[0] if unanswered else ("", "")))[0]
            unanswered = [c for c in unanswered if c[0] != call_id]
            message["tool_call_id"] = call_id
        out.append(message)
    return out


class OpenAICompatibleStream:
    def __init__(self, endpoint: "OpenAICompatibleProvider", request: ChatRequest) -> None:
        self.endpoint = endpoint
        self.request = request
        self.sent = threading.Event()
        self._client = endpoint.http_client(sent=self.sent)
        self._closed = False

    def __iter__(self) -> Iterator[Chunk]:
        body = _body(self.request)
        body["messages"] = _openai_messages(self.request.messages)
        calls: dict[int, dict[str, str]] = {}
        usage: dict[str, int] = {}
        finish: str | None = None
        ended = False
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self.endpoint.http_error(response, self.request.model)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        ended = True
                        break
                    event = json.loads(data)
                    if error := event.get("error"):
                        detail = error.get("message", error) if isinstance(error, dict) else error
                        raise ProviderError(f"The endpoint '{self.endpoint.name}' failed: {detail}")
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or []:
                        delta = choice.get("delta") or {}
                        finish = choice.get("finish_reason") or finish
                        for call in delta.get("tool_calls") or []:
                            slot = calls.setdefault(
                                call.get("index", 0), {"name": "", "arguments": ""}
                            )
                            function = call.get("function") or {}
                            slot["name"] += function.get("name") or ""
                            slot["arguments"] += function.get("arguments") or ""
                        thinking = delta.get("reasoning_content") or delta.get("reasoning") or ""
                        if delta.get("content") or thinking:
                            yield Chunk(content=delta.get("content") or "", thinking=thinking)
        except ProviderError:
            raise
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ProviderError(
                f"The endpoint '{self.endpoint.name}' at {self.endpoint.base_url} is not "
                f"reachable ({exc})."
            ) from exc
        except httpx.TimeoutException as exc:
            if self._closed:
                return
            # As Ollama's chat deadline: not tried again, the run would wait as long for nothing.
            raise ProviderError(
                f"The endpoint '{self.endpoint.name}' at {self.endpoint.base_url} did not "
                f"answer within {settings.OLLAMA_TIMEOUT_SECONDS:g}s (OLLAMA_TIMEOUT_SECONDS).",
                permanent=True,
            ) from exc
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            if self._closed:
                return
            raise ProviderError(
                f"The stream from '{self.endpoint.name}' broke off ({exc})."
            ) from exc
        if self._closed:
            return
        if not ended and finish is None:
            # Ollama's /v1 ends a failed generation this way: the answer is cut, not complete.
            raise ProviderError(f"The stream from '{self.endpoint.name}' ended without finishing.")
        yield Chunk(
            tool_calls=[ToolCall(name=c["name"], arguments=c["arguments"]) for c in calls.values()],
            done=True,
            done_reason="length" if finish == "length" else "stop",
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    def close(self) -> None:
        self._closed = True
        self._client.close()


class OpenAICompatibleProvider:
    name = "openai-compatible"

    def __init__(self, name: str, base_url: str, api_key: str = "", **_: Any) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def http_client(self, *, sent: threading.Event | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=settings.OLLAMA_TIMEOUT_SECONDS,
            verify=shared_ssl_context(),
            event_hooks=when_sent(sent.set) if sent is not None else None,
        )

    def http_error(self, response: httpx.Response, model: str) -> ProviderError:
        try:
            detail = response.json().get("error", response.text)
            if isinstance(detail, dict):
                detail = detail.get("message", detail)
        except ValueError:
            detail = response.text
        status = response.status_code
        permanent = 400 <= status < 500 and status != 429
        code = "rate_limit_exceeded" if status == 429 else "invalid_prompt" if permanent else None
        return ProviderError(
            f"The endpoint '{self.name}' answered {status} for model '{model}': {detail}",
            permanent=permanent,
            code=code or "server_error",
        )

    def chat(self, request: ChatRequest) -> OpenAICompatibleStream:
        return OpenAICompatibleStream(self, request)

    def model_info(self, model: str) -> ModelInfo:
        return ModelInfo(name=model, capabilities=("completion", "tools"))

    def list_models(self) -> list[ModelInfo]:
        try:
            with self.http_client() as client:
                response = client.get("/models")
        except httpx.HTTPError as exc:
            raise ProviderError(f"The endpoint '{self.name}' is not reachable ({exc}).") from exc
        if response.status_code >= 400:
            raise self.http_error(response, "*")
        # Ollama's /v1/models answers "data": null when nothing is pulled.
        models = response.json().get("data") or []
        return [ModelInfo(name=f"{self.name}/{m['id']}") for m in models]
