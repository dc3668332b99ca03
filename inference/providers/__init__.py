"""Providers, chosen by the run's model: ``ENDPOINT/MODEL`` for a configured endpoint, else Ollama.

The registry maps a provider type to the class that speaks it; adding one is adding a module
and a line here.
"""

from django.conf import settings
from django.utils.module_loading import import_string

from .base import ChatRequest, ChatStream, Chunk, ModelInfo, Provider, ProviderError, ToolCall

PROVIDERS = {
    "ollama": "inference.providers.ollama.OllamaProvider",
    "openai-compatible": "inference.providers.openai_compatible.OpenAICompatibleProvider",
}

__all__ = [
    "ChatRequest",
    "ChatStream",
    "Chunk",
    "ModelInfo",
    "Provider",
    "ProviderError",
    "ToolCall",
    "resolve",
]


def resolve(model: str) -> tuple[Provider, str]:
    """The provider for a model name, and the name that provider knows the model by."""
    prefix, _, rest = model.partition("/")
    endpoint = settings.INFERENCE_ENDPOINTS.get(prefix) if rest else None
    if endpoint is not None:
        kind = endpoint.get("provider", "openai-compatible")
        provider_class = import_string(PROVIDERS[kind])
        return provider_class(name=prefix, **endpoint), rest
    return import_string(PROVIDERS["ollama"])(), model
