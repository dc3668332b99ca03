"""The structured events of a conversation, read from a run's server-sent events.

A run's stream carries OpenAI's events (``thread.run.*``, ``thread.run.step.*``,
``thread.message.*``); :class:`EventTranslator` turns each into what an application shows:
text, tool calls and their outputs, code, images, finished messages and status changes.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

from entities_api.transport import ServerSentEvent
from entities_api.types import Message, Run

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})


@dataclass(frozen=True, kw_only=True)
class ConversationEvent:
    kind: ClassVar[str] = "event"
    run_id: str
    seq: int | None
    """The event's number in the run's stream: resume after it with ``after=seq``."""


@dataclass(frozen=True, kw_only=True)
class TextEvent(ConversationEvent):
    """A piece of the assistant's answer, as it streams."""

    kind: ClassVar[str] = "text"
    text: str
    message_id: str


@dataclass(frozen=True, kw_only=True)
class ToolCallEvent(ConversationEvent):
    """The model called a function (on the server, or waiting for the client)."""

    kind: ClassVar[str] = "tool_call"
    tool_call_id: str
    name: str
    arguments: str
    step_id: str


@dataclass(frozen=True, kw_only=True)
class ToolOutputEvent(ConversationEvent):
    """A function's output: from a server-side function (``by="server"``), or from one of
    ``available_functions`` the runner called (``by="client"``)."""

    kind: ClassVar[str] = "tool_output"
    tool_call_id: str
    name: str
    output: str
    by: str


@dataclass(frozen=True, kw_only=True)
class CodeEvent(ConversationEvent):
    """Code interpreter: a piece of the code it runs (``input``) and/or its ``logs``."""

    kind: ClassVar[str] = "code"
    tool_call_id: str | None
    input: str = ""
    logs: str = ""
    step_id: str


@dataclass(frozen=True, kw_only=True)
class ImageEvent(ConversationEvent):
    """An image file, in a message or from the code interpreter (download it with
    ``file_service.retrieve_file_content(file_id)``)."""

    kind: ClassVar[str] = "image"
    file_id: str
    message_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class MessageEvent(ConversationEvent):
    """An assistant message was finished (``completed`` or ``incomplete``)."""

    kind: ClassVar[str] = "message"
    message: Message


@dataclass(frozen=True, kw_only=True)
class StatusEvent(ConversationEvent):
    """The run changed status (``event`` is the wire name, e.g. ``thread.run.in_progress``)."""

    kind: ClassVar[str] = "status"
    event: str
    status: str
    run: Run

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass
class _PendingCall:
    """A function call being streamed: its id and name come first, its arguments after."""

    id: str
    name: str
    step_id: str
    arguments: str = ""
    announced: bool = False


class EventTranslator:
    """Turns a run's server-sent events into :class:`ConversationEvent` objects.

    A function call is announced (:class:`ToolCallEvent`) once its arguments are whole: when
    the next call starts, its output arrives, its step ends or the run changes status.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._calls: dict[tuple[str, int], _PendingCall] = {}

    def translate(self, sse: ServerSentEvent) -> list[ConversationEvent]:
        name = sse.event
        if name == "thread.message.delta":
            return self._message_delta(sse)
        if name == "thread.run.step.delta":
            return self._step_delta(sse)
        if name in ("thread.message.completed", "thread.message.incomplete"):
            message = Message.from_dict(sse.json())
            return [MessageEvent(run_id=self.run_id, seq=sse.id, message=message)]
        if name.startswith("thread.run.step."):
            if name.rsplit(".", 1)[1] in ("completed", "failed", "cancelled", "expired"):
                return self._announce(sse, step_id=sse.json()["id"])
            return []
        if name.startswith("thread.run."):
            run = Run.from_dict(sse.json())
            status = StatusEvent(
                run_id=self.run_id, seq=sse.id, event=name, status=run.status, run=run
            )
            return [*self._announce(sse), status]
        return []

    def _announce(
        self, sse: ServerSentEvent, *, step_id: str | None = None, before: int | None = None
    ) -> list[ConversationEvent]:
        """The calls not yet announced (of one step, below one index) whose arguments are
        whole."""
        out: list[ConversationEvent] = []
        for (step, index), call in sorted(self._calls.items()):
            if call.announced or (step_id is not None and step != step_id):
                continue
            if before is not None and index >= before:
                continue
            call.announced = True
            out.append(
                ToolCallEvent(
                    run_id=self.run_id,
                    seq=sse.id,
                    tool_call_id=call.id,
                    name=call.name,
                    arguments=call.arguments,
                    step_id=call.step_id,
                )
            )
        return out

    def _message_delta(self, sse: ServerSentEvent) -> list[ConversationEvent]:
        data = sse.json()
        out: list[ConversationEvent] = []
        for part in data.get("delta", {}).get("content") or []:
            if part.get("type") == "text":
                text = (part.get("text") or {}).get("value") or ""
                if text:
                    out.append(
                        TextEvent(run_id=self.run_id, seq=sse.id, text=text, message_id=data["id"])
                    )
            elif part.get("type") == "image_file":
                file_id = (part.get("image_file") or {}).get("file_id")
                if file_id:
                    out.append(
                        ImageEvent(
                            run_id=self.run_id, seq=sse.id, file_id=file_id, message_id=data["id"]
                        )
                    )
        return out

    def _step_delta(self, sse: ServerSentEvent) -> list[ConversationEvent]:
        data = sse.json()
        step_id = data["id"]
        details = data.get("delta", {}).get("step_details") or {}
        out: list[ConversationEvent] = []
        for call in details.get("tool_calls") or []:
            index = call.get("index", 0)
            kind = call.get("type")
            if kind == "function":
                out += self._function_delta(sse, step_id, index, call)
            elif kind == "code_interpreter":
                out += self._code_delta(sse, step_id, call)
        return out

    def _function_delta(
        self, sse: ServerSentEvent, step_id: str, index: int, call: dict[str, Any]
    ) -> list[ConversationEvent]:
        function = call.get("function") or {}
        out: list[ConversationEvent] = []
        pending = self._calls.get((step_id, index))
        if pending is None:
            out += self._announce(sse, step_id=step_id, before=index)  # the previous ones
            pending = _PendingCall(
                id=call.get("id") or "", name=function.get("name") or "", step_id=step_id
            )
            self._calls[(step_id, index)] = pending
        pending.arguments += function.get("arguments") or ""
        if function.get("output") is not None:
            out += self._announce(sse, step_id=step_id, before=index + 1)
            out.append(
                ToolOutputEvent(
                    run_id=self.run_id,
                    seq=sse.id,
                    tool_call_id=pending.id,
                    name=pending.name,
                    output=function["output"],
                    by="server",
                )
            )
        return out

    def _code_delta(
        self, sse: ServerSentEvent, step_id: str, call: dict[str, Any]
    ) -> list[ConversationEvent]:
        code = call.get("code_interpreter") or {}
        logs = "".join(
            o.get("logs") or "" for o in code.get("outputs") or [] if o.get("type") == "logs"
        )
        out: list[ConversationEvent] = []
        if code.get("input") or logs:
            out.append(
                CodeEvent(
                    run_id=self.run_id,
                    seq=sse.id,
                    tool_call_id=call.get("id"),
                    input=code.get("input") or "",
                    logs=logs,
                    step_id=step_id,
                )
            )
        for output in code.get("outputs") or []:
            file_id = (output.get("image") or {}).get("file_id")
            if output.get("type") == "image" and file_id:
                out.append(ImageEvent(run_id=self.run_id, seq=sse.id, file_id=file_id))
        return out
