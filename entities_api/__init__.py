"""``entities_api``: the Python client of an Entities server.

    from entities_api import OllamaClient, InferenceFactory

    client = OllamaClient()   # ENTITIES_BASE_URL, ENTITIES_API_KEY
    user = client.user_service.create_user(name="alice")

Every entity has its service on the client (``user_service``, ``api_key_service``,
``assistant_service``, ``function_definition_service`` (also ``tool_service``),
``thread_service``, ``message_service``, ``run_service``, ``file_service``); errors are
:class:`APIError` subclasses. ``InferenceFactory`` makes runners that stream a run's answer.
"""

__version__ = "0.1.0"

from .client import OllamaClient
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    EntitiesError,
    InternalServerError,
    MissingFunctionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    RunError,
)
from .inference import InferenceFactory
from .pagination import Page, Pager
from .types import (
    ApiKey,
    Assistant,
    Deleted,
    File,
    FunctionDefinition,
    Message,
    Run,
    RunStep,
    Thread,
    ToolCall,
    User,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ApiKey",
    "Assistant",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "Deleted",
    "EntitiesError",
    "File",
    "FunctionDefinition",
    "InferenceFactory",
    "InternalServerError",
    "Message",
    "MissingFunctionError",
    "NotFoundError",
    "OllamaClient",
    "Page",
    "Pager",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "Run",
    "RunError",
    "RunStep",
    "Thread",
    "ToolCall",
    "User",
    "__version__",
]
