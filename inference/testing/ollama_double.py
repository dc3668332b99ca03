"""An Ollama-protocol test double: a real HTTP server that speaks Ollama's REST API.

The double listens on a loopback port and answers the endpoints the official ``ollama``
Python client (0.6.x) uses, with the field names, status codes and error texts of a real
Ollama server, so code under test can be pointed at ``double.host`` unmodified::

    with OllamaDouble() as double:
        double.enqueue(Reply(content="Hello there!", tokens_per_second=50))
        client = ollama.Client(host=double.host)
        for chunk in client.chat(model="llama3.1", messages=[...], stream=True):
            ...

Implemented endpoints: ``GET|HEAD /``, ``GET|HEAD /api/version``, ``GET|HEAD /api/tags``,
``GET /api/ps``, ``POST /api/show``, ``POST /api/chat``, ``POST /api/generate``,
``POST /api/pull`` and ``DELETE /api/delete``; and Ollama's OpenAI-compatible layer,
``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /v1/models/{model}``, so the same
double serves ``openai.OpenAI(base_url=double.openai_base_url, api_key=...)``.

Streaming responses are NDJSON sent with chunked transfer encoding, one JSON object per
chunk, exactly like Ollama; as Ollama's (gin's ``c.Stream``), their status line and headers
leave with the first line, so a client waits for its first byte as long as for the first
token. Because the body is chunked, an abrupt close mid-stream (see
``Reply.drop_after`` or :meth:`OllamaDouble.stop`) is seen by httpx as an incomplete body
(``httpx.RemoteProtocolError``), just like a crashed Ollama.

Replies to ``/api/chat``, ``/api/generate`` and ``/v1/chat/completions`` come, in order of
precedence, from a FIFO of scripted :class:`Reply` objects (:meth:`OllamaDouble.enqueue`), from
an optional ``responder(request_json)`` callable, or from a deterministic echo of the last user
message.

A hung Ollama (one that takes connections and never answers) is :meth:`OllamaDouble.hang`:
requests to the paths named (every path when none is) are read and recorded, then held with
no answer until :meth:`OllamaDouble.answer` (or :meth:`OllamaDouble.stop`) closes them.

The ``/v1`` endpoints follow ``openai/openai.go`` and ``middleware/openai.go`` of Ollama:
streamed answers are Server-Sent Events (``data: {chunk}`` lines, ``data: [DONE]`` last), one
``chat.completion.chunk`` per token with ``delta.content``, reasoning in ``delta.reasoning`` and
tool calls in ``delta.tool_calls`` (arguments as a JSON string); then a chunk with the
``finish_reason`` (``"stop"``, ``"length"``, ``"tool_calls"``) and, when
``stream_options.include_usage`` is true, a usage chunk with empty ``choices``. Errors are
``{"error": {"message", "type", "param", "code"}}`` with Ollama's status codes (404 for a
model that is not pulled). Ollama ignores ``Authorization``; the double records every
request's headers (:attr:`RecordedRequest.headers`) and, when :attr:`OllamaDouble.api_key` is
set, answers ``/v1`` requests without ``Authorization: Bearer <api_key>`` with a 401 like an
authenticating proxy would. Where Ollama differs from OpenAI, the double mimics Ollama (e.g.
``GET /v1/models`` on an empty catalogue gives ``"data": null``), with one exception: an error
in the middle of a stream is sent as an OpenAI-style ``data: {"error": {...}}`` event (Ollama
itself just ends the stream without ``[DONE]``).

Everything here is standard library only and must never import Django: the whole project's
tests, the ``make run`` demo and the benchmarks all use it.

Run it standalone with ``python -m inference.testing.ollama_double --port 11434``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, TracebackType
from typing import Any, NamedTuple, Self, cast
from urllib.parse import unquote

JSON = dict[str, Any]
Responder = Callable[[JSON], "Reply | str"]
Splitter = Callable[[str], list[str]]

#: Version reported by ``GET /api/version``.
DEFAULT_VERSION = "0.12.6"

_DEFAULT_HOST = "registry.ollama.ai"
_DEFAULT_NAMESPACE = "library"
_DEFAULT_TAG = "latest"

#: Error line Ollama streams when a model runner dies mid-generation.
RUNNER_STOPPED_ERROR = (
    "model runner has unexpectedly stopped, this may be due to resource limitations or an "
    "internal error, check ollama server logs for details"
)
#: Error Ollama reports when pulling a name the registry does not know.
PULL_MANIFEST_ERROR = "pull model manifest: file does not exist"
#: Error for a missing/empty ``model`` field.
MODEL_REQUIRED_ERROR = "model is required"
#: Error for an empty request body.
MISSING_BODY_ERROR = "missing request body"
#: Ollama's 400 text for ``/v1/chat/completions`` without messages.
OPENAI_EMPTY_MESSAGES_ERROR = "[] is too short - 'messages'"
#: Ollama's 400 text for a tool call whose ``arguments`` is not a JSON object.
OPENAI_TOOL_ARGUMENTS_ERROR = "invalid tool call arguments"
#: ``system_fingerprint`` of every ``/v1`` completion.
OPENAI_FINGERPRINT = "fp_ollama"
_REASONING_EFFORTS = ("high", "medium", "low", "none")
# Go's encoding/json writes no spaces; the /v1 events are byte-for-byte closer with these.
_COMPACT: dict[str, Any] = {"ensure_ascii": False, "separators": (",", ":")}


def _go_quote(value: str) -> str:
    """Approximate Go's ``%q`` verb (a double-quoted, escaped string)."""
    return json.dumps(value, ensure_ascii=False)


def inference_model_not_found(name: str) -> str:
    """Ollama's 404 text for ``/api/chat`` and ``/api/generate`` on a model that isn't pulled.

    From ``handleScheduleError`` in ollama ``server/routes.go``:
    ``fmt.Sprintf("model %q not found, try pulling it first", name)``.
    """
    return f"model {_go_quote(name)} not found, try pulling it first"


def model_not_found(name: str) -> str:
    """Ollama's 404 text for ``/api/show`` and ``/api/delete`` (``"model '%s' not found"``)."""
    return f"model '{name}' not found"


def capability_error(full_name: str, missing: Iterable[str]) -> str:
    """Ollama's 400 text when a request needs capabilities the model lacks.

    ``scheduleRunner`` wraps ``CheckCapabilities``: ``"<full name> does not support <caps>"``,
    e.g. ``registry.ollama.ai/library/phi3:latest does not support tools`` (several missing
    capabilities are joined by newlines, as ``errors.Join`` does).
    """
    return f"{full_name} does not support " + "\n".join(missing)


def thinking_not_supported(name: str) -> str:
    """Ollama's 400 text for ``think: true`` on a model without the thinking capability."""
    return f"{_go_quote(name)} does not support thinking"


def split_tokens(text: str) -> list[str]:
    """Default splitter: words with their trailing whitespace (``"".join`` restores ``text``)."""
    return re.findall(r"\S+\s*|\s+", text)


