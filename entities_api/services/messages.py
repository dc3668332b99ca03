from typing import Any

from entities_api.pagination import Pager
from entities_api.transport import compact
from entities_api.types import Deleted, Message

from .base import Service


class MessageService(Service):
    def create_message(
        self,
        *,
        thread_id: str,
        content: str | list[dict[str, Any]],
        role: str = "user",
        sender_id: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Message:
        """Add a message; admins may send as another participant (``sender_id``)."""
        body = compact(
            role=role,
            content=content,
            sender_id=sender_id,
            attachments=attachments,
            metadata=metadata,
        )
        return Message.from_dict(self._transport.post(f"threads/{thread_id}/messages", body))

    def retrieve_message(self, thread_id: str, message_id: str) -> Message:
        return Message.from_dict(self._transport.get(f"threads/{thread_id}/messages/{message_id}"))

    def update_message(
        self, thread_id: str, message_id: str, *, metadata: dict[str, str]
    ) -> Message:
        data = self._transport.post(
            f"threads/{thread_id}/messages/{message_id}", {"metadata": metadata}
        )
        return Message.from_dict(data)

    def delete_message(self, thread_id: str, message_id: str) -> Deleted:
        return Deleted.from_dict(
            self._transport.delete(f"threads/{thread_id}/messages/{message_id}")
        )

    def list_messages(
        self,
        thread_id: str,
        *,
        run_id: str | None = None,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Pager[Message]:
        """The thread's messages (newest first unless ``order="asc"``), optionally one run's."""
        return self._pager(
            f"threads/{thread_id}/messages",
            Message.from_dict,
            limit=limit,
            order=order,
            after=after,
            before=before,
            run_id=run_id,
        )
