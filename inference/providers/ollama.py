"""Ollama through its official client: streaming chat, model details, the catalogue.

Every call has one deadline per phase (``config/settings.py``, docs/runs.md): a connection
within ``OLLAMA_PROBE_TIMEOUT_SECONDS``; a model lookup's answer within
``OLLAMA_LOOKUP_TIMEOUT_SECONDS``; a chat's first byte (Ollama sends its headers with the
first token) within ``OLLAMA_TIMEOUT_SECONDS``, then each next line within
``OLLAMA_CHUNK_TIMEOUT_SECONDS``. A deadline passed fails the call with the host and the phase
named, and is not tried again (permanent): the run would wait as long again for nothing.
"""

import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import replace
from typing import Any

import httpx
import ollama
from django.conf import settings

from .base import (
    ChatRequest,
    Chunk,
    ModelInfo,
    ProviderError,
    ToolCall,
    public_url,
    shared_ssl_context,
    when_sent,
)

# /api/show answers change only when a model is pulled again; a short cache saves a round trip.
_SHOW_TTL_SECONDS = 60.0
_show_cache: dict[tuple[str, str], tuple[float, ModelInfo]] = {}
_show_lock = threading.Lock()

# The context window asked of Ollama (num_ctx) when OLLAMA_NUM_CTX is unset: the model's own,
# capped so a long-context model does not claim its whole window's memory. Room for a tool's
# largest output (tools.calls.MAX_OUTPUT_BYTES, about 16k tokens) with the conversation.
DEFAULT_NUM_CTX = 32768


class HostUnreachable(ProviderError):
    """The host refused the connection: nothing was sent or read, so another may be tried."""


# Given the host that would not take a connection, why, and the hosts tried so far: another
# host to try, or None. The routing (``inference.hosts``) sets one when there is a choice.
Reroute = Callable[[str, str, Collection[str]], str | None]
# Given a host that stopped answering mid-stream and why: take it out of the routing.
MarkDown = Callable[[str, str], None]


def _deadlines(read: float) -> httpx.Timeout:
    return httpx.Timeout(read, connect=min(read, settings.OLLAMA_PROBE_TIMEOUT_SECONDS))


def new_client(host: str, timeout: float | None = None) -> ollama.Client:
    """An ollama client for one call that is not a chat.

    ``timeout`` (``OLLAMA_LOOKUP_TIMEOUT_SECONDS`` unless given) bounds each wait for a byte; a
    connection must be taken within ``OLLAMA_PROBE_TIMEOUT_SECONDS``, so a host that is gone
    is found out (and another one tried) at once.
    """
    read = timeout if timeout is not None else settings.OLLAMA_LOOKUP_TIMEOUT_SECONDS
    return ollama.Client(host=host, timeout=_deadlines(read), verify=shared_ssl_context())


def _streaming_hooks() -> dict[str, list[Callable[[Any], None]]]:
    """httpx event hooks of a streaming client: they tell the stream being written (in this
    thread) that its request is out, and give each request the chat's deadlines as the
    settings have them now: the first byte's, then, once the headers (the first token) are
    in, the next line's (httpcore takes a body's read timeout from the request when it
    begins reading it, after the response hooks)."""
    sent = when_sent(_request_written)

    def on_request(request: httpx.Request) -> None:
        request.extensions["timeout"] = _deadlines(settings.OLLAMA_TIMEOUT_SECONDS).as_dict()

    def on_response(response: httpx.Response) -> None:
        timeouts = response.request.extensions["timeout"]
        response.request.extensions["timeout"] = {
            **timeouts,
            "read": settings.OLLAMA_CHUNK_TIMEOUT_SECONDS,
        }
        stream: OllamaStream | None = getattr(_writing, "stream", None)
        if stream is not None:
            stream.answered = True

    return {"request": [*sent["request"], on_request], "response": [on_response]}


# Streaming clients kept between streams, per thread that makes streams (a worker's engine):
# a new client and connection were ~1.5 ms of every answer's time to first token. A closed
# stream closes its client (the way to end a read blocked in a socket) and drops it here.
_kept = threading.local()
# The stream whose request the current (reading) thread is writing, for its hooks.
_writing = threading.local()


def _request_written() -> None:
    stream: OllamaStream | None = getattr(_writing, "stream", None)
    if stream is not None:
        stream.sent.set()


def _streaming_clients() -> dict[str, ollama.Client]:
    clients: dict[str, ollama.Client] = _kept.__dict__.setdefault("clients", {})
    return clients


def _streaming_client(clients: dict[str, ollama.Client], host: str) -> ollama.Client:
    client = clients.get(host)
    if client is None:
        client = clients[host] = ollama.Client(
            host=host,
            timeout=_deadlines(settings.OLLAMA_TIMEOUT_SECONDS),
            verify=shared_ssl_context(),
            event_hooks=_streaming_hooks(),
        )
    return client


