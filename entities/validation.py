"""Checks of the Assistants v2 JSON shapes, shared by the REST API and the admin console.

Each validator raises Django's ``ValidationError`` with a message that names the offending
part (``tools[1].function.name``), so DRF and admin forms both show it as it is.
"""

import re
from typing import Any

from django.core.exceptions import ValidationError
from jsonschema import SchemaError
from jsonschema.validators import validator_for

METADATA_MAX_PAIRS = 16
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 512
MAX_TOOLS = 128
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


# How deep objects and lists may nest in a request (a JSON Schema 30 levels deep fits): past it
# the recursive code that reads them (the JSON decoder, jsonschema, the serializers) would
# raise RecursionError, which is a 500.
MAX_JSON_DEPTH = 64

# PostgreSQL cannot store NUL, in text or in JSON. A lone surrogate (half of a UTF-16 pair,
# which JSON's "\ud800" escape can name) is not a character: it is stored, and then no
# response that holds it can be encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class NestedTooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__(f"it is nested more than {MAX_JSON_DEPTH} levels deep.")


def _fault(text: str) -> str | None:
    """What in ``text`` cannot be stored, as the end of a sentence; None when all of it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\0":
        return "the NUL character (\\u0000)"
    return f"a lone surrogate (\\u{ord(found.group()):04x}), half of a UTF-16 pair and no character"


def unstorable_text(value: Any, where: str = "") -> tuple[str, str] | None:
    """The path (``messages[0].content``) of the first string in ``value``, keys included, that
    cannot be stored, and the message that says why; None when every string can be.

    Raises ``NestedTooDeep`` past ``MAX_JSON_DEPTH`` levels. It walks with a stack of its own,
    not by recursion, so any depth the JSON decoder produced is safe to walk.
    """
    pending = [(value, where, 0)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, str):
            if fault := _fault(item):
                return path, f"{path or 'The request body'} must not contain {fault}."
            continue
        if not isinstance(item, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise NestedTooDeep()
        if isinstance(item, list):
            children = [(child, f"{path}[{index}]") for index, child in enumerate(item)]
        else:
            children = []
            for key, child in item.items():
                if isinstance(key, str) and (fault := _fault(key)):
                    return path, f"{path or 'The request body'} must not have a key with {fault}."
                children.append((child, f"{path}.{key}" if path else str(key)))
        pending.extend((child, child_path, depth + 1) for child, child_path in reversed(children))
    return None


def validate_text(value: Any, where: str) -> None:
    """Refuse text that cannot be stored (see ``unstorable_text``), anywhere in ``value``."""
    try:
        fault = unstorable_text(value, where)
    except NestedTooDeep as exc:
        raise ValidationError(f"{where}: {exc}") from None
    if fault is not None:
        raise ValidationError(fault[1])


def validate_metadata(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError("metadata must be an object of string keys and string values.")
    validate_text(value, "metadata")
    if len(value) > METADATA_MAX_PAIRS:
        raise ValidationError(f"metadata can have at most {METADATA_MAX_PAIRS} pairs.")
    for key, item in value.items():
        if len(key) > METADATA_KEY_MAX:
            raise ValidationError(
                f"metadata key '{key[:20]}…' is longer than {METADATA_KEY_MAX} characters."
            )
        if not isinstance(item, str):
            raise ValidationError(f"metadata['{key}'] must be a string.")
        if len(item) > METADATA_VALUE_MAX:
            raise ValidationError(
                f"metadata['{key}'] is longer than {METADATA_VALUE_MAX} characters."
            )


def validate_json_schema(value: Any, where: str = "parameters") -> None:
    """A function's parameters must be a JSON Schema object that passes its meta-schema."""
    if not isinstance(value, dict):
        raise ValidationError(f"{where} must be a JSON Schema object.")
    validate_text(value, where)
    try:
        validator_for(value).check_schema(value)
    except SchemaError as exc:
        path = "".join(f"[{p!r}]" for p in exc.path)
        raise ValidationError(f"{where}{path} is not a valid JSON Schema: {exc.message}") from None


def validate_function_name(value: Any, where: str = "name") -> None:
    if not isinstance(value, str) or not FUNCTION_NAME.match(value):
        raise ValidationError(
            f"{where} must be 1-64 characters of a-z, A-Z, 0-9, underscores and dashes."
        )


def validate_function(value: Any, where: str = "function") -> None:
    if not isinstance(value, dict):
        raise ValidationError(f"{where} must be an object.")
    unknown = set(value) - {"name", "description", "parameters", "strict"}
    if unknown:
        raise ValidationError(f"{where} has unknown field(s): {', '.join(sorted(unknown))}.")
    validate_function_name(value.get("name"), f"{where}.name")
    if not isinstance(value.get("description", ""), str):
        raise ValidationError(f"{where}.description must be a string.")
    if "parameters" in value:
        validate_json_schema(value["parameters"], f"{where}.parameters")
    if not isinstance(value.get("strict", False), bool):
        raise ValidationError(f"{where}.strict must be a boolean.")


