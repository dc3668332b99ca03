from typing import Any

from entities_api.pagination import Pager
from entities_api.transport import compact
from entities_api.types import Deleted, Thread

from .base import Service


class ThreadService(Service):
    def create_thread(
        self,
        *,
        participant_ids: list[str] | None = None,
        messages: list[dict[str, Any]] | None = None,
        metadata: dict[str, str] | None = None,
        tool_resources: dict[str, Any] | None = None,
    ) -> Thread:
        """A thread, optionally with its first messages (``{"role", "content", ...}``).

        You take part in it unless you are an admin naming the ``participant_ids``.
        """
        body = compact(
            participant_ids=participant_ids,
            messages=messages,
            metadata=metadata,
            tool_resources=tool_resources,
        )
        return Thread.from_dict(self._transport.post("threads", body))

    def retrieve_thread(self, thread_id: str) -> Thread:
        return Thread.from_dict(self._transport.get(f"threads/{thread_id}"))

    def update_thread(
        self,
        thread_id: str,
        *,
        participant_ids: list[str] | None = None,
        metadata: dict[str, str] | None = None,
        tool_resources: dict[str, Any] | None = None,
    ) -> Thread:
        body = compact(
            participant_ids=participant_ids, metadata=metadata, tool_resources=tool_resources
        )
        return Thread.from_dict(self._transport.post(f"threads/{thread_id}", body))

    def delete_thread(self, thread_id: str) -> Deleted:
        return Deleted.from_dict(self._transport.delete(f"threads/{thread_id}"))

    def list_threads(
        self,
        user_id: str | None = None,
        *,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Pager[Thread]:
        """The threads a user (by default: you) takes part in."""
        if user_id is None:
            user_id = self._transport.get("users/me")["id"]
        return self._pager(
            f"users/{user_id}/threads",
            Thread.from_dict,
            limit=limit,
            order=order,
            after=after,
            before=before,
        )