def approx_token_count(text: str) -> int:
    """A rough token count: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def _now() -> datetime:
    return datetime.now(UTC)


def _timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 UTC timestamp with microseconds and a ``Z`` suffix, as Ollama emits."""
    value = (moment or _now()).astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ModelName(NamedTuple):
    """A parsed Ollama model name (``host/namespace/model:tag``)."""

    host: str
    namespace: str
    model: str
    tag: str

    @classmethod
    def parse(cls, name: str) -> ModelName:
        """Parse ``name`` filling Ollama's defaults (``registry.ollama.ai``, ``library``,
        ``latest``): ``"llama3.1"`` means ``registry.ollama.ai/library/llama3.1:latest``."""
        rest = name.strip().split("@", 1)[0]
        tag = _DEFAULT_TAG
        colon, slash = rest.rfind(":"), rest.rfind("/")
        if colon > slash:
            rest, tag = rest[:colon], rest[colon + 1 :] or _DEFAULT_TAG
        parts = rest.split("/")
        host, namespace = _DEFAULT_HOST, _DEFAULT_NAMESPACE
        if len(parts) >= 3:
            host, namespace, model = parts[-3], parts[-2], parts[-1]
        elif len(parts) == 2:
            namespace, model = parts
        else:
            model = parts[0]
        return cls(host, namespace, model, tag)

    @property
    def key(self) -> str:
        """Case-insensitive lookup key (Ollama matches existing names case-insensitively)."""
        return self.full.lower()

    @property
    def full(self) -> str:
        """The fully qualified name, e.g. ``registry.ollama.ai/library/phi3:latest``."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def short(self) -> str:
        """The shortest display form, e.g. ``phi3:latest`` (what ``/api/tags`` lists)."""
        if self.host == _DEFAULT_HOST and self.namespace == _DEFAULT_NAMESPACE:
            return f"{self.model}:{self.tag}"
        if self.host == _DEFAULT_HOST:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return self.full


@dataclass
class ModelSpec:
    """One model of the double's catalogue (what ``/api/tags`` and ``/api/show`` report)."""

    name: str
    family: str = "llama"
    context_length: int = 8192
    capabilities: tuple[str, ...] = ("completion", "tools")
    size: int = 4_920_753_328
    quantization: str = "Q4_K_M"
    parameter_size: str = "8B"
    format: str = "gguf"
    embedding_length: int = 4096
    modified_at: datetime = field(default_factory=_now)
    digest: str = ""

    def __post_init__(self) -> None:
        self.name = ModelName.parse(self.name).short
        self.capabilities = tuple(self.capabilities)
        if not self.digest:
            self.digest = hashlib.sha256(self.name.encode()).hexdigest()

    @property
    def full_name(self) -> str:
        """Fully qualified name used in Ollama's capability errors."""
        return ModelName.parse(self.name).full

    def has(self, capability: str) -> bool:
        """Whether the model advertises ``capability`` (``"tools"``, ``"thinking"``, ...)."""
        return capability in self.capabilities

    def details(self) -> JSON:
        """The ``details`` object of ``/api/tags``, ``/api/show`` and ``/api/ps``."""
        return {
            "parent_model": "",
            "format": self.format,
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization,
        }

    def model_info(self) -> JSON:
        """The GGUF-style ``model_info`` map of ``/api/show``."""
        return {
            "general.architecture": self.family,
            "general.basename": ModelName.parse(self.name).model,
            "general.file_type": 15,
            "general.parameter_count": _parameter_count(self.parameter_size),
            "general.quantization_version": 2,
            f"{self.family}.context_length": self.context_length,
            f"{self.family}.embedding_length": self.embedding_length,
        }


def _parameter_count(parameter_size: str) -> int:
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMBT]?)\s*", parameter_size, re.IGNORECASE)
    if not match:
        return 0
    scale = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}[match[2].upper()]
    return round(float(match[1]) * scale)


@dataclass
class Reply:
    """A scripted answer to one ``/api/chat`` or ``/api/generate`` request.

    Content (and thinking) is split into tokens by the double's splitter (or taken from
    ``tokens``); each token is streamed as its own NDJSON line. ``thinking`` tokens come
    first (only when the model has the ``thinking`` capability and the request did not send
    ``think: false``), then content tokens.

    Attributes:
        content: The assistant text.
        thinking: Reasoning text, streamed in ``message.thinking`` before the content.
        tool_calls: Native tool calls, each ``{"name": ..., "arguments": {...}}`` (the full
            ``{"function": {...}}`` wire form and an optional ``"id"`` are accepted too).
        tool_calls_at: Content-token index before which the tool-call line is streamed
            (``0`` = before any content); ``None`` = after all content, before the done line.
        tokens: Explicit content tokens, overriding the splitter (``content`` is then ignored).
        tokens_per_second: Generation rate; ``None`` uses the double's default (whose own
            default, ``None``, means as fast as possible).
        delay_before_first_token: Seconds of simulated prompt evaluation before the first
            token; ``None`` uses the double's default.
        error_after: After this many token lines (thinking + content), stream an
            ``{"error": ...}`` line and end the response (non-streaming: HTTP 500).
        drop_after: After this many token lines, close the connection abruptly.
        pause_after: After this many token lines, send nothing more until ``resume`` is set
            (a model that stalls mid-answer: a busy GPU, a long prompt evaluation); the
            connection stays open and silent. Needs ``resume``.
        resume: The event that ends a ``pause_after`` pause (one event may hold many replies;
            set before the pause, the reply does not pause at all).
        status: Non-200 answers with this HTTP status and ``{"error": error}`` before any
            streaming happens.
        error: Error text for ``status`` / ``error_after`` (defaults to the HTTP phrase, or
            Ollama's "model runner has unexpectedly stopped" for mid-stream errors).
        prompt_eval_count: Override of the reported prompt token count (default: a rough
            count of the request's text).
        eval_count: Override of the reported generated token count (default: number of
            token lines streamed, thinking + content).
        done_reason: ``done_reason`` of the final line (``"length"`` is used automatically
            when ``options.num_predict`` truncates the reply).
    """

    content: str = ""
    thinking: str = ""
    tool_calls: list[JSON] = field(default_factory=list)
    tool_calls_at: int | None = None
    tokens: list[str] | None = None
    tokens_per_second: float | None = None
    delay_before_first_token: float | None = None
    error_after: int | None = None
    drop_after: int | None = None
    pause_after: int | None = None
    resume: threading.Event | None = field(default=None, compare=False, repr=False)
    status: int = 200
    error: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    done_reason: str = "stop"

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"invalid HTTP status {self.status}")
        if self.error is not None and self.status == 200 and self.error_after is None:
            raise ValueError("Reply.error needs a non-200 status or error_after")
        if (self.pause_after is None) != (self.resume is None):
            raise ValueError("Reply.pause_after and Reply.resume go together")
        for name in ("tool_calls_at", "error_after", "drop_after", "pause_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"Reply.{name} must be >= 0")
        if self.tokens_per_second is not None and self.tokens_per_second <= 0:
            raise ValueError("Reply.tokens_per_second must be > 0")


_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class RecordedRequest(NamedTuple):
    """A request the double received: its path, its JSON body (``{}`` when bodiless) and its
    headers (names lower-cased, e.g. ``headers["authorization"] == "Bearer sk-..."``)."""

    path: str
    body: JSON
    headers: Mapping[str, str] = _NO_HEADERS
    # The client's TCP port: requests on one kept-alive connection share it.
    client_port: int = 0


def echo_responder(body: JSON) -> Reply:
    """Default reply: ``"Echo: <last user message>"`` (or the ``prompt`` of ``/api/generate``)."""
    text = ""
    if isinstance(body.get("prompt"), str):
        text = body["prompt"]
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _message_text(message.get("content"))
            break
    return Reply(content=f"Echo: {text}" if text else "Hello from the Ollama double.")


def _message_text(content: Any) -> str:
    """The text of a message's content: a string, or OpenAI's list of ``{"type": "text"}``
    parts."""
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return str(content or "")


def _default_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            "llama3.1:latest",
            family="llama",
            context_length=131072,
            capabilities=("completion", "tools"),
            size=4_920_753_328,
            parameter_size="8.0B",
        ),
        ModelSpec(
            "phi3:latest",
            family="phi3",
            context_length=4096,
            capabilities=("completion",),
            size=2_176_178_913,
            parameter_size="3.8B",
            embedding_length=3072,
        ),
        ModelSpec(
            "qwen3:latest",
            family="qwen3",
            context_length=40960,
            capabilities=("completion", "tools", "thinking"),
            size=5_225_388_164,
            parameter_size="8.2B",
        ),
    ]


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_FOREVER = timedelta(days=365 * 300)