def num_ctx(model_context_length: int | None) -> int | None:
    """The context window a run of a model gets: ``OLLAMA_NUM_CTX``, else the model's own
    capped at ``DEFAULT_NUM_CTX``. The prompt is cut to it, and every chat of the model sends
    it as ``num_ctx``, so Ollama does not cut the prompt at a window of its own choosing."""
    if settings.OLLAMA_NUM_CTX:
        return int(settings.OLLAMA_NUM_CTX)
    return min(model_context_length, DEFAULT_NUM_CTX) if model_context_length else None


def _connect_error(host: str, exc: Exception) -> HostUnreachable:
    return HostUnreachable(
        f"Ollama is not reachable at {public_url(host)} ({exc.__class__.__name__}: {exc}). "
        "Check that it is running and that OLLAMA_HOST points at it.",
        permanent=False,
    )


def _response_error(host: str, model: str, exc: ollama.ResponseError) -> ProviderError:
    if exc.status_code == 404:
        return ProviderError(
            f"model '{model}' is not available on {public_url(host)} — run \"ollama pull {model}\"",
            permanent=True,
            code="invalid_prompt",
        )
    if exc.status_code == -1:  # an {"error"} line in the middle of the stream
        return ProviderError(f"Ollama stopped mid-answer: {exc.error}", permanent=False)
    permanent = 400 <= exc.status_code < 500
    return ProviderError(
        f"Ollama at {public_url(host)} answered {exc.status_code}: {exc.error}",
        permanent=permanent,
    )


def _options(request: ChatRequest, window: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.top_p is not None:
        options["top_p"] = request.top_p
    if request.max_tokens is not None:
        options["num_predict"] = request.max_tokens
    if request.context_length is not None:
        window = request.context_length
    if window is not None:
        options["num_ctx"] = window
    return options


def _format(response_format: Any) -> Any:
    if isinstance(response_format, dict):
        if response_format.get("type") == "json_object":
            return "json"
        if response_format.get("type") == "json_schema":
            return response_format.get("json_schema", {}).get("schema") or "json"
    return None


class OllamaStream:
    def __init__(self, provider: "OllamaProvider", request: ChatRequest) -> None:
        self.provider = provider
        self.host = provider.host
        self.request = request
        self.sent = threading.Event()
        self.answered = False  # Ollama's headers (with its first token) came
        # The making thread's kept clients: the stream is read, and may be closed, elsewhere.
        self._clients = _streaming_clients()
        self._client = _streaming_client(self._clients, self.host)
        self._closed = False

    def __iter__(self) -> Iterator[Chunk]:
        while True:
            try:
                yield from self._read()
                return
            except HostUnreachable as exc:
                if self._closed or not self.provider.failover(exc):
                    raise
                self._connect(self.provider.host)

    def _drop(self, client: ollama.Client) -> None:
        # A cancel (the watch's thread) and a failover (the reader's) may drop it at once.
        if self._clients.get(self.host) is client:
            self._clients.pop(self.host, None)
        client.close()

    def _connect(self, host: str) -> None:
        self._drop(self._client)
        self.host = host
        self._client = _streaming_client(self._clients, host)
        if self._closed:  # closed while we switched: close the new client too
            self._drop(self._client)

    def _read(self) -> Iterator[Chunk]:
        request = self.request
        _writing.stream = self
        try:
            stream = self._client.chat(
                model=request.model,
                messages=request.messages,
                tools=request.tools or None,
                stream=True,
                think=True if request.think else None,
                format=_format(request.response_format),
                options=_options(request, self.provider.windows.get(request.model)) or None,
                keep_alive=settings.OLLAMA_KEEP_ALIVE,
            )
            for part in stream:
                message = part.message
                calls = [
                    ToolCall(name=c.function.name, arguments=dict(c.function.arguments or {}))
                    for c in message.tool_calls or []
                ]
                yield Chunk(
                    content=message.content or "",
                    thinking=message.thinking or "",
                    tool_calls=calls,
                    done=bool(part.done),
                    done_reason=part.done_reason,
                    prompt_tokens=part.prompt_eval_count,
                    completion_tokens=part.eval_count,
                )
        except ollama.ResponseError as exc:
            raise _response_error(self.host, request.model, exc) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout, ConnectionError) as exc:
            if self._closed:
                return
            raise _connect_error(self.host, exc) from exc
        except httpx.TimeoutException as exc:
            if self._closed:
                return
            # Slow is not down (a cold load, a long prompt): the host stays in routing.
            raise self._deadline_passed() from exc
        except (httpx.HTTPError, RuntimeError) as exc:
            if self._closed:  # we closed it ourselves, to cancel the run
                return
            error = ProviderError(
                f"The connection to Ollama at {public_url(self.host)} dropped mid-answer ({exc}).",
            )
            self.provider.host_failed(self.host, error)
            raise error from exc

    def _deadline_passed(self) -> ProviderError:
        if self.answered:
            name, what = "OLLAMA_CHUNK_TIMEOUT_SECONDS", "stopped sending mid-answer: nothing for"
        else:
            name, what = "OLLAMA_TIMEOUT_SECONDS", "did not begin its answer (/api/chat) within"
        wait = getattr(settings, name)
        return ProviderError(
            f"Ollama at {public_url(self.host)} {what} {wait:g}s ({name}).", permanent=True
        )

    def close(self) -> None:
        self._closed = True
        self._drop(self._client)


