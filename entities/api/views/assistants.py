from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from entities import selectors
from entities.api.inputs import AssistantInput, FunctionDefinitionInput
from entities.api.wire import (
    AssistantSerializer,
    DeletedSerializer,
    FunctionDefinitionSerializer,
    deleted,
)
from entities.errors import PermissionDenied
from entities.services import assistants as services

from .base import ApiView

# Nullable on the wire, but stored as the model's empty default.
_NULL_MEANS_DEFAULT = {"response_format": "auto"}


def _assistant_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _NULL_MEANS_DEFAULT.get(k) if v is None and k in _NULL_MEANS_DEFAULT else v
        for k, v in data.items()
    }


class AssistantListView(ApiView):
    serializer_class = AssistantSerializer

    @extend_schema(operation_id="listAssistants", responses=AssistantSerializer(many=True))
    def get(self, request: Request) -> Response:
        return self.list_response(selectors.assistants_visible_to(self.user), AssistantSerializer)

    @extend_schema(
        operation_id="createAssistant", request=AssistantInput, responses=AssistantSerializer
    )
    def post(self, request: Request) -> Response:
        data = _assistant_fields(self.validated(AssistantInput, request))
        owner = self.user
        if (owner_id := data.pop("user_id", None)) and owner_id != owner.id:
            if not owner.is_admin:
                raise PermissionDenied("Only admins can create assistants for other users.")
            owner = selectors.user_get(self.user, owner_id)
        assistant = services.assistant_create(owner=owner, **data)
        return Response(AssistantSerializer(assistant).data)


class AssistantDetailView(ApiView):
    serializer_class = AssistantSerializer

    @extend_schema(operation_id="getAssistant")
    def get(self, request: Request, assistant_id: str) -> Response:
        return Response(AssistantSerializer(selectors.assistant_get(self.user, assistant_id)).data)

    @extend_schema(operation_id="modifyAssistant", request=AssistantInput)
    def post(self, request: Request, assistant_id: str) -> Response:
        assistant = selectors.assistant_get(self.user, assistant_id)
        data = _assistant_fields(self.validated(AssistantInput, request, creating=False))
        if "user_id" in data:
            if not self.user.is_admin:
                raise PermissionDenied("Only admins can give an assistant to another user.")
            data["owner"] = selectors.user_get(self.user, data.pop("user_id"))
        assistant = services.assistant_update(assistant=assistant, editor=self.user, **data)
        return Response(AssistantSerializer(assistant).data)

    @extend_schema(operation_id="deleteAssistant", responses={200: DeletedSerializer})
    def delete(self, request: Request, assistant_id: str) -> Response:
        assistant = selectors.assistant_get(self.user, assistant_id)
        services.assistant_delete(assistant=assistant)
        return Response(deleted(assistant_id, "assistant"))


def _require_admin(view: ApiView) -> None:
    if not view.user.is_admin:
        raise PermissionDenied("Only admins manage function definitions.")


class FunctionDefinitionListView(ApiView):
    serializer_class = FunctionDefinitionSerializer

    @extend_schema(
        operation_id="listFunctionDefinitions", responses=FunctionDefinitionSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        qs = selectors.function_definitions_visible_to(self.user)
        return self.list_response(qs, FunctionDefinitionSerializer)

    @extend_schema(operation_id="createFunctionDefinition", request=FunctionDefinitionInput)
    def post(self, request: Request) -> Response:
        _require_admin(self)
        data = self.validated(FunctionDefinitionInput, request)
        definition = services.function_definition_create(owner=self.user, **data)
        return Response(FunctionDefinitionSerializer(definition).data)


class FunctionDefinitionDetailView(ApiView):
    serializer_class = FunctionDefinitionSerializer

    @extend_schema(operation_id="getFunctionDefinition")
    def get(self, request: Request, definition_id: str) -> Response:
        definition = selectors.function_definition_get(self.user, definition_id)
        return Response(FunctionDefinitionSerializer(definition).data)

    @extend_schema(operation_id="modifyFunctionDefinition", request=FunctionDefinitionInput)
    def post(self, request: Request, definition_id: str) -> Response:
        _require_admin(self)
        definition = selectors.function_definition_get(self.user, definition_id)
        data = self.validated(FunctionDefinitionInput, request, creating=False)
        definition = services.function_definition_update(definition=definition, **data)
        return Response(FunctionDefinitionSerializer(definition).data)

    @extend_schema(operation_id="deleteFunctionDefinition", responses={200: DeletedSerializer})
    def delete(self, request: Request, definition_id: str) -> Response:
        _require_admin(self)
        definition = selectors.function_definition_get(self.user, definition_id)
        services.function_definition_delete(definition=definition)
        return Response(deleted(definition_id, "function_definition"))
