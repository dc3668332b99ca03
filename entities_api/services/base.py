from collections.abc import Callable
from typing import Any, TypeVar

from entities_api.pagination import Pager
from entities_api.transport import Transport

T = TypeVar("T")


class Service:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _pager(
        self,
        path: str,
        parse: Callable[[dict[str, Any]], T],
        *,
        limit: int | None,
        order: str | None,
        after: str | None,
        before: str | None,
        **filters: Any,
    ) -> Pager[T]:
        def fetch(params: dict[str, Any]) -> dict[str, Any]:
            body: dict[str, Any] = self._transport.get(path, **params)
            return body

        params = {"limit": limit, "order": order, "after": after, "before": before, **filters}
        return Pager(fetch, parse, params)
