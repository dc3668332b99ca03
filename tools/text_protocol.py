"""Tool calls from models that write them as text.

Models without Ollama's ``tools`` capability are told, in the system prompt, how to call a
tool; models with it sometimes answer in text anyway. Either way a reply that is a call
(a bare JSON object or list, a fenced ```json block, or ``<tool_call>`` tags) is recognised
and kept out of the answer the user sees.

Recognised, for a tool named ``get_weather``::

    {"name": "get_weather", "arguments": {"city": "Paris"}}
    [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": ..., ...}]
    ```json
    {"name": "get_weather", "parameters": {"city": "Paris"}}
    ```
    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>

and, from a model without native tools whose run has the code interpreter, a reply that is
only a ```python block (a model with native tools that writes one is showing code, not
running it).
"""

import json
import re
from typing import Any

from inference.providers import ToolCall

_TAG = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_PYTHON = re.compile(r"^```(?:python|py)[ \t]*\n(.*?)\n?```$", re.DOTALL)
CODE_TOOL = "code_interpreter"
_OPENINGS = ("{", "[", "```", "<tool_call>")


def instructions(tools: list[dict[str, Any]], *, required: str | None = None) -> str:
    """The system-prompt text that teaches a model without native tools how to call them."""
    lines = ["You can call these tools:"]
    for tool in tools:
        function = tool["function"]
        lines.append(
            f"- {function['name']}: {function.get('description', '')}\n"
            f"  parameters (JSON Schema): {json.dumps(function.get('parameters', {}))}"
        )
    lines.append(
        'To call a tool, reply with only a JSON object {"name": "<tool name>", "arguments": '
        "{...}} (several calls: a JSON list of such objects) and nothing else. The results "
        "come back in the next message. When no tool is needed, answer normally."
    )
    if any(t["function"]["name"] == CODE_TOOL for t in tools):
        lines.append(
            "To run Python with code_interpreter you may also reply with only a "
            "```python fenced block."
        )
    if required:
        lines.append(f"You must call {required} now.")
    return "\n".join(lines)


def _as_call(item: Any, names: set[str]) -> ToolCall | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("function"), dict):
        item = item["function"]
    name = item.get("name")
    arguments = item.get("arguments", item.get("parameters", {}))
    if not isinstance(name, str) or name not in names:
        return None
    if not isinstance(arguments, dict | str):
        return None
    return ToolCall(name=name, arguments=arguments)


def parse(text: str, names: set[str], *, code_blocks: bool = True) -> list[ToolCall] | None:
    """The tool calls a whole reply makes, or None when it is an ordinary answer.

    ``code_blocks``: whether a reply that is only a ```python block runs the code interpreter.
    """
    stripped = text.strip()
    if code_blocks and CODE_TOOL in names and (code := _PYTHON.match(stripped)):
        return [ToolCall(name=CODE_TOOL, arguments={"code": code.group(1)})]
    bodies = _TAG.findall(stripped)
    if bodies:
        if _TAG.sub("", stripped).strip():
            return None  # tags inside prose: prose wins, to be safe
    elif fenced := _FENCE.match(stripped):
        bodies = [fenced.group(1)]
    else:
        bodies = [stripped]
    calls: list[ToolCall] = []
    for body in bodies:
        try:
            value = json.loads(body)
        except ValueError:
            return None
        for item in value if isinstance(value, list) else [value]:
            call = _as_call(item, names)
            if call is None:
                return None
            calls.append(call)
    return calls or None


class Holdback:
    """Holds streamed text back while it may still turn out to be a tool call.

    ``feed`` returns the text that is safe to show now; ``finish`` returns the tool calls (and
    no text) when the whole reply was a call, else the text still held back.
    """

    def __init__(self, names: set[str], *, code_blocks: bool = True) -> None:
        self.names = names
        self.code_blocks = code_blocks
        self.held = ""
        self.released = False

    def feed(self, text: str) -> str:
        if self.released:
            return text
        self.held += text
        start = self.held.lstrip()
        if not start:
            return ""
        if any(start.startswith(o) or o.startswith(start) for o in _OPENINGS):
            return ""  # may be a call: wait for the whole reply
        self.released = True
        out, self.held = self.held, ""
        return out

    def finish(self) -> tuple[str, list[ToolCall]]:
        if self.released or not self.held:
            return "", []
        calls = parse(self.held, self.names, code_blocks=self.code_blocks)
        if calls:
            return "", calls
        return self.held, []
