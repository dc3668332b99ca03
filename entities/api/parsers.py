"""Request bodies, parsed; text that cannot be stored stops here.

Every string a client sends reaches us through one of these parsers (or, for the chat
websocket, through ``check_json``): each key and value is checked once, before any view or
serializer sees it, so no endpoint can forget to. Bodies are JSON, as in OpenAI's API;
multipart only where a file is uploaded (``/v1/files``).
"""

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError

from entities.validation import NestedTooDeep, unstorable_text


def check_json(value: Any) -> None:
    """Raise the API's 400 for a parsed JSON value it will not take: nested too deep
    (``invalid_json``), or holding text that cannot be stored (``invalid_value`` naming
    the path, as ``metadata.k`` or ``messages[0].content``)."""
    try:
        fault = unstorable_text(value)
    except NestedTooDeep as exc:
        raise ParseError(str(exc)) from None
    if fault is not None:
        path, message = fault
        raise serializers.ValidationError({path or "non_field_errors": [message]})


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the decoder's own limit, far past ours
            raise ParseError(str(NestedTooDeep())) from None
        check_json(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """Form fields and file names are checked as JSON strings are. (Django already drops
    unprintable characters from file names; a field's value it keeps as sent.)"""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        fields: dict[str, Any] = {}
        for name, values in parsed.data.lists():
            fields[name] = values[0] if len(values) == 1 else values
        for name, upload in parsed.files.items():
            fields.setdefault(name, getattr(upload, "name", None) or "")
        check_json(fields)
        return parsed
