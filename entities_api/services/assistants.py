from typing import Any

from entities_api.pagination import Pager
from entities_api.transport import compact
from entities_api.types import Assistant, Deleted

from .base import Service


class AssistantService(Service):
    def create_assistant(
        self,
        *,
        model: str,
        name: str | None = None,
        description: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_resources: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        response_format: Any = None,
        function_definition_ids: list[str] | None = None,
        user_id: str | None = None,
    ) -> Assistant:
        """Create an assistant; ``user_id`` (admins only) makes it someone else's."""
        body = compact(
            model=model,
            name=name,
            description=description,
            instructions=instructions,
            tools=tools,
            tool_resources=tool_resources,
            metadata=metadata,
            temperature=temperature,
            top_p=top_p,
            response_format=response_format,
            function_definition_ids=function_definition_ids,
            user_id=user_id,
        )
        return Assistant.from_dict(self._transport.post("assistants", body))

    def retrieve_assistant(self, assistant_id: str) -> Assistant:
        return Assistant.from_dict(self._transport.get(f"assistants/{assistant_id}"))

    def update_assistant(self, assistant_id: str, **fields: Any) -> Assistant:
        """Change the given fields (those of :meth:`create_assistant`)."""
        body = compact(**fields)
        return Assistant.from_dict(self._transport.post(f"assistants/{assistant_id}", body))

    def delete_assistant(self, assistant_id: str) -> Deleted:
        return Deleted.from_dict(self._transport.delete(f"assistants/{assistant_id}"))

    def list_assistants(
        self,
        *,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Pager[Assistant]:
        """Your assistants (admins: all), page after page as you iterate."""
        return self._pager(
            "assistants", Assistant.from_dict, limit=limit, order=order, after=after, before=before
        )