def parse_keep_alive(value: Any, default: timedelta = timedelta(minutes=5)) -> timedelta:
    """Interpret Ollama's ``keep_alive``: seconds as a number, or a Go duration string
    (``"5m"``, ``"1h30m"``); negative means forever. Unparseable values give ``default``."""
    if value is None or isinstance(value, bool):
        return default
    seconds: float | None = None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        parts = re.findall(r"(-?[\d.]+)(ns|us|µs|ms|s|m|h)", text)
        if parts and "".join(n + u for n, u in parts) == text:
            seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
        elif re.fullmatch(r"-?[\d.]+", text):
            seconds = float(text)
    if seconds is None:
        return default
    return _FOREVER if seconds < 0 else timedelta(seconds=seconds)


def _think_enabled(think: Any) -> bool:
    return think is True or (isinstance(think, str) and think not in ("", "false"))


class _Aborted(Exception):
    """The response must stop and the connection be dropped.

    ``client_gone`` tells a client disconnect (a failed write) apart from a scripted drop or
    the double stopping.
    """

    def __init__(self, client_gone: bool = False) -> None:
        super().__init__("client disconnected" if client_gone else "connection dropped")
        self.client_gone = client_gone


@dataclass
class _Plan:
    """What one generation will emit, resolved from a Reply and the request."""

    reply: Reply
    pieces: list[tuple[str, Any]]  # ("thinking"|"content", token) or ("tools", [calls])
    done_reason: str
    prompt_eval_count: int


@dataclass
class _Paced:
    """What a paced generation sent: its tokens, tool calls and timing."""

    started: float
    generation_start: float
    thinking: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    tool_calls: list[JSON] = field(default_factory=list)
    emitted: int = 0


