"""What every provider gives the engine: a chat stream of chunks, and one error type."""

import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit


class ProviderError(Exception):
    """A provider failed. ``permanent`` errors (model missing, bad request) are not retried."""

    def __init__(self, message: str, *, permanent: bool = False, code: str = "server_error"):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code


@dataclass
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    context_length: int | None = None
    response_format: Any = "auto"
    think: bool = False


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] | str


@dataclass
class Chunk:
    content: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    done: bool = False
    done_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class ModelInfo:
    name: str
    # The context window a run of it gets (Ollama: the num_ctx every chat asks for); the
    # model's own maximum, as its server reports it, may be larger.
    context_length: int | None = None
    max_context_length: int | None = None
    capabilities: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    size: int | None = None
    modified_at: str | None = None


class ChatStream(Protocol):
    # Set once the request is on the wire (the model is working) while the stream is read.
    sent: threading.Event

    def __iter__(self) -> Iterator[Chunk]: ...

    def close(self) -> None:
        """Stop the stream; safe to call from another thread while it is being read."""


class Provider(Protocol):
    name: str

    def chat(self, request: ChatRequest) -> ChatStream: ...

    def model_info(self, model: str) -> ModelInfo: ...

    def list_models(self) -> list[ModelInfo]: ...


_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One SSL context for every provider client of the process. httpx builds one per client
    (reading the CA bundle, about 20 ms), which showed in every run's time to first token."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    return _ssl_context


def when_sent(callback: Callable[[], None]) -> dict[str, list[Callable[[Any], None]]]:
    """httpx event hooks that call ``callback`` once a request's body is written (httpcore's
    trace), before any answer: the reader of a stream tells its waiting thread it may go on."""

    def trace(name: str, info: dict[str, Any]) -> None:
        if name == "http11.send_request_body.complete":
            callback()

    def on_request(request: Any) -> None:
        request.extensions["trace"] = trace

    return {"request": [on_request]}


def public_url(url: str) -> str:
    """The URL without any ``user:password@`` in it, for pages and errors anyone may read."""
    parts = urlsplit(url)
    if not parts.username and not parts.password:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