class OllamaProvider:
    """One Ollama host; with ``reroute``, a request the host refuses moves to another host,
    and with ``mark_down``, a host that stops answering mid-stream is taken out."""

    name = "ollama"

    def __init__(
        self,
        host: str | None = None,
        *,
        reroute: Reroute | None = None,
        mark_down: MarkDown | None = None,
    ) -> None:
        self.host = host or settings.OLLAMA_HOST
        self._reroute = reroute
        self._mark_down = mark_down
        self._tried = [self.host]
        # The num_ctx of each model looked up (``model_info``), sent with its chats.
        self.windows: dict[str, int | None] = {}

    def host_failed(self, host: str, error: ProviderError) -> None:
        """``host`` stopped answering mid-stream: the run fails, later ones go elsewhere."""
        if self._mark_down is not None:
            self._mark_down(host, error.message)

    def failover(self, error: HostUnreachable) -> bool:
        """Move to another host after ``error``; False when there is none to move to."""
        if self._reroute is None:
            return False
        host = self._reroute(self.host, error.message, tuple(self._tried))
        if host is None or host in self._tried:
            return False
        self.host = host
        self._tried.append(host)
        return True

    def _client(self) -> ollama.Client:
        return new_client(self.host)

    def chat(self, request: ChatRequest) -> OllamaStream:
        return OllamaStream(self, request)

    def model_info(self, model: str) -> ModelInfo:
        while True:
            try:
                info = self._model_info(model)
            except HostUnreachable as exc:
                if not self.failover(exc):
                    raise
            else:
                info = replace(info, context_length=num_ctx(info.max_context_length))
                self.windows[model] = info.context_length
                return info

    def _model_info(self, model: str) -> ModelInfo:
        key = (self.host, model)
        with _show_lock:
            cached = _show_cache.get(key)
        if cached and time.monotonic() - cached[0] < _SHOW_TTL_SECONDS:
            return cached[1]
        try:
            with self._client() as client:
                shown = client.show(model)
        except ollama.ResponseError as exc:
            raise _response_error(self.host, model, exc) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout, ConnectionError) as exc:
            raise _connect_error(self.host, exc) from exc
        except httpx.TimeoutException as exc:
            # Nothing was asked of the model yet: like a refused connection, another host
            # may be tried, and this one is taken out of routing until it answers again.
            raise HostUnreachable(
                f"Ollama at {public_url(self.host)} did not answer the model lookup "
                f"(/api/show of '{model}') within {settings.OLLAMA_LOOKUP_TIMEOUT_SECONDS:g}s "
                "(OLLAMA_LOOKUP_TIMEOUT_SECONDS).",
                permanent=False,
            ) from exc
        except httpx.HTTPError as exc:
            raise _connect_error(self.host, exc) from exc
        model_info = dict(shown.modelinfo or {})
        context = next((v for k, v in model_info.items() if k.endswith(".context_length")), None)
        info = ModelInfo(
            name=model,
            max_context_length=int(context) if context else None,
            capabilities=tuple(shown.capabilities or ()),
            details=shown.details.model_dump() if shown.details else {},
            modified_at=str(shown.modified_at) if shown.modified_at else None,
        )
        with _show_lock:
            _show_cache[key] = (time.monotonic(), info)
        return info

    def list_models(self) -> list[ModelInfo]:
        try:
            with self._client() as client:
                listed = client.list()
        except ollama.ResponseError as exc:
            raise ProviderError(
                f"Ollama at {public_url(self.host)} answered {exc.status_code}: {exc.error}"
            ) from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise _connect_error(self.host, exc) from exc
        return [
            ModelInfo(
                name=m.model or "",
                details=m.details.model_dump() if m.details else {},
                size=m.size,
                modified_at=str(m.modified_at) if m.modified_at else None,
            )
            for m in listed.models
        ]