class OllamaDouble:
    """A threaded loopback HTTP server speaking Ollama's REST API (see the module docstring).

    Public attributes (plain, can be changed while running): ``tokens_per_second``,
    ``delay_before_first_token``, ``pull_steps``, ``pull_delay``, ``version``,
    ``allow_any_pull``, ``splitter``, ``responder``, ``api_key``, ``quiet``.
    """

    def __init__(
        self,
        *,
        bind: str = "127.0.0.1",
        port: int = 0,
        tokens_per_second: float | None = None,
        delay_before_first_token: float = 0.0,
        pull_steps: int = 3,
        pull_delay: float = 0.0,
        version: str = DEFAULT_VERSION,
        include_default_models: bool = True,
        allow_any_pull: bool = False,
        splitter: Splitter = split_tokens,
        responder: Responder | None = None,
        api_key: str | None = None,
        quiet: bool = True,
    ) -> None:
        """Create a stopped double; call :meth:`start` (or use it as a context manager).

        Args:
            bind: Interface to listen on.
            port: TCP port; ``0`` picks a free ephemeral port (kept across restarts).
            tokens_per_second: Default generation rate (``None`` = as fast as possible).
            delay_before_first_token: Default seconds before the first token.
            pull_steps: Number of ``completed`` progress lines per pull.
            pull_delay: Seconds between pull progress lines.
            version: What ``/api/version`` reports.
            include_default_models: Start with ``llama3.1:latest`` (tools),
                ``phi3:latest`` (no tools) and ``qwen3:latest`` (tools + thinking).
            allow_any_pull: Pulling an unknown name succeeds and adds a default model
                (otherwise only names registered with :meth:`add_pullable` can be pulled).
            splitter: Splits reply text into streamed tokens.
            responder: ``responder(request_json) -> Reply | str`` used when no scripted
                reply is queued (default: :func:`echo_responder`). For ``/v1/chat/completions``
                it gets the OpenAI request body as sent.
            api_key: When set, ``/v1`` requests must send ``Authorization: Bearer <api_key>``
                or get a 401 (``None``, the default, accepts any or no key, like Ollama).
            quiet: Suppress the per-request access log on stderr.
        """
        self.tokens_per_second = tokens_per_second
        self.delay_before_first_token = delay_before_first_token
        self.pull_steps = pull_steps
        self.pull_delay = pull_delay
        self.version = version
        self.allow_any_pull = allow_any_pull
        self.splitter = splitter
        self.responder = responder
        self.api_key = api_key
        self.quiet = quiet

        self._bind = bind
        self._port = port
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._lifecycle = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        self._models: dict[str, ModelSpec] = {}
        self._pullable: dict[str, ModelSpec] = {}
        self._loaded: dict[str, datetime] = {}
        self._replies: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        # Paths whose requests get no answer (``hang``); ``"*"`` is every path.
        self._hung: frozenset[str] = frozenset()
        self._held = 0
        self._aborted_streams = 0
        self._active_generations = 0
        self._peak_generations = 0
        self._paused_generations = 0
        self._tool_call_serial = 0
        self._completion_serial = 0
        if include_default_models:
            for spec in _default_models():
                self._models[ModelName.parse(spec.name).key] = spec

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Bind and serve in a background thread. Restarting reuses the same port."""
        with self._lifecycle:
            if self._server is not None:
                return self
            self._stopping.clear()
            server = _Server((self._bind, self._port), self)
            self._port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"ollama-double:{self._port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: in-flight streams are cut abruptly, open keep-alive connections are
        closed, and new connections are refused until :meth:`start` is called again."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            if server is None:
                return
            self._stopping.set()
            server.shutdown()
            server.server_close()
            server.close_connections(timeout)
            if thread is not None:
                thread.join(timeout)
            self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def is_running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound TCP port (known after the first :meth:`start`)."""
        return self._port

    @property
    def host(self) -> str:
        """Base URL for ``ollama.Client(host=...)``, e.g. ``http://127.0.0.1:54321``."""
        if not self._port:
            raise RuntimeError("OllamaDouble has not been started")
        return f"http://{self._bind}:{self._port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL of the OpenAI-compatible endpoints, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"{self.host}/v1"

    # ------------------------------------------------------------------ catalogue

    def add_model(
        self,
        name: str,
        *,
        family: str = "llama",
        context_length: int = 8192,
        capabilities: Iterable[str] = ("completion", "tools"),
        size: int = 4_920_753_328,
        quantization: str = "Q4_K_M",
        parameter_size: str = "8B",
        embedding_length: int = 4096,
    ) -> ModelSpec:
        """Add (or replace) a locally available model; ``"x"`` is stored as ``"x:latest"``."""
        spec = ModelSpec(
            name,
            family=family,
            context_length=context_length,
            capabilities=tuple(capabilities),
            size=size,
            quantization=quantization,
            parameter_size=parameter_size,
            embedding_length=embedding_length,
        )
        with self._lock:
            self._models[ModelName.parse(name).key] = spec
        return spec

    def add_pullable(self, name: str, **kwargs: Any) -> None:
        """Make ``name`` available in the simulated registry: ``/api/pull`` of it succeeds
        and adds a model built with ``kwargs`` (same keywords as :meth:`add_model`)."""
        kwargs["capabilities"] = tuple(kwargs.get("capabilities", ("completion", "tools")))
        spec = ModelSpec(name, **kwargs)
        with self._lock:
            self._pullable[ModelName.parse(name).key] = spec

    def remove_model(self, name: str) -> bool:
        """Remove a model from the catalogue; returns whether it existed."""
        with self._lock:
            key = ModelName.parse(name).key
            self._loaded.pop(key, None)
            return self._models.pop(key, None) is not None

    def get_model(self, name: str) -> ModelSpec | None:
        """Resolve ``name`` like Ollama (default tag/namespace, case-insensitive)."""
        with self._lock:
            return self._models.get(ModelName.parse(name).key)

    @property
    def model_names(self) -> list[str]:
        """Names of the locally available models (``name:tag``)."""
        with self._lock:
            return [spec.name for spec in self._models.values()]

    @property
    def loaded_models(self) -> list[str]:
        """Names of the models ``/api/ps`` currently reports as loaded."""
        with self._lock:
            self._purge_expired()
            return [self._models[key].name for key in self._loaded if key in self._models]

    # ------------------------------------------------------------------ scripting

    def enqueue(self, *replies: Reply | str) -> None:
        """Queue replies (FIFO) for the next ``/api/chat`` / ``/api/generate`` requests.
        A plain string is shorthand for ``Reply(content=...)``."""
        with self._lock:
            self._replies.extend(Reply(content=r) if isinstance(r, str) else r for r in replies)

    def clear_replies(self) -> None:
        """Drop every queued reply."""
        with self._lock:
            self._replies.clear()

    @property
    def pending_replies(self) -> int:
        """How many scripted replies are still queued."""
        with self._lock:
            return len(self._replies)

    def _take_reply(self, body: JSON) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        reply = (self.responder or echo_responder)(body)
        return Reply(content=reply) if isinstance(reply, str) else reply

    def hang(self, *paths: str) -> None:
        """From now on, take requests to ``paths`` (every path when none is given) and never
        answer them, as a hung Ollama does: they wait until :meth:`answer` or :meth:`stop`,
        which close them with no answer."""
        with self._changed:
            self._hung = frozenset(paths or ("*",))
            self._changed.notify_all()

    def answer(self) -> None:
        """End :meth:`hang`: the held requests are closed unanswered, later ones answered."""
        with self._changed:
            self._hung = frozenset()
            self._changed.notify_all()

    @property
    def held_requests(self) -> int:
        """Requests being held unanswered right now (see :meth:`hang`)."""
        with self._lock:
            return self._held

    def _hangs(self, path: str) -> bool:
        with self._lock:
            return "*" in self._hung or path in self._hung

    def _hold(self, path: str) -> None:
        """Wait, answering nothing, while ``path`` hangs and the double runs."""
        with self._changed:
            self._held += 1
            try:
                while self._hangs(path) and not self._stopping.is_set():
                    self._changed.wait(0.05)
            finally:
                self._held -= 1

    # ------------------------------------------------------------------ recording

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[JSON]:
        """Bodies of the requests received on ``path`` (e.g. ``"/api/chat"``)."""
        with self._lock:
            return [r.body for r in self._requests if r.path == path]

    def last_request(self, path: str | None = None) -> JSON:
        """Body of the most recent request (on ``path`` if given); ``KeyError`` if none."""
        with self._lock:
            for recorded in reversed(self._requests):
                if path is None or recorded.path == path:
                    return recorded.body
        raise KeyError(path or "no request received")

    def last_recorded(self, path: str | None = None) -> RecordedRequest:
        """The most recent request (on ``path`` if given) with its headers; ``KeyError`` if
        none."""
        with self._lock:
            for recorded in reversed(self._requests):
                if path is None or recorded.path == path:
                    return recorded
        raise KeyError(path or "no request received")

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def wait_for_requests(
        self, count: int, path: str | None = None, timeout: float = 5.0
    ) -> list[JSON]:
        """Block until at least ``count`` requests (on ``path`` if given) were received, for
        code under test that calls Ollama from another thread. Raises ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                bodies = [r.body for r in self._requests if path is None or r.path == path]
                if len(bodies) >= count:
                    return bodies
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"got {len(bodies)} of {count} requests to {path or '*'}")
                self._changed.wait(remaining)

    def wait_for_idle(self, timeout: float = 5.0) -> None:
        """Block until no chat/generate request is being answered (e.g. until the double has
        noticed that a client abandoned its stream). Raises ``TimeoutError``."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._active_generations == 0, timeout):
                raise TimeoutError(f"{self._active_generations} generation(s) still running")

    @property
    def aborted_streams(self) -> int:
        """Generations cut short because the client disconnected (detected on write)."""
        with self._lock:
            return self._aborted_streams

    @property
    def active_generations(self) -> int:
        """Chat/generate requests being answered right now."""
        with self._lock:
            return self._active_generations

    @property
    def peak_generations(self) -> int:
        """The highest number of simultaneous chat/generate requests seen."""
        with self._lock:
            return self._peak_generations

    @property
    def paused_generations(self) -> int:
        """Generations holding a ``Reply.pause_after`` pause right now."""
        with self._lock:
            return self._paused_generations

    def wait_for_paused(self, count: int, timeout: float = 5.0) -> None:
        """Block until at least ``count`` generations hold a ``Reply.pause_after`` pause (each
        has sent its first ``pause_after`` token lines). Raises ``TimeoutError``."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._paused_generations >= count, timeout):
                raise TimeoutError(f"{self._paused_generations} of {count} generation(s) paused")

    # ------------------------------------------------------------------ internals

    def _record(
        self, path: str, body: JSON, headers: Mapping[str, str] = _NO_HEADERS, port: int = 0
    ) -> None:
        with self._changed:
            self._requests.append(RecordedRequest(path, body, headers, port))
            self._changed.notify_all()

    def _purge_expired(self) -> None:
        now = _now()
        for key in [k for k, expires in self._loaded.items() if expires <= now]:
            del self._loaded[key]

    def _touch_loaded(self, spec: ModelSpec, keep_alive: Any) -> None:
        duration = parse_keep_alive(keep_alive)
        key = ModelName.parse(spec.name).key
        with self._lock:
            if duration <= timedelta(0):
                self._loaded.pop(key, None)
            else:
                self._loaded[key] = _now() + duration

    def _generation_started(self) -> None:
        with self._lock:
            self._active_generations += 1
            self._peak_generations = max(self._peak_generations, self._active_generations)

    def _paused(self, change: int) -> None:
        with self._changed:
            self._paused_generations += change
            self._changed.notify_all()

    def _generation_finished(self, client_gone: bool) -> None:
        with self._changed:
            self._active_generations -= 1
            if client_gone:
                self._aborted_streams += 1
            self._changed.notify_all()

    def _next_tool_call_id(self, name: str) -> str:
        with self._lock:
            self._tool_call_serial += 1
            serial = self._tool_call_serial
        return "call_" + hashlib.sha256(f"{name}:{serial}".encode()).hexdigest()[:8]

    def _next_completion_id(self) -> str:
        """``chatcmpl-N``, like Ollama's ``fmt.Sprintf("chatcmpl-%d", rand.Intn(999))``."""
        with self._lock:
            self._completion_serial += 1
            return f"chatcmpl-{self._completion_serial % 999}"

    def _wire_tool_calls(self, calls: list[JSON]) -> list[JSON]:
        """Convert ``{"name", "arguments"}`` dicts to Ollama's ``tool_calls`` wire form."""
        wire = []
        for index, call in enumerate(calls):
            function = dict(call["function"]) if "function" in call else dict(call)
            function.pop("id", None)
            name = str(function["name"])
            arguments = function.get("arguments") or {}
            if isinstance(arguments, str):
                arguments = json.loads(arguments)
            wire.append(
                {
                    "id": call.get("id") or self._next_tool_call_id(name),
                    "function": {"index": index, "name": name, "arguments": arguments},
                }
            )
        return wire

    def _plan(self, reply: Reply, body: JSON, spec: ModelSpec, prompt_tokens: int) -> _Plan:
        """Resolve a reply into the ordered token/tool-call pieces to emit."""
        thinking: list[str] = []
        if reply.thinking and spec.has("thinking") and body.get("think") is not False:
            thinking = self.splitter(reply.thinking)
        content = list(reply.tokens) if reply.tokens is not None else self.splitter(reply.content)
        tool_calls = self._wire_tool_calls(reply.tool_calls) if reply.tool_calls else []
        done_reason = reply.done_reason
        options = body.get("options") or {}
        num_predict = options.get("num_predict") if isinstance(options, dict) else None
        budget = num_predict if isinstance(num_predict, int) and num_predict > 0 else None
        if budget is not None and len(thinking) + len(content) > budget:
            thinking = thinking[:budget]
            content = content[: max(0, budget - len(thinking))]
            tool_calls, done_reason = [], "length"
        pieces: list[tuple[str, Any]] = [("thinking", t) for t in thinking]
        at = len(content) if reply.tool_calls_at is None else min(reply.tool_calls_at, len(content))
        for index, token in enumerate(content):
            if tool_calls and index == at:
                pieces.append(("tools", tool_calls))
            pieces.append(("content", token))
        if tool_calls and at == len(content):
            pieces.append(("tools", tool_calls))
        count = reply.prompt_eval_count if reply.prompt_eval_count is not None else prompt_tokens
        return _Plan(reply, pieces, done_reason, count)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its double and tracks open connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # listen backlog, for concurrent benchmark clients

    def __init__(self, address: tuple[str, int], double: OllamaDouble) -> None:
        self.double = double
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Condition()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closes its connection (a reset while the next request is awaited)
        # is not an error of the double's; anything else is reported as usual.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)
            self._connections_lock.notify_all()

    def close_connections(self, timeout: float) -> None:
        """Shut every open connection down and wait (bounded) for handlers to finish."""
        with self._connections_lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections_lock.wait_for(lambda: not self._connections, timeout)


