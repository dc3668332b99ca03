"""The code interpreter's sandbox: model-written Python in bubblewrap, one process per run.

``execute(code, workdir=...)`` is the whole interface for running; ``workdir_for(thread_id)``
and ``stage_file`` prepare /mnt/data; ``record_execution`` keeps an execution for the admin.
docs/code-interpreter.md describes the flags, the limits and what is not contained.
"""

from .bubblewrap import SandboxUnavailable
from .execution import Execution, execute
from .limits import LIMIT_NAMES, LimitName, Limits
from .records import record_execution
from .supervise import Cancellation
from .workdir import MOUNT_POINT, OutputFile, stage_file, workdir_for

__all__ = [
    "LIMIT_NAMES",
    "MOUNT_POINT",
    "Cancellation",
    "Execution",
    "LimitName",
    "Limits",
    "OutputFile",
    "SandboxUnavailable",
    "execute",
    "record_execution",
    "stage_file",
    "workdir_for",
]
