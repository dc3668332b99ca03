"""What one execution may use. Defaults come from settings (``SANDBOX_*``), tests pass their own."""

from dataclasses import dataclass, replace
from typing import Any, Literal

from django.conf import settings

# Which limit stopped an execution, as Execution.limit_hit and SandboxExecution.limit_hit name it.
LimitName = Literal["wall", "cpu", "memory", "processes", "file_size", "open_files", "output"]
LIMIT_NAMES: tuple[LimitName, ...] = (
    "wall",
    "cpu",
    "memory",
    "processes",
    "file_size",
    "open_files",
    "output",
)


@dataclass(frozen=True)
class Limits:
    """Per-execution limits.

    ``memory_bytes`` is RLIMIT_AS of each process and ``cpu_seconds`` RLIMIT_CPU of each process;
    ``processes`` is RLIMIT_NPROC, counting the processes *and threads* of this sandbox (its
    own user namespace keeps other sandboxes out of the count). ``output_bytes`` caps stdout and
    stderr together: past it the execution is stopped. ``tmp_bytes`` sizes the private /tmp
    (and /dev/shm), which lives in memory. ``max_files`` / ``max_file_bytes`` cap the files
    reported back from /mnt/data.
    """

    cpu_seconds: int = 30
    wall_seconds: float = 60.0
    memory_bytes: int = 1024 * 1024 * 1024
    processes: int = 64
    file_size_bytes: int = 100 * 1024 * 1024
    open_files: int = 256
    output_bytes: int = 64 * 1024
    tmp_bytes: int = 64 * 1024 * 1024
    max_files: int = 20
    max_file_bytes: int = 50 * 1024 * 1024

    @classmethod
    def from_settings(cls, **overrides: Any) -> "Limits":
        return replace(
            cls(
                cpu_seconds=settings.SANDBOX_CPU_SECONDS,
                wall_seconds=settings.SANDBOX_WALL_SECONDS,
                memory_bytes=settings.SANDBOX_MEMORY_BYTES,
                processes=settings.SANDBOX_PROCESSES,
                file_size_bytes=settings.SANDBOX_FILE_SIZE_BYTES,
                open_files=settings.SANDBOX_OPEN_FILES,
                output_bytes=settings.SANDBOX_OUTPUT_BYTES,
                tmp_bytes=settings.SANDBOX_TMP_BYTES,
                max_files=settings.SANDBOX_MAX_FILES,
                max_file_bytes=settings.SANDBOX_MAX_FILE_BYTES,
            ),
            **overrides,
        )

    def rlimits(self) -> dict[str, tuple[int, int]]:
        """The setrlimit calls the runner makes, soft and hard equal so the code cannot raise
        them. CPU's hard limit is a second later: SIGXCPU first, then SIGKILL if it is caught.
        RLIMIT_CORE of 1 stops core dumps, even to a pipe helper of the host (``core(5)``)."""
        return {
            "RLIMIT_CORE": (1, 1),
            "RLIMIT_CPU": (self.cpu_seconds, self.cpu_seconds + 1),
            "RLIMIT_AS": (self.memory_bytes, self.memory_bytes),
            "RLIMIT_NPROC": (self.processes, self.processes),
            "RLIMIT_FSIZE": (self.file_size_bytes, self.file_size_bytes),
            "RLIMIT_NOFILE": (self.open_files, self.open_files),
        }
