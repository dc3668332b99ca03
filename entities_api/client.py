"""``OllamaClient``: the server's address and key, and a service per entity."""

import os
from types import TracebackType
from typing import Self

import httpx

from .errors import EntitiesError
from .services import (
    ApiKeyService,
    AssistantService,
    FileService,
    FunctionDefinitionService,
    MessageService,
    RunService,
    ThreadService,
    UserService,
)
from .transport import Transport

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def api_root(base_url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/v1`` both mean the server's ``/v1``."""
    base_url = base_url.rstrip("/")
    return base_url if base_url.endswith("/v1") else f"{base_url}/v1"


class OllamaClient:
    """A client of an Entities server.

    ``base_url`` and ``api_key`` default to the environment's ``ENTITIES_BASE_URL`` (else
    ``http://127.0.0.1:8000``) and ``ENTITIES_API_KEY`` (``make run`` prints one).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("ENTITIES_BASE_URL") or DEFAULT_BASE_URL
        api_key = api_key or os.environ.get("ENTITIES_API_KEY")
        if not api_key:
            raise EntitiesError(
                "No API key: set ENTITIES_API_KEY (make run prints the admin's key) "
                "or pass OllamaClient(api_key=...)."
            )
        self.base_url = api_root(base_url)
        self.api_key = api_key
        self.transport = Transport(self.base_url, api_key, timeout=timeout, http_client=http_client)
        self.user_service = UserService(self.transport)
        self.api_key_service = ApiKeyService(self.transport)
        self.assistant_service = AssistantService(self.transport)
        self.function_definition_service = FunctionDefinitionService(self.transport)
        self.tool_service = self.function_definition_service
        self.thread_service = ThreadService(self.transport)
        self.message_service = MessageService(self.transport)
        self.run_service = RunService(self.transport)
        self.file_service = FileService(self.transport)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
