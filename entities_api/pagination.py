"""Lists: the server answers pages (``limit``, ``order``, ``after``/``before`` cursors);
:class:`Pager` walks them for you."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool


class Pager(Generic[T]):
    """Every item of a list, in order, fetching the next page only when iteration needs it.

    ``limit`` is the page size. With ``before`` (and no ``after``) the pages walk towards
    older cursors: the next page is the one before this page's first item.
    """

    def __init__(
        self,
        fetch: Callable[[dict[str, Any]], dict[str, Any]],
        parse: Callable[[dict[str, Any]], T],
        params: dict[str, Any],
    ) -> None:
        self._fetch = fetch
        self._parse = parse
        self._params = {k: v for k, v in params.items() if v is not None}

    def _page(self, params: dict[str, Any]) -> Page[T]:
        body = self._fetch(params)
        return Page(
            data=[self._parse(item) for item in body["data"]],
            first_id=body.get("first_id"),
            last_id=body.get("last_id"),
            has_more=bool(body.get("has_more")),
        )

    def first_page(self) -> Page[T]:
        return self._page(dict(self._params))

    def pages(self) -> Iterator[Page[T]]:
        params = dict(self._params)
        backwards = "before" in params and "after" not in params
        while True:
            page = self._page(params)
            yield page
            if not page.has_more or not page.data:
                return
            if backwards:
                params["before"] = page.first_id
            else:
                params["after"] = page.last_id

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data

    def to_list(self) -> list[T]:
        return list(self)