_ROUTES: dict[str, tuple[frozenset[str], str]] = {
    "/": (frozenset({"GET", "HEAD"}), "_root"),
    "/api/version": (frozenset({"GET", "HEAD"}), "_version"),
    "/api/tags": (frozenset({"GET", "HEAD"}), "_tags"),
    "/api/ps": (frozenset({"GET"}), "_ps"),
    "/api/show": (frozenset({"POST"}), "_show"),
    "/api/chat": (frozenset({"POST"}), "_chat"),
    "/api/generate": (frozenset({"POST"}), "_generate"),
    "/api/pull": (frozenset({"POST"}), "_pull"),
    "/api/delete": (frozenset({"DELETE"}), "_delete"),
    "/v1/chat/completions": (frozenset({"POST"}), "_openai_chat"),
    "/v1/models": (frozenset({"GET"}), "_openai_models"),
}
_OPENAI_MODEL_ROUTE = "/v1/models/"


def openai_error(status: int, message: str, code: str | None = None) -> JSON:
    """The body of an error on the ``/v1`` endpoints (Ollama's ``openai.NewError``)."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _openai_tool_calls(wire: list[JSON]) -> list[JSON]:
    """Ollama's native tool calls to OpenAI's (``openai.ToToolCalls``): arguments as JSON."""
    return [
        {
            "id": call["id"],
            "index": call["function"].get("index", index),
            "type": "function",
            "function": {
                "name": call["function"]["name"],
                "arguments": json.dumps(call["function"]["arguments"], **_COMPACT),
            },
        }
        for index, call in enumerate(wire)
    ]


def _openai_options(request: JSON) -> JSON:
    """The native ``options`` an OpenAI request maps to (``openai.FromChatRequest``)."""
    options: JSON = {
        "temperature": request.get("temperature", 1.0),
        "top_p": request.get("top_p", 1.0),
    }
    max_tokens = request.get("max_tokens")
    if max_tokens is None:
        max_tokens = request.get("max_completion_tokens")
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    for name in ("seed", "frequency_penalty", "presence_penalty"):
        if request.get(name) is not None:
            options[name] = request[name]
    stop = request.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list):
        options["stop"] = [s for s in stop if isinstance(s, str)]
    return options


class _Handler(BaseHTTPRequestHandler):
    """Per-connection request handler (HTTP/1.1 keep-alive, chunked NDJSON streaming)."""

    protocol_version = "HTTP/1.1"
    server_version = "OllamaDouble"
    sys_version = ""
    _openai = False  # whether the request being answered is one of the /v1 endpoints
    _stream_type: str | None = None  # a stream's Content-Type, until its headers are sent

    @property
    def double(self) -> OllamaDouble:
        return cast(_Server, self.server).double

    def setup(self) -> None:
        super().setup()
        # Every NDJSON line must leave immediately; without this Nagle's algorithm and
        # delayed ACKs add ~40 ms to small responses written in several pieces.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cast(_Server, self.server).track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            cast(_Server, self.server).untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.double.quiet:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # ------------------------------------------------------------------ plumbing

    def _dispatch(self) -> None:
        path = self.path.split("?", 1)[0]
        raw = self._read_body()
        self._openai = path.startswith("/v1/")
        route = _ROUTES.get(path)
        if route is None and path.startswith(_OPENAI_MODEL_ROUTE) and path != _OPENAI_MODEL_ROUTE:
            route = (frozenset({"GET"}), "_openai_model")
        if route is None:
            self._send_text(HTTPStatus.NOT_FOUND, "404 page not found")
            return
        methods, handler_name = route
        if self.command not in methods:
            self._send_text(HTTPStatus.METHOD_NOT_ALLOWED, "405 method not allowed")
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        body: JSON = {}
        if self.command in ("POST", "DELETE"):
            if not raw.strip():
                self.double._record(path, {}, headers, self.client_address[1])
                self._send_error(HTTPStatus.BAD_REQUEST, MISSING_BODY_ERROR)
                return
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                self.double._record(path, {}, headers, self.client_address[1])
                self._send_error(HTTPStatus.BAD_REQUEST, f"invalid JSON body: {exc}")
                return
            if not isinstance(parsed, dict):
                self.double._record(path, {}, headers, self.client_address[1])
                self._send_error(HTTPStatus.BAD_REQUEST, "request body must be a JSON object")
                return
            body = parsed
        self.double._record(path, body, headers, self.client_address[1])
        if self.double._hangs(path):
            self.double._hold(path)
            self._drop()
            return
        key = self.double.api_key
        if self._openai and key and headers.get("authorization") != f"Bearer {key}":
            sent = headers.get("authorization", "").removeprefix("Bearer ").strip()
            message = f"Incorrect API key provided: {sent}" if sent else "Missing API key"
            payload = openai_error(HTTPStatus.UNAUTHORIZED, message, "invalid_api_key")
            payload["error"]["type"] = "invalid_request_error"
            self._send_json(HTTPStatus.UNAUTHORIZED, payload)
            return
        try:
            getattr(self, handler_name)(body)
        except _Aborted:
            self._drop()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_text(self, status: int, text: str) -> None:
        self._send_bytes(status, text.encode(), "text/plain; charset=utf-8")

    def _send_json(self, status: int, payload: JSON) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self._send_bytes(status, data, "application/json; charset=utf-8")

    def _send_error(self, status: int, message: str) -> None:
        """An error answer: ``{"error": message}``, or OpenAI's shape on ``/v1``."""
        if self._openai:
            self._send_json(status, openai_error(status, message))
        else:
            self._send_json(status, {"error": message})

    def _start_stream(self, content_type: str = "application/x-ndjson") -> None:
        """Begin a streamed answer: its headers go out with its first chunk, as Ollama's."""
        self._stream_type = content_type

    def _send_stream_headers(self) -> None:
        if self._stream_type is None:
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self._stream_type)
        self.send_header("Transfer-Encoding", "chunked")
        self._stream_type = None
        try:
            self.end_headers()
        except OSError as exc:
            raise _Aborted(client_gone=True) from exc

    def _write_chunk(self, data: bytes) -> None:
        try:
            self._send_stream_headers()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except OSError as exc:
            raise _Aborted(client_gone=True) from exc
        self._flush()

    def _write_line(self, payload: JSON) -> None:
        self._write_chunk(json.dumps(payload, ensure_ascii=False).encode() + b"\n")

    def _write_event(self, payload: JSON | str) -> None:
        """One Server-Sent Event: ``data: <json>`` (or a literal such as ``[DONE]``)."""
        data = payload if isinstance(payload, str) else json.dumps(payload, **_COMPACT)
        self._write_chunk(b"data: " + data.encode() + b"\n\n")

    def _end_stream(self) -> None:
        try:
            self._send_stream_headers()
            self.wfile.write(b"0\r\n\r\n")
        except OSError as exc:
            raise _Aborted(client_gone=True) from exc
        self._flush()

    def _flush(self) -> None:
        try:
            self.wfile.flush()
        except OSError as exc:
            raise _Aborted(client_gone=True) from exc

    def _drop(self) -> None:
        """Close the connection without finishing the response (simulated crash)."""
        self.close_connection = True
        self._stream_type = None
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _hold(self, resume: threading.Event) -> None:
        """Send nothing until ``resume`` is set; abort if the double is stopping."""
        if resume.is_set():
            return
        double = self.double
        double._paused(+1)
        try:
            while not resume.wait(0.05):
                if double._stopping.is_set():
                    raise _Aborted
        finally:
            double._paused(-1)

    def _sleep_until(self, deadline: float) -> None:
        """Wait until ``deadline`` (monotonic); abort early if the double is stopping."""
        if self.double._stopping.wait(max(0.0, deadline - time.monotonic())):
            raise _Aborted

    # ------------------------------------------------------------------ simple endpoints

    def _root(self, _body: JSON) -> None:
        self._send_text(HTTPStatus.OK, "Ollama is running")

    def _version(self, _body: JSON) -> None:
        self._send_json(HTTPStatus.OK, {"version": self.double.version})

    def _catalogue(self) -> list[ModelSpec]:
        """The local models, most recently modified first (as ``/api/tags`` lists them)."""
        with self.double._lock:
            models = list(self.double._models.values())
        return sorted(models, key=lambda spec: spec.modified_at, reverse=True)

    def _tags(self, _body: JSON) -> None:
        specs = self._catalogue()
        models = [
            {
                "name": spec.name,
                "model": spec.name,
                "modified_at": _timestamp(spec.modified_at),
                "size": spec.size,
                "digest": spec.digest,
                "details": spec.details(),
            }
            for spec in specs
        ]
        self._send_json(HTTPStatus.OK, {"models": models})

    def _ps(self, _body: JSON) -> None:
        double = self.double
        with double._lock:
            double._purge_expired()
            loaded = [
                (double._models[key], expires)
                for key, expires in double._loaded.items()
                if key in double._models
            ]
        loaded.sort(key=lambda item: item[1], reverse=True)
        models = [
            {
                "name": spec.name,
                "model": spec.name,
                "size": spec.size,
                "digest": spec.digest,
                "details": spec.details(),
                "expires_at": _timestamp(expires),
                "size_vram": spec.size,
                "context_length": min(spec.context_length, 4096),
            }
            for spec, expires in loaded
        ]
        self._send_json(HTTPStatus.OK, {"models": models})

    def _show(self, body: JSON) -> None:
        name = body.get("model") or body.get("name")
        if not isinstance(name, str) or not name:
            self._send_error(HTTPStatus.BAD_REQUEST, MODEL_REQUIRED_ERROR)
            return
        spec = self.double.get_model(name)
        if spec is None:
            self._send_error(HTTPStatus.NOT_FOUND, model_not_found(name))
            return
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            "# To build a new Modelfile based on this, replace FROM with:\n"
            f"# FROM {spec.name}\n\n"
            f"FROM {spec.name}\n"
            'TEMPLATE "{{ .Prompt }}"\n'
        )
        self._send_json(
            HTTPStatus.OK,
            {
                "license": "",
                "modelfile": modelfile,
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": spec.details(),
                "model_info": spec.model_info(),
                "capabilities": list(spec.capabilities),
                "modified_at": _timestamp(spec.modified_at),
            },
        )

    def _delete(self, body: JSON) -> None:
        name = body.get("model") or body.get("name")
        if not isinstance(name, str) or not name:
            self._send_error(HTTPStatus.BAD_REQUEST, MODEL_REQUIRED_ERROR)
            return
        if not self.double.remove_model(name):
            self._send_error(HTTPStatus.NOT_FOUND, model_not_found(name))
            return
        self._send_bytes(HTTPStatus.OK, b"", "text/plain; charset=utf-8")

    # ------------------------------------------------------------------ pull

    def _pull(self, body: JSON) -> None:
        double = self.double
        name = body.get("model") or body.get("name")
        if not isinstance(name, str) or not name.strip():
            self._send_error(HTTPStatus.BAD_REQUEST, "invalid model name")
            return
        key = ModelName.parse(name).key
        with double._lock:
            spec = double._models.get(key) or double._pullable.get(key)
        if spec is None and double.allow_any_pull:
            spec = ModelSpec(name)
        streaming = body.get("stream", True) is not False
        lines = self._pull_lines(spec)
        if streaming:
            self._start_stream()
        last: JSON = {}
        for index, line in enumerate(lines):
            if index:
                self._sleep_until(time.monotonic() + double.pull_delay)
            if line.get("status") == "success" and spec is not None:
                with double._lock:
                    double._models[key] = spec
                    spec.modified_at = _now()
            if "error" in line and not streaming:
                self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, line["error"])
                return
            if streaming:
                self._write_line(line)
            last = line
        if streaming:
            self._end_stream()
        else:
            self._send_json(HTTPStatus.OK, last)

    def _pull_lines(self, spec: ModelSpec | None) -> list[JSON]:
        lines: list[JSON] = [{"status": "pulling manifest"}]
        if spec is None:
            return [*lines, {"error": PULL_MANIFEST_ERROR}]
        digest = f"sha256:{spec.digest}"
        steps = max(1, self.double.pull_steps)
        for step in range(steps + 1):
            lines.append(
                {
                    "status": f"pulling {spec.digest[:12]}",
                    "digest": digest,
                    "total": spec.size,
                    "completed": spec.size * step // steps,
                }
            )
        lines += [
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ]
        return lines

    # ------------------------------------------------------------------ inference

    def _resolve_inference_model(self, body: JSON) -> ModelSpec | None:
        """Validate model, think and tools like Ollama; on failure send the error and
        return ``None``."""
        name = body.get("model")
        if not isinstance(name, str) or not name:
            self._send_error(HTTPStatus.BAD_REQUEST, MODEL_REQUIRED_ERROR)
            return None
        spec = self.double.get_model(name)
        if spec is None:
            self._send_error(HTTPStatus.NOT_FOUND, inference_model_not_found(name))
            return None
        if _think_enabled(body.get("think")) and not spec.has("thinking"):
            self._send_error(HTTPStatus.BAD_REQUEST, thinking_not_supported(name))
            return None
        missing = [cap for cap in ("completion",) if not spec.has(cap)]
        if body.get("tools") and not spec.has("tools"):
            missing.append("tools")
        if missing:
            self._send_error(HTTPStatus.BAD_REQUEST, capability_error(spec.full_name, missing))
            return None
        return spec

    def _chat(self, body: JSON) -> None:
        spec = self._resolve_inference_model(body)
        if spec is None:
            return
        if not body.get("messages"):
            self._load_or_unload(spec, body, {"message": {"role": "assistant", "content": ""}})
            return
        self._run_generation(spec, body, dialect="chat", prompt_tokens=_chat_prompt_tokens(body))

    def _generate(self, body: JSON) -> None:
        spec = self._resolve_inference_model(body)
        if spec is None:
            return
        prompt = body.get("prompt") or ""
        if not prompt:
            self._load_or_unload(spec, body, {"response": ""})
            return
        text = f"{body.get('system') or ''} {prompt}"
        self._run_generation(spec, body, dialect="generate", prompt_tokens=approx_token_count(text))

    def _load_or_unload(self, spec: ModelSpec, body: JSON, payload: JSON) -> None:
        unload = parse_keep_alive(body.get("keep_alive")) <= timedelta(0)
        self.double._touch_loaded(spec, body.get("keep_alive"))
        response = {
            "model": body["model"],
            "created_at": _timestamp(),
            **payload,
            "done": True,
            "done_reason": "unload" if unload else "load",
        }
        self._send_json(HTTPStatus.OK, response)

    def _line(self, body: JSON, chat: bool, kind: str = "", value: Any = "") -> JSON:
        """One non-final streamed object for a thinking/content token or tool calls."""
        line: JSON = {"model": body["model"], "created_at": _timestamp()}
        if chat:
            message: JSON = {"role": "assistant", "content": value if kind == "content" else ""}
            if kind == "thinking":
                message["thinking"] = value
            elif kind == "tools":
                message["tool_calls"] = value
            line["message"] = message
        else:
            line["response"] = value if kind == "content" else ""
            if kind == "thinking":
                line["thinking"] = value
        line["done"] = False
        return line

    def _run_generation(
        self,
        spec: ModelSpec,
        body: JSON,
        *,
        dialect: str,
        prompt_tokens: int,
        request: JSON | None = None,
    ) -> None:
        """Answer a validated native ``body``: ``dialect`` is ``"chat"``, ``"generate"`` or
        ``"openai"`` (then ``request`` is the OpenAI request ``body`` was translated from)."""
        double = self.double
        reply = double._take_reply(request if request is not None else body)
        if reply.status != HTTPStatus.OK:
            message = reply.error or HTTPStatus(reply.status).phrase
            self._send_error(reply.status, message)
            return
        plan = double._plan(reply, body, spec, prompt_tokens)
        rate = reply.tokens_per_second or double.tokens_per_second
        delay = reply.delay_before_first_token
        if delay is None:
            delay = double.delay_before_first_token
        double._generation_started()
        client_gone = False
        try:
            if dialect == "openai":
                self._emit_openai(spec, body, request or {}, plan, rate=rate, delay=delay)
            else:
                streaming = body.get("stream", True) is not False
                self._emit(
                    spec,
                    body,
                    plan,
                    chat=dialect == "chat",
                    streaming=streaming,
                    rate=rate,
                    delay=delay,
                )
        except _Aborted as exc:
            client_gone = exc.client_gone and not double._stopping.is_set()
            raise
        finally:
            double._generation_finished(client_gone)

    def _pace(
        self,
        plan: _Plan,
        *,
        rate: float | None,
        delay: float,
        send: Callable[[str, Any], None] | None,
        fail: Callable[[str], None],
    ) -> _Paced | None:
        """Go through the planned pieces at ``rate`` after ``delay``, handing each to ``send``
        (when streaming). Applies ``drop_after`` (raises :class:`_Aborted`) and ``error_after``
        (calls ``fail(message)`` and returns ``None``)."""
        reply = plan.reply
        started = time.monotonic()
        paced = _Paced(started=started, generation_start=started + delay)
        self._sleep_until(paced.generation_start)

        def interrupt() -> bool:
            """Apply pause_after, drop_after and error_after once ``paced.emitted`` token lines
            went out."""
            if reply.resume is not None and paced.emitted == reply.pause_after:
                self._hold(reply.resume)
            if reply.drop_after is not None and paced.emitted >= reply.drop_after:
                raise _Aborted
            if reply.error_after is not None and paced.emitted >= reply.error_after:
                fail(reply.error or RUNNER_STOPPED_ERROR)
                return True
            return False

        for kind, value in plan.pieces:
            if kind == "tools":
                paced.tool_calls.extend(value)
                if send is not None:
                    send(kind, value)
                continue
            if interrupt():
                return None
            if rate:
                self._sleep_until(paced.generation_start + (paced.emitted + 1) / rate)
            (paced.thinking if kind == "thinking" else paced.content).append(value)
            if send is not None:
                send(kind, value)
            paced.emitted += 1
        if interrupt():
            return None
        return paced

    def _emit(
        self,
        spec: ModelSpec,
        body: JSON,
        plan: _Plan,
        *,
        chat: bool,
        streaming: bool,
        rate: float | None,
        delay: float,
    ) -> None:
        """Pace and send (or accumulate) the planned pieces, then the final done object."""
        load_duration = 1_000_000  # 1 ms: the model is always "already loaded"
        if streaming:
            self._start_stream()

        def send(kind: str, value: Any) -> None:
            self._write_line(self._line(body, chat, kind, value))

        def fail(message: str) -> None:
            if streaming:
                self._write_line({"error": message})
                self._end_stream()
            else:
                self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, message)

        paced = self._pace(
            plan, rate=rate, delay=delay, send=send if streaming else None, fail=fail
        )
        if paced is None:
            return
        finished = time.monotonic()
        final = self._line(body, chat)
        if not streaming:
            if chat:
                final["message"]["content"] = "".join(paced.content)
                if paced.thinking:
                    final["message"]["thinking"] = "".join(paced.thinking)
                if paced.tool_calls:
                    final["message"]["tool_calls"] = paced.tool_calls
            else:
                final["response"] = "".join(paced.content)
                if paced.thinking:
                    final["thinking"] = "".join(paced.thinking)
        eval_count = plan.reply.eval_count if plan.reply.eval_count is not None else paced.emitted
        final.update(
            {
                "done": True,
                "done_reason": plan.done_reason,
                "total_duration": max(1, int((finished - paced.started) * 1e9) + load_duration),
                "load_duration": load_duration,
                "prompt_eval_count": plan.prompt_eval_count,
                "prompt_eval_duration": max(1, int(delay * 1e9)),
                "eval_count": eval_count,
                "eval_duration": max(1, int((finished - paced.generation_start) * 1e9)),
            }
        )
        if not chat:
            final["context"] = list(range(1, plan.prompt_eval_count + eval_count + 1))
        self.double._touch_loaded(spec, body.get("keep_alive"))
        if streaming:
            self._write_line(final)
            self._end_stream()
        else:
            self._send_json(HTTPStatus.OK, final)

    # ------------------------------------------------------------------ OpenAI compatibility

    def _openai_chat(self, request: JSON) -> None:
        """``POST /v1/chat/completions``: translate the request to a native chat the way
        Ollama's ``ChatMiddleware`` does, validate it like ``/api/chat``, answer as OpenAI."""
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            self._send_error(HTTPStatus.BAD_REQUEST, OPENAI_EMPTY_MESSAGES_ERROR)
            return
        native_messages: list[JSON] = []
        for message in messages:
            converted = _native_message(message)
            if isinstance(converted, str):
                self._send_error(HTTPStatus.BAD_REQUEST, converted)
                return
            native_messages.append(converted)
        think: Any = None
        reasoning = request.get("reasoning")
        effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
        effort = effort or request.get("reasoning_effort")
        if effort:
            if effort not in _REASONING_EFFORTS:
                self._send_error(
                    HTTPStatus.BAD_REQUEST,
                    f"invalid reasoning value: '{effort}' "
                    '(must be "high", "medium", "low", or "none")',
                )
                return
            think = False if effort == "none" else effort
        body: JSON = {
            "model": request.get("model"),
            "messages": native_messages,
            "stream": request.get("stream") is True,
            "options": _openai_options(request),
        }
        if request.get("tools"):
            body["tools"] = request["tools"]
        if think is not None:
            body["think"] = think
        spec = self._resolve_inference_model(body)
        if spec is None:
            return
        self._run_generation(
            spec, body, dialect="openai", prompt_tokens=_chat_prompt_tokens(body), request=request
        )

    def _emit_openai(
        self,
        spec: ModelSpec,
        body: JSON,
        request: JSON,
        plan: _Plan,
        *,
        rate: float | None,
        delay: float,
    ) -> None:
        """Pace the planned pieces into ``chat.completion.chunk`` events (or one
        ``chat.completion``), as Ollama's ``ChatWriter`` does."""
        streaming = request.get("stream") is True
        options = request.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        completion_id = self.double._next_completion_id()
        created = int(time.time())
        head: JSON = {
            "id": completion_id,
            "object": "chat.completion.chunk" if streaming else "chat.completion",
            "created": created,
            "model": body["model"],
            "system_fingerprint": OPENAI_FINGERPRINT,
        }

        def chunk(delta: JSON, finish_reason: str | None = None) -> JSON:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return {**head, "choices": [choice]}

        def send(kind: str, value: Any) -> None:
            delta: JSON = {"role": "assistant", "content": value if kind == "content" else ""}
            if kind == "thinking":
                delta["reasoning"] = value
            elif kind == "tools":
                delta["tool_calls"] = _openai_tool_calls(value)
            self._write_event(chunk(delta))

        def fail(message: str) -> None:
            if streaming:
                self._write_event(openai_error(HTTPStatus.INTERNAL_SERVER_ERROR, message))
                self._end_stream()
            else:
                self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, message)

        if streaming:
            self._start_stream("text/event-stream")
        paced = self._pace(
            plan, rate=rate, delay=delay, send=send if streaming else None, fail=fail
        )
        if paced is None:
            return
        eval_count = plan.reply.eval_count if plan.reply.eval_count is not None else paced.emitted
        usage = {
            "prompt_tokens": plan.prompt_eval_count,
            "completion_tokens": eval_count,
            "total_tokens": plan.prompt_eval_count + eval_count,
        }
        finish_reason = "tool_calls" if paced.tool_calls else plan.done_reason
        self.double._touch_loaded(spec, None)
        if streaming:
            self._write_event(chunk({"role": "assistant", "content": ""}, finish_reason))
            if include_usage:
                self._write_event({**head, "choices": [], "usage": usage})
            self._write_event("[DONE]")
            self._end_stream()
            return
        message: JSON = {"role": "assistant", "content": "".join(paced.content)}
        if paced.thinking:
            message["reasoning"] = "".join(paced.thinking)
        if paced.tool_calls:
            message["tool_calls"] = _openai_tool_calls(paced.tool_calls)
        choice = {"index": 0, "message": message, "finish_reason": finish_reason}
        self._send_json(HTTPStatus.OK, {**head, "choices": [choice], "usage": usage})

    def _openai_models(self, _body: JSON) -> None:
        """``GET /v1/models`` (``openai.ToListCompletion``: ``data`` is null when empty)."""
        data = [_openai_model(spec.name, spec) for spec in self._catalogue()]
        self._send_json(HTTPStatus.OK, {"object": "list", "data": data or None})

    def _openai_model(self, _body: JSON) -> None:
        """``GET /v1/models/{model}`` (``openai.ToModel`` of ``/api/show``)."""
        name = unquote(self.path.split("?", 1)[0][len(_OPENAI_MODEL_ROUTE) :])
        spec = self.double.get_model(name)
        if spec is None:
            self._send_error(HTTPStatus.NOT_FOUND, model_not_found(name))
            return
        self._send_json(HTTPStatus.OK, _openai_model(name, spec))


