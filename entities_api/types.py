"""The objects the server answers with, as dataclasses.

Field names are the wire's (OpenAI Assistants API v2 plus our extensions); timestamps are
Unix seconds. Each object keeps the whole payload it came from in ``raw``, so fields a newer
server adds are never lost.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self


@dataclass(kw_only=True)
class WireObject:
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        names = {f.name for f in fields(cls)} - {"raw"}
        return cls(**{k: v for k, v in data.items() if k in names}, raw=dict(data))


@dataclass(kw_only=True)
class User(WireObject):
    id: str
    object: str = "user"
    created_at: int
    name: str
    email: str | None = None
    is_admin: bool = False
    username: str | None = None


@dataclass(kw_only=True)
class ApiKey(WireObject):
    id: str
    object: str = "api_key"
    created_at: int
    user_id: str
    name: str = ""
    prefix: str = ""
    last_used_at: int | None = None
    expires_at: int | None = None
    revoked_at: int | None = None
    key: str | None = None
    """The key itself: only in the answer to its creation."""


@dataclass(kw_only=True)
class FunctionDefinition(WireObject):
    id: str
    object: str = "function_definition"
    created_at: int
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    strict: bool = False


@dataclass(kw_only=True)
class Assistant(WireObject):
    id: str
    object: str = "assistant"
    created_at: int
    name: str | None = None
    description: str | None = None
    model: str
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_resources: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    temperature: float | None = None
    top_p: float | None = None
    response_format: Any = "auto"
    user_id: str
    function_definition_ids: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Thread(WireObject):
    id: str
    object: str = "thread"
    created_at: int
    metadata: dict[str, str] = field(default_factory=dict)
    tool_resources: dict[str, Any] | None = None
    participant_ids: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Message(WireObject):
    id: str
    object: str = "thread.message"
    created_at: int
    thread_id: str
    status: str
    incomplete_details: dict[str, Any] | None = None
    completed_at: int | None = None
    incomplete_at: int | None = None
    role: str
    content: list[dict[str, Any]] = field(default_factory=list)
    assistant_id: str | None = None
    run_id: str | None = None
    attachments: list[dict[str, Any]] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    sender_id: str | None = None

    @property
    def text(self) -> str:
        """The message's text parts, joined."""
        return "".join(
            part["text"]["value"]
            for part in self.content
            if part.get("type") == "text" and isinstance(part.get("text"), dict)
        )


@dataclass(kw_only=True)
class ToolCall:
    """A function call a run waits on (``requires_action``)."""

    id: str
    name: str
    arguments: str
    type: str = "function"

    @property
    def parsed_arguments(self) -> dict[str, Any]:
        value = json.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError(f"the arguments of {self.name} are not a JSON object")
        return value


@dataclass(kw_only=True)
class Run(WireObject):
    id: str
    object: str = "thread.run"
    created_at: int
    thread_id: str
    assistant_id: str
    status: str
    required_action: dict[str, Any] | None = None
    last_error: dict[str, Any] | None = None
    expires_at: int | None = None
    started_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    incomplete_details: dict[str, Any] | None = None
    model: str
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: dict[str, Any] | None = None
    response_format: Any = "auto"
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True

    ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The function calls the run waits on; empty unless it ``requires_action``."""
        if not self.required_action:
            return []
        calls = self.required_action.get("submit_tool_outputs", {}).get("tool_calls", [])
        return [
            ToolCall(
                id=c["id"],
                type=c.get("type", "function"),
                name=c["function"]["name"],
                arguments=c["function"].get("arguments") or "{}",
            )
            for c in calls
        ]


@dataclass(kw_only=True)
class RunStep(WireObject):
    id: str
    object: str = "thread.run.step"
    created_at: int
    assistant_id: str
    thread_id: str
    run_id: str
    type: str
    status: str
    step_details: dict[str, Any] = field(default_factory=dict)
    last_error: dict[str, Any] | None = None
    expired_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    metadata: dict[str, str] | None = None
    usage: dict[str, int] | None = None


@dataclass(kw_only=True)
class File(WireObject):
    id: str
    object: str = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: str = "processed"


@dataclass(kw_only=True)
class Deleted(WireObject):
    id: str
    object: str
    deleted: bool
