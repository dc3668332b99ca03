"""The OpenAPI document's shared parts: every operation's error responses, in one place.

Every error the API answers has OpenAI's body (``entities.api.errors``), so every operation
documents the same ``Error`` component under each status a request can meet: a bad body or
query (400), no or a wrong key (401), someone else's object (403), an unknown id (404), a
conflicting state such as a second active run (409), a body over the limit (413), and a
dependency that is down (503). Clients generated from the document then parse our errors.
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR_DETAIL = inline_serializer(
    "ErrorDetail",
    {
        "message": serializers.CharField(),
        "type": serializers.CharField(),
        "param": serializers.CharField(allow_null=True),
        "code": serializers.CharField(allow_null=True),
    },
)
ERROR = inline_serializer("Error", {"error": ERROR_DETAIL})

# One server-sent event of a run's stream, as an SSE client reads it.
SERVER_SENT_EVENT = inline_serializer(
    "ServerSentEvent",
    {
        "id": serializers.CharField(
            required=False, help_text="The event's number in its run, for `Last-Event-ID`."
        ),
        "event": serializers.CharField(help_text="OpenAI's event name, or `done` at the end."),
        "data": serializers.CharField(
            help_text="The event's object as JSON (a run, step, message or delta), or `[DONE]`."
        ),
    },
)

ERROR_RESPONSES = {
    "400": "The request is invalid: its body, a parameter or its JSON.",
    "401": "No API key, or one that is wrong, expired or revoked.",
    "403": "The key's user may not do this.",
    "404": "No such object, or not one the key's user can see.",
    "409": "The object's state does not allow this now (e.g. the thread has an active run).",
    "413": "The request body is over the server's limit.",
    "415": "The body is not JSON (uploads to /v1/files: multipart/form-data).",
    "503": "A dependency (the database) is unavailable; retry after `Retry-After` seconds.",
}


class EntitiesAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the API's error responses on every operation."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status, description in ERROR_RESPONSES.items():
            if status not in responses:
                error = OpenApiResponse(ERROR, description=description)
                responses[status] = self._get_response_for_code(
                    error, status, ["application/json"], direction
                )
        return responses