def _chat_prompt_tokens(body: JSON) -> int:
    """A rough prompt token count of a native chat request."""
    text = " ".join(
        _message_text(m.get("content")) + json.dumps(m.get("tool_calls") or "")
        for m in body.get("messages") or []
        if isinstance(m, dict)
    )
    if body.get("tools"):
        text += json.dumps(body["tools"])
    return approx_token_count(text)


def _native_message(message: Any) -> JSON | str:
    """One OpenAI message as a native one, or Ollama's 400 text when it is malformed."""
    if not isinstance(message, dict):
        return "invalid message format"
    calls = message.get("tool_calls") or []
    content = message.get("content")
    if content is None and not calls:
        return "invalid message content type: <nil>"
    native_calls: list[JSON] = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        try:
            arguments = json.loads(function["arguments"]) if isinstance(function, dict) else None
        except (KeyError, TypeError, ValueError):
            arguments = None
        if not isinstance(function, dict) or not isinstance(arguments, dict):
            return OPENAI_TOOL_ARGUMENTS_ERROR
        native_calls.append({"function": {"name": function.get("name"), "arguments": arguments}})
    native: JSON = {"role": message.get("role"), "content": _message_text(content)}
    if native_calls:
        native["tool_calls"] = native_calls
    return native


def _openai_model(name: str, spec: ModelSpec) -> JSON:
    return {
        "id": name,
        "object": "model",
        "created": int(spec.modified_at.timestamp()),
        "owned_by": ModelName.parse(name).namespace,
    }


