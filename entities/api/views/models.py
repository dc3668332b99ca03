"""``/v1/models``: the Ollama catalogue, in the shape of OpenAI's model list."""

from datetime import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from entities.api.errors import error_response
from inference.providers import ProviderError
from inference.providers.ollama import OllamaProvider

from .base import ApiView


def _created(modified_at: str | None) -> int:
    try:
        return int(datetime.fromisoformat(modified_at).timestamp()) if modified_at else 0
    except ValueError:
        return 0


class ModelListView(ApiView):
    @extend_schema(operation_id="listModels", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        provider = OllamaProvider()
        try:
            models = provider.list_models()
        except ProviderError as exc:
            return error_response(exc.message, status_code=502, code="provider_unavailable")
        data = [
            {
                "id": m.name,
                "object": "model",
                "created": _created(m.modified_at),
                "owned_by": "ollama",
                "size": m.size,
                "details": m.details,
            }
            for m in models
        ]
        return Response({"object": "list", "data": data})
