"""Checking and running the tool calls a model makes.

Every call gets an id (``call_…``) and its arguments as a JSON string, as OpenAI's wire has
them. Arguments that are not JSON, a function the run does not have, or arguments that break
the function's schema become an error output the model sees (and may correct). Calls of
server-side functions run here, with a timeout; the rest go to the client.

Each server call runs in a thread of its own: one that does not finish in time is left
behind (Python cannot kill a thread) but holds nothing the next calls need. At most
``STRAY_FUNCTIONS`` calls run at once in a process, stragglers included; past that a call
gets an error output until some end.
"""

import json
import queue
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from jsonschema import Draft202012Validator

from inference.providers import ToolCall

from .code_interpreter import NAME as CODE_INTERPRETER
from .functions import registry

# Ends the error output of a call with bad arguments; how a run counts them after a resume.
ARGUMENT_ERROR_HINT = "Call it again with corrected arguments."
# What a server function may give the model; the rest is cut, with a note saying so.
MAX_OUTPUT_BYTES = 64 * 1024
STRAY_FUNCTIONS = 16
_running = threading.BoundedSemaphore(STRAY_FUNCTIONS)


@dataclass
class Call:
    id: str
    name: str
    arguments: str
    parsed: dict[str, Any] | None = None
    error: str | None = None
    output: str | None = None
    server: bool = False
    # The code interpreter's wire outputs (logs, images); None until the code ran.
    outputs: list[dict[str, Any]] | None = None

    @property
    def is_code(self) -> bool:
        return self.name == CODE_INTERPRETER

    def wire(self, *, with_output: bool = True) -> dict[str, Any]:
        if self.is_code:
            code = (self.parsed or {}).get("code", self.arguments)
            return {
                "id": self.id,
                "type": "code_interpreter",
                "code_interpreter": {"input": code, "outputs": self.outputs or []},
            }
        function: dict[str, Any] = {"name": self.name, "arguments": self.arguments}
        if with_output:
            function["output"] = self.output
        return {"id": self.id, "type": "function", "function": function}

    def streamed(self) -> list[dict[str, Any]]:
        """The call as OpenAI streams it in step deltas: first its id and name, then the
        arguments (clients append the strings of successive deltas)."""
        if self.is_code:
            code = (self.parsed or {}).get("code", self.arguments)
            return [
                {
                    "id": self.id,
                    "type": "code_interpreter",
                    "code_interpreter": {"input": "", "outputs": []},
                },
                {"type": "code_interpreter", "code_interpreter": {"input": code}},
            ]
        return [
            {
                "id": self.id,
                "type": "function",
                "function": {"name": self.name, "arguments": "", "output": None},
            },
            {"type": "function", "function": {"arguments": self.arguments}},
        ]


def forced_tool(tool_choice: Any) -> str | None:
    """The name of the tool a run's ``tool_choice`` forces (a function's, or the code
    interpreter's); None for ``auto``, ``none`` and ``required``."""
    if not isinstance(tool_choice, dict):
        return None
    if tool_choice.get("type") == "function":
        return str(tool_choice["function"]["name"])
    return str(tool_choice.get("type"))


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def prepare(calls: list[ToolCall], tools: list[dict[str, Any]]) -> list[Call]:
    functions = {t["function"]["name"]: t["function"] for t in tools if t.get("type") == "function"}
    server = registry()
    prepared = []
    for raw in calls:
        if isinstance(raw.arguments, str):
            arguments = raw.arguments or "{}"
        else:
            arguments = json.dumps(raw.arguments)
        call = Call(id=new_call_id(), name=raw.name, arguments=arguments)
        prepared.append(call)
        if raw.name not in functions:
            call.error = (
                f"There is no function named '{raw.name}'. Use one of: {', '.join(functions)}."
            )
            continue
        try:
            parsed = json.loads(arguments)
        except json.JSONDecodeError as exc:
            call.error = f"The arguments of {raw.name} are not valid JSON ({exc.msg})."
            continue
        if not isinstance(parsed, dict):
            call.error = f"The arguments of {raw.name} must be a JSON object."
            continue
        schema = functions[raw.name].get("parameters") or {"type": "object"}
        problems = sorted(Draft202012Validator(schema).iter_errors(parsed), key=str)
        if problems:
            where = "/".join(str(p) for p in problems[0].absolute_path)
            detail = f"{problems[0].message}" + (f" (at {where})" if where else "")
            call.error = f"The arguments of {raw.name} do not match its parameters: {detail}."
            continue
        call.parsed = parsed
        call.server = raw.name in server or raw.name == CODE_INTERPRETER
    for call in prepared:
        if call.error is not None:
            call.output = f"Error: {call.error} {ARGUMENT_ERROR_HINT}"
            if call.is_code:  # the code interpreter's output is its logs
                call.outputs = [{"type": "logs", "logs": call.output}]
    return prepared


def _truncated(output: str) -> str:
    """The output as stored and shown to the model: capped, and without NUL (no database
    stores it in text or JSON), as the sandbox's output is."""
    output = output.replace("\x00", "\ufffd")
    data = output.encode()
    if len(data) <= MAX_OUTPUT_BYTES:
        return output
    kept = data[:MAX_OUTPUT_BYTES].decode(errors="ignore")
    return f"{kept}\n[output truncated: {len(data)} bytes, the first {MAX_OUTPUT_BYTES} shown]"


def run_server_call(call: Call) -> str:
    """Run a server-side function; whatever happens becomes the output the model reads."""
    function = registry()[call.name]
    assert call.parsed is not None
    timeout = settings.SERVER_FUNCTION_TIMEOUT_SECONDS
    if not _running.acquire(blocking=False):
        return f"Error: {call.name} cannot run now: too many earlier calls are still running."
    outcome: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
    arguments = call.parsed

    def target() -> None:
        try:
            outcome.put((True, function.call(**arguments)))
        except Exception as exc:  # the function's own failure is the model's to read
            outcome.put((False, exc))
        finally:
            _running.release()

    threading.Thread(target=target, name=f"server-function-{call.name}", daemon=True).start()
    try:
        ok, result = outcome.get(timeout=timeout)
    except queue.Empty:
        return f"Error: {call.name} did not finish within {timeout:g} seconds."
    if not ok:
        return _truncated(f"Error: {call.name} failed: {result}")
    return _truncated(result if isinstance(result, str) else json.dumps(result, default=str))