def validate_tools(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError("tools must be a list of tool objects.")
    if len(value) > MAX_TOOLS:
        raise ValidationError(f"tools can have at most {MAX_TOOLS} items.")
    validate_text(value, "tools")
    names: set[str] = set()
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        if not isinstance(tool, dict) or "type" not in tool:
            raise ValidationError(f"{where} must be an object with a 'type'.")
        kind = tool["type"]
        if kind == "code_interpreter":
            if set(tool) != {"type"}:
                raise ValidationError(f"{where}: code_interpreter takes no other fields.")
        elif kind == "function":
            if set(tool) != {"type", "function"}:
                raise ValidationError(f"{where} must be {{'type': 'function', 'function': {{…}}}}.")
            validate_function(tool["function"], f"{where}.function")
            name = tool["function"]["name"]
            if name in names:
                raise ValidationError(f"{where}.function.name '{name}' is given twice.")
            names.add(name)
        elif kind == "file_search":
            raise ValidationError(f"{where}: the file_search tool is not supported by this server.")
        else:
            raise ValidationError(
                f"{where}.type must be 'function' or 'code_interpreter', not {kind!r}."
            )


def validate_tool_resources(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError("tool_resources must be an object.")
    validate_text(value, "tool_resources")
    unknown = set(value) - {"code_interpreter", "file_search"}
    if unknown:
        raise ValidationError(f"tool_resources has unknown field(s): {', '.join(sorted(unknown))}.")
    ci = value.get("code_interpreter")
    if ci is not None:
        file_ids = ci.get("file_ids", []) if isinstance(ci, dict) else None
        if not isinstance(file_ids, list) or not all(isinstance(f, str) for f in file_ids):
            raise ValidationError("tool_resources.code_interpreter.file_ids must be a list of ids.")
        if len(file_ids) > 20:
            raise ValidationError("tool_resources.code_interpreter.file_ids can have at most 20.")


def validate_response_format(value: Any) -> None:
    if value == "auto":
        return
    validate_text(value, "response_format")
    if not isinstance(value, dict) or value.get("type") not in (
        "text",
        "json_object",
        "json_schema",
    ):
        raise ValidationError(
            "response_format must be 'auto' or an object with type 'text', 'json_object' "
            "or 'json_schema'."
        )
    if value["type"] == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ValidationError("response_format.json_schema must be an object with a 'name'.")
        if "schema" in spec:
            validate_json_schema(spec["schema"], "response_format.json_schema.schema")


def validate_tool_choice(value: Any) -> None:
    if value in ("none", "auto", "required"):
        return
    if isinstance(value, dict):
        if value.get("type") == "code_interpreter" and set(value) == {"type"}:
            return
        function = value.get("function")
        if value.get("type") == "function" and isinstance(function, dict):
            validate_function_name(function.get("name"), "tool_choice.function.name")
            return
    raise ValidationError(
        "tool_choice must be 'none', 'auto', 'required', {'type': 'function', 'function': "
        "{'name': …}} or {'type': 'code_interpreter'}."
    )


def validate_truncation_strategy(value: Any) -> None:
    if not isinstance(value, dict) or value.get("type") not in ("auto", "last_messages"):
        raise ValidationError("truncation_strategy.type must be 'auto' or 'last_messages'.")
    last = value.get("last_messages")
    if value["type"] == "last_messages" and (not isinstance(last, int) or last < 1):
        raise ValidationError("truncation_strategy.last_messages must be an integer of at least 1.")
    if value["type"] == "auto" and last is not None:
        raise ValidationError("truncation_strategy.last_messages goes with type 'last_messages'.")


def normalize_message_content(value: Any) -> list[dict]:
    """A string or a list of content parts in, the stored Assistants v2 content parts out."""
    if isinstance(value, str):
        if not value:
            raise ValidationError("content must not be empty.")
        return [{"type": "text", "text": {"value": value, "annotations": []}}]
    if not isinstance(value, list) or not value:
        raise ValidationError("content must be a string or a non-empty list of content parts.")
    parts: list[dict] = []
    for index, part in enumerate(value):
        where = f"content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            if not part["text"]:
                raise ValidationError(f"{where}.text must not be empty.")
            parts.append({"type": "text", "text": {"value": part["text"], "annotations": []}})
        elif kind == "image_file" and isinstance(part.get("image_file"), dict):
            image = part["image_file"]
            if not isinstance(image.get("file_id"), str):
                raise ValidationError(f"{where}.image_file.file_id must be a file id.")
            parts.append({"type": "image_file", "image_file": _image_detail(image, where)})
        elif kind == "image_url" and isinstance(part.get("image_url"), dict):
            image = part["image_url"]
            url = image.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:")):
                raise ValidationError(f"{where}.image_url.url must be an http(s) or data URL.")
            parts.append({"type": "image_url", "image_url": _image_detail(image, where)})
        else:
            raise ValidationError(
                f"{where} must be a text, image_file or image_url content part "
                "({'type': 'text', 'text': '…'})."
            )
    return parts


def _image_detail(image: dict, where: str) -> dict:
    detail = image.get("detail", "auto")
    if detail not in ("auto", "low", "high"):
        raise ValidationError(f"{where} detail must be 'auto', 'low' or 'high'.")
    return {**image, "detail": detail}


def validate_attachments(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError("attachments must be a list.")
    for index, item in enumerate(value):
        where = f"attachments[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("file_id"), str):
            raise ValidationError(f"{where} must be an object with a 'file_id'.")
        tools = item.get("tools", [])
        if not isinstance(tools, list) or any(
            not isinstance(t, dict) or t.get("type") not in ("code_interpreter", "file_search")
            for t in tools
        ):
            raise ValidationError(
                f"{where}.tools must be a list of {{'type': 'code_interpreter'}} objects."
            )
