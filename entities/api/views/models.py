"""``/v1/models``: the models of every Ollama host that is up and of every configured
endpoint, in the shape of OpenAI's model list."""

from datetime import datetime

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from entities.api.errors import error_response
from entities.api.schema import ERROR
from inference.providers import ProviderError, available_models

from .base import ApiView


def _created(modified_at: str | None) -> int:
    try:
        return int(datetime.fromisoformat(modified_at).timestamp()) if modified_at else 0
    except ValueError:
        return 0


def _owner(name: str) -> str:
    """The endpoint a model runs on (as ``resolve`` reads its name), else Ollama."""
    prefix, _, rest = name.partition("/")
    return prefix if rest and prefix in settings.INFERENCE_ENDPOINTS else "ollama"


class ModelListView(ApiView):
    @extend_schema(
        operation_id="listModels",
        responses={
            200: OpenApiTypes.OBJECT,
            502: OpenApiResponse(ERROR, description="No Ollama host or endpoint answered."),
        },
    )
    def get(self, request: Request) -> Response:
        try:
            models = available_models()
        except ProviderError as exc:
            return error_response(exc.message, status_code=502, code="provider_unavailable")
        data = [
            {
                "id": m.name,
                "object": "model",
                "created": _created(m.modified_at),
                "owned_by": _owner(m.name),
                "size": m.size,
                "details": m.details,
            }
            for m in models
        ]
        return Response({"object": "list", "data": data})
