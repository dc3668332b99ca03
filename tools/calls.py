"""Checking and running the tool calls a model makes.

Every call gets an id (``call_…``) and its arguments as a JSON string, as OpenAI's wire has
them. Arguments that are not JSON, a function the run does not have, or arguments that break
the function's schema become an error output the model sees (and may correct). Calls of
server-side functions run here, with a timeout; the rest go to the client.
"""

import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from jsonschema import Draft202012Validator

from inference.providers import ToolCall

from .code_interpreter import NAME as CODE_INTERPRETER
from .functions import registry

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="server-function")


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
            call.output = f"Error: {call.error} Call it again with corrected arguments."
    return prepared


def run_server_call(call: Call) -> str:
    """Run a server-side function; whatever happens becomes the output the model reads."""
    function = registry()[call.name]
    assert call.parsed is not None
    future = _pool.submit(function.call, **call.parsed)
    try:
        result = future.result(timeout=settings.SERVER_FUNCTION_TIMEOUT_SECONDS)
    except FutureTimeout:
        return (
            f"Error: {call.name} did not finish within "
            f"{settings.SERVER_FUNCTION_TIMEOUT_SECONDS:g} seconds."
        )
    except Exception as exc:  # the function's own failure is the model's to read, not a crash
        return f"Error: {call.name} failed: {exc}"
    return result if isinstance(result, str) else json.dumps(result, default=str)