# ---------------------------------------------------------------------- command line


def _parse_model_arg(value: str) -> tuple[str, tuple[str, ...]]:
    name, _, caps = value.partition("=")
    capabilities = tuple(c.strip() for c in caps.split(",") if c.strip()) or ("completion", "tools")
    return name, capabilities


def main(argv: list[str] | None = None) -> int:
    """Run the double in the foreground until interrupted (Ctrl-C)."""
    parser = argparse.ArgumentParser(
        prog="python -m inference.testing.ollama_double",
        description="Serve a fake Ollama API (for demos, manual testing and benchmarks).",
    )
    parser.add_argument("--bind", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=11434, help="TCP port (default 11434)")
    parser.add_argument("--tokens-per-second", type=float, default=None, help="generation rate")
    parser.add_argument("--delay-before-first-token", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--pull-steps", type=int, default=5)
    parser.add_argument("--pull-delay", type=float, default=0.2, metavar="SECONDS")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME[=CAP,CAP]",
        help="extra model, e.g. mistral:7b=completion,tools (repeatable)",
    )
    parser.add_argument("--allow-any-pull", action="store_true", help="any name can be pulled")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    double = OllamaDouble(
        bind=args.bind,
        port=args.port,
        tokens_per_second=args.tokens_per_second,
        delay_before_first_token=args.delay_before_first_token,
        pull_steps=args.pull_steps,
        pull_delay=args.pull_delay,
        allow_any_pull=args.allow_any_pull,
        quiet=not args.verbose,
    )
    for value in args.model:
        name, capabilities = _parse_model_arg(value)
        double.add_model(name, capabilities=capabilities)
    double.start()
    print(
        f"Ollama double listening on {double.host} (models: {', '.join(double.model_names)})",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        double.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
