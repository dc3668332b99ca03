"""One service per entity, each a thin layer over its REST endpoints."""

from .api_keys import ApiKeyService
from .assistants import AssistantService
from .files import FileService
from .function_definitions import FunctionDefinitionService
from .messages import MessageService
from .runs import RunService
from .threads import ThreadService
from .users import UserService

__all__ = [
    "ApiKeyService",
    "AssistantService",
    "FileService",
    "FunctionDefinitionService",
    "MessageService",
    "RunService",
    "ThreadService",
    "UserService",
]
