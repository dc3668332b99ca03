"""Providers, chosen by the run's model: ``ENDPOINT/MODEL`` for a configured endpoint, else Ollama.

The registry maps a provider type to the class that speaks it; adding one is adding a module
and a line here. Which Ollama host answers is chosen by ``inference.hosts``.
"""

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string

from .base import ChatRequest, ChatStream, Chunk, ModelInfo, Provider, ProviderError, ToolCall

if TYPE_CHECKING:
    from entities.models import Run

log = logging.getLogger(__name__)

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
    "available_models",
    "resolve",
]


def resolve(model: str, *, run: "Run | None" = None) -> tuple[Provider, str]:
    """The provider for a model name, and the name that provider knows the model by.

    For a run, or whenever ``OLLAMA_HOSTS`` names several hosts, Ollama models go
    to the host ``inference.hosts`` chooses (set on the run object, for the engine to store
    when it claims the run), and move to another if that one turns out to be down before
    anything was streamed.
    """
    prefix, _, rest = model.partition("/")
    endpoint = settings.INFERENCE_ENDPOINTS.get(prefix) if rest else None
    if endpoint is not None:
        kind = endpoint.get("provider", "openai-compatible")
        provider_class = import_string(PROVIDERS[kind])
        return provider_class(name=prefix, **endpoint), rest
    ollama_class = import_string(PROVIDERS["ollama"])
    from inference import hosts  # here: it needs the app registry, the providers do not

    if not hosts.routing_applies(run):
        return ollama_class(), model
    host = hosts.choose(model, run=run, record=False)
    if host is None:
        raise ProviderError(
            "No Ollama host is enabled: enable one in the admin (Ollama hosts) "
            "or list them in OLLAMA_HOSTS."
        )

    def reroute(failed: str, error: str, tried: Collection[str]) -> str | None:
        return hosts.reroute(model, failed, error, tried=tried, run=run)

    return ollama_class(host=host, reroute=reroute, mark_down=hosts.mark_down), model


def available_models() -> list[ModelInfo]:
    """Every model a run can name: those of the enabled Ollama hosts that are up (each name
    once), then each configured endpoint's as ``ENDPOINT/MODEL``. An endpoint that does not
    answer is left out; ``ProviderError`` when no Ollama host answers."""
    from inference import hosts

    ollama_class = import_string(PROVIDERS["ollama"])
    enabled = [state for state in hosts.host_states(refresh_due=True) if state.enabled]
    # When none is known to be up, each is asked anyway, for the error that says why.
    urls = [state.url for state in enabled if state.state == hosts.UP] or [
        state.url for state in enabled
    ]
    models: dict[str, ModelInfo] = {}
    failures: list[ProviderError] = []
    for url in urls:
        try:
            for model in ollama_class(host=url).list_models():
                models.setdefault(model.name, model)
        except ProviderError as exc:
            failures.append(exc)
    if failures and len(failures) == len(urls):
        raise failures[0]
    for name, endpoint in settings.INFERENCE_ENDPOINTS.items():
        provider_class = import_string(PROVIDERS[endpoint.get("provider", "openai-compatible")])
        try:
            listed = provider_class(name=name, **endpoint).list_models()
        except ProviderError as exc:
            log.warning("Endpoint %s left out of the model list: %s", name, exc.message)
            continue
        for model in listed:
            models.setdefault(model.name, model)
    return list(models.values())
