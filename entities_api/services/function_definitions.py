"""Function definitions (an extension of ours): functions operators define once and assign to
assistants (``function_definition_ids``). Admins write them; everyone reads them."""

from typing import Any

from entities_api.pagination import Pager
from entities_api.transport import compact
from entities_api.types import Deleted, FunctionDefinition

from .base import Service


class FunctionDefinitionService(Service):
    def create_function_definition(
        self,
        *,
        name: str,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
        strict: bool | None = None,
    ) -> FunctionDefinition:
        body = compact(name=name, description=description, parameters=parameters, strict=strict)
        return FunctionDefinition.from_dict(self._transport.post("function_definitions", body))

    def retrieve_function_definition(self, definition_id: str) -> FunctionDefinition:
        data = self._transport.get(f"function_definitions/{definition_id}")
        return FunctionDefinition.from_dict(data)

    def update_function_definition(
        self,
        definition_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
        strict: bool | None = None,
    ) -> FunctionDefinition:
        body = compact(name=name, description=description, parameters=parameters, strict=strict)
        data = self._transport.post(f"function_definitions/{definition_id}", body)
        return FunctionDefinition.from_dict(data)

    def delete_function_definition(self, definition_id: str) -> Deleted:
        return Deleted.from_dict(self._transport.delete(f"function_definitions/{definition_id}"))

    def list_function_definitions(
        self,
        *,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Pager[FunctionDefinition]:
        return self._pager(
            "function_definitions",
            FunctionDefinition.from_dict,
            limit=limit,
            order=order,
            after=after,
            before=before,
        )
