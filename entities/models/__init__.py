from .assistants import Assistant, FunctionDefinition
from .runs import Run, RunEvent, RunStep
from .threads import File, Message, Thread
from .users import ApiKey, User

__all__ = [
    "ApiKey",
    "Assistant",
    "File",
    "FunctionDefinition",
    "Message",
    "Run",
    "RunEvent",
    "RunStep",
    "Thread",
    "User",
]
