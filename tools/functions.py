"""Server-side functions: Python callables the worker runs itself when a model calls them.

Register one with ``@server_function``; its JSON Schema comes from the signature (types and
defaults) and the docstring (first paragraph: the description; ``name: text`` lines under
``Args:``: the parameters' descriptions). Operators list more modules in the
``SERVER_FUNCTION_MODULES`` setting. An assistant uses one by having a function tool of the
same name (``python manage.py sync_functions`` makes a FunctionDefinition for each).
"""

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings

_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class ServerFunction:
    name: str
    description: str
    parameters: dict[str, Any]
    call: Callable[..., Any]

    def as_tool(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


_REGISTRY: dict[str, ServerFunction] = {}


def _json_type(annotation: Any) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _json_type(options[0]) if len(options) == 1 else {}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(annotation))}
    if origin in (list, tuple):
        return {"type": "array"}
    if origin is dict or annotation is dict:
        return {"type": "object"}
    if annotation is list:
        return {"type": "array"}
    return {"type": _JSON_TYPES[annotation]} if annotation in _JSON_TYPES else {}


def _describe(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph, and each ``name: text`` under ``Args:`` (continued when indented)."""
    description, _, rest = inspect.cleandoc(doc or "").partition("\n\n")
    params: dict[str, str] = {}
    current, indent = None, 0
    for line in rest.splitlines():
        width = len(line) - len(line.lstrip())
        match = re.match(r"^\s*(\w+)\s*(?:\([^)]*\))?:[ \t]*(\S.*)$", line)
        if match and (current is None or width <= indent):
            current, indent = match.group(1), width
            params[current] = match.group(2).strip()
        elif current is not None and line.strip() and width > indent:
            params[current] += " " + line.strip()
        else:
            current = None
    return " ".join(description.split()), params


def server_function(func: Callable[..., Any]) -> Callable[..., Any]:
    description, param_docs = _describe(func.__doc__ or "")
    hints = typing.get_type_hints(func)
    properties: dict[str, Any] = {}
    required = []
    for name, parameter in inspect.signature(func).parameters.items():
        schema = _json_type(hints.get(name, Any))
        if name in param_docs:
            schema["description"] = param_docs[name]
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
        else:
            schema["default"] = parameter.default
        properties[name] = schema
    parameters = {"type": "object", "properties": properties, "required": required}
    _REGISTRY[func.__name__] = ServerFunction(func.__name__, description, parameters, func)
    return func


def registry() -> dict[str, ServerFunction]:
    for module in ("tools.builtin", *settings.SERVER_FUNCTION_MODULES):
        import_module(module)
    return _REGISTRY


def with_server_schema(tool: dict[str, Any]) -> dict[str, Any]:
    """A function tool named after a server function, given its description and parameters
    where the tool leaves them out (so ``{"name": "calculate"}`` is enough)."""
    if tool.get("type") != "function":
        return tool
    function = registry().get(tool["function"]["name"])
    if function is None:
        return tool
    merged = {**function.as_tool()["function"], **tool["function"]}
    if not tool["function"].get("parameters"):
        merged["parameters"] = function.parameters
    if not tool["function"].get("description"):
        merged["description"] = function.description
    return {"type": "function", "function": merged}
