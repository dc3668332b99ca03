"""OpenAI's list envelope with keyset pagination on the time-ordered public ids.

``after``/``before`` are ids; each page is one indexed range scan of ``limit + 1`` rows, so
its cost does not grow with how long the thread or list is.
"""

from typing import Any

from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from entities.errors import InvalidRequest

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class CursorListPagination(BasePagination):
    has_more = False

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        params = request.query_params
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be an integer from 1 to {MAX_LIMIT}.", param="limit")
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
        after, before = params.get("after"), params.get("before")
        descending = order == "desc"
        if after:
            queryset = (
                queryset.filter(id__lt=after) if descending else queryset.filter(id__gt=after)
            )
        if before:
            queryset = (
                queryset.filter(id__gt=before) if descending else queryset.filter(id__lt=before)
            )
        newest_first = descending
        if before and not after:
            # Walk away from `before` so the page is the items right next to it.
            newest_first = not descending
        rows = list(queryset.order_by("-id" if newest_first else "id")[: limit + 1])
        self.has_more = len(rows) > limit
        rows = rows[:limit]
        return rows[::-1] if newest_first != descending else rows

    def get_paginated_response(self, data: list[dict[str, Any]]) -> Response:
        return Response(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": self.has_more,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["object", "data", "first_id", "last_id", "has_more"],
            "properties": {
                "object": {"type": "string", "enum": ["list"]},
                "data": schema,
                "first_id": {"type": "string", "nullable": True},
                "last_id": {"type": "string", "nullable": True},
                "has_more": {"type": "boolean"},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        def param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
            return {
                "name": name,
                "in": "query",
                "required": False,
                "description": description,
                "schema": schema,
            }

        return [
            param(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                "Page size.",
            ),
            param(
                "order",
                {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
                "Sort by created_at.",
            ),
            param("after", {"type": "string"}, "An id: list the items after it."),
            param("before", {"type": "string"}, "An id: list the items before it."),
        ]
