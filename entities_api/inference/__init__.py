"""``InferenceFactory().get_inference(...)``: a runner that streams conversations.

``"local"`` runs models as the server names them (Ollama). ``"cloud"`` runs them on one of
the server's OpenAI-compatible endpoints (``INFERENCE_ENDPOINTS``): the server routes a model
named ``ENDPOINT/MODEL`` there, so a cloud inference prefixes the models it starts runs with
and refuses to follow a run whose model is not on its endpoint.
"""

import os
from collections.abc import Callable, Mapping
from typing import Any

from entities_api.client import OllamaClient
from entities_api.types import Run

from .events import (
    CodeEvent,
    ConversationEvent,
    ImageEvent,
    MessageEvent,
    StatusEvent,
    TextEvent,
    ToolCallEvent,
    ToolOutputEvent,
)
from .runner import ConversationRunner

__all__ = [
    "CloudInference",
    "CodeEvent",
    "ConversationEvent",
    "ConversationRunner",
    "ImageEvent",
    "Inference",
    "InferenceFactory",
    "LocalInference",
    "MessageEvent",
    "StatusEvent",
    "TextEvent",
    "ToolCallEvent",
    "ToolOutputEvent",
]

Functions = Mapping[str, Callable[..., Any]]


class Inference:
    inference_type = ""

    def __init__(self, client: OllamaClient, available_functions: Functions | None) -> None:
        self.client = client
        self.runner = ConversationRunner(client, available_functions=available_functions)


class LocalInference(Inference):
    """Models as the server names them: Ollama's, or ``ENDPOINT/MODEL`` if you write so."""

    inference_type = "local"


class CloudInference(Inference):
    """Models on the server's OpenAI-compatible endpoint ``endpoint``."""

    inference_type = "cloud"

    def __init__(
        self, client: OllamaClient, available_functions: Functions | None, *, endpoint: str
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.runner = ConversationRunner(
            client,
            available_functions=available_functions,
            model_name=self.model_name,
            check_run_model=self._check_run_model,
        )

    def model_name(self, model: str) -> str:
        """``gpt-4o-mini`` → ``ENDPOINT/gpt-4o-mini`` (a name already prefixed stays)."""
        prefix = f"{self.endpoint}/"
        return model if model.startswith(prefix) else prefix + model

    def _check_run_model(self, run: Run, model: str | None) -> None:
        if not run.model.startswith(f"{self.endpoint}/"):
            raise ValueError(
                f"run {run.id} runs the model '{run.model}', which is not on the endpoint "
                f"'{self.endpoint}': create the run with model='{self.model_name(run.model)}', "
                "or let process_conversation create it (run_id=None)"
            )


class InferenceFactory:
    """Makes inferences that share one client (by default ``OllamaClient()``, configured
    from the environment)."""

    def __init__(self, client: OllamaClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> OllamaClient:
        if self._client is None:
            self._client = OllamaClient()
        return self._client

    def get_inference(
        self,
        inference_type: str = "local",
        available_functions: Functions | None = None,
        *,
        endpoint: str | None = None,
    ) -> Inference:
        """``"local"``, or ``"cloud"`` with ``endpoint`` (default: ``ENTITIES_CLOUD_ENDPOINT``),
        a key of the server's ``INFERENCE_ENDPOINTS``."""
        if inference_type == "local":
            return LocalInference(self.client, available_functions)
        if inference_type == "cloud":
            endpoint = endpoint or os.environ.get("ENTITIES_CLOUD_ENDPOINT")
            if not endpoint:
                raise ValueError(
                    "a cloud inference needs the endpoint, a key of the server's "
                    "INFERENCE_ENDPOINTS: get_inference('cloud', endpoint='vllm') or "
                    "ENTITIES_CLOUD_ENDPOINT=vllm"
                )
            return CloudInference(self.client, available_functions, endpoint=endpoint)
        raise ValueError(f"unknown inference_type {inference_type!r}: use 'local' or 'cloud'")
