from .assistants import Assistant, FunctionDefinition
from .console import Console
from .runs import Run, RunEvent, RunStep
from .threads import File, Message, Thread
from .users import ApiKey, User

__all__ = [
    "ApiKey",
    "Assistant",
    "Console",
    "File",
    "FunctionDefinition",
    "Message",
    "Run",
    "RunEvent",
    "RunStep",
    "Thread",
    "User",
]
