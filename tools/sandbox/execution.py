"""One execution: model-written code in a new sandbox, and what it printed and left behind.

The worker starts bubblewrap as the unprivileged ``SANDBOX_UID`` (when the worker is root):
under uid 0 the kernel would exempt the sandbox from RLIMIT_NPROC (it never limits the
processes of root's user), and files it wrote would be root's. Bubblewrap then makes an
unprivileged user namespace, so no setuid helper is involved.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .bubblewrap import (
    HOST_ENV,
    Interpreter,
    SandboxUnavailable,
    bwrap_command,
    find_bwrap,
    interpreter,
    runner_command,
    sandbox_env,
)
from .limits import LIMIT_NAMES, LimitName, Limits
from .supervise import Cancellation, Outcome, supervise
from .workdir import MOUNT_POINT, OutputFile, changed_files, prepare_workdir, snapshot

logger = logging.getLogger(__name__)

LIMIT_MESSAGES: dict[LimitName, str] = {
    "wall": "the time limit was reached",
    "cpu": "the CPU time limit was reached",
    "memory": "the memory limit was reached",
    "processes": "the limit on processes and threads was reached",
    "file_size": "the file size limit was reached",
    "open_files": "the limit on open files was reached",
    "output": "the output limit was reached",
}
assert set(LIMIT_MESSAGES) == set(LIMIT_NAMES)


@dataclass(frozen=True)
class Execution:
    stdout: str
    stderr: str
    # The code's exit status; 128 + N when signal N ended it (137 when the worker killed it).
    exit_code: int
    duration_seconds: float
    limit_hit: LimitName | None
    # Stopped by a Cancellation (the run was cancelled), not by a limit.
    cancelled: bool
    files: tuple[OutputFile, ...]
    # Files in /mnt/data passed over: links (never followed), fifos, files over a cap.
    skipped: tuple[str, ...]
    # False only in the unsafe development mode (no bubblewrap).
    sandboxed: bool

    @property
    def timed_out(self) -> bool:
        return self.limit_hit == "wall"

    @property
    def images(self) -> tuple[OutputFile, ...]:
        return tuple(f for f in self.files if f.is_image)

    @property
    def logs(self) -> str:
        """What the model is told: the output, and why the code stopped if a limit did it."""
        parts = [p for p in (self.stdout, self.stderr) if p]
        if self.limit_hit:
            parts.append(f"[stopped: {LIMIT_MESSAGES[self.limit_hit]}]")
        elif self.cancelled:
            parts.append("[stopped: the run was cancelled]")
        return "\n".join(parts)


@dataclass(frozen=True)
class _Job:
    code: str
    python: Interpreter
    workdir: Path
    limits: Limits
    cancel: Cancellation | None


def execute(
    code: str,
    *,
    workdir: Path,
    limits: Limits | None = None,
    cancel: Cancellation | None = None,
) -> Execution:
    """Run ``code`` in a new sandbox with ``workdir`` at /mnt/data and wait for it to end.

    Raises SandboxUnavailable when bubblewrap is missing or cannot make its namespaces, unless
    ``SANDBOX_UNSAFE_DEV_MODE`` is on (then the code runs with the resource limits alone).
    ``cancel``, set from another thread, stops the code at once.
    """
    if settings.SANDBOX_UID == 0 or settings.SANDBOX_GID == 0:
        raise SandboxUnavailable("SANDBOX_UID and SANDBOX_GID must not be 0 (root).")
    limits = limits or Limits.from_settings()
    job = _Job(code, interpreter(str(settings.SANDBOX_PYTHON)), workdir, limits, cancel)
    prepare_workdir(workdir)
    before = snapshot(workdir)
    bwrap = find_bwrap()
    sandboxed = bwrap is not None
    if bwrap is None:
        outcome = _unsafe_or_refuse(
            job,
            f"bubblewrap ({settings.SANDBOX_BWRAP}) is not installed: install the `bubblewrap` "
            "package (`make sandbox` does it as root on Debian/Ubuntu).",
        )
    else:
        outcome = _run_sandboxed(job, bwrap)
        if not outcome.runner_started and outcome.stopped_for is None:
            sandboxed = False
            outcome = _unsafe_or_refuse(
                job,
                f"bubblewrap could not build the sandbox: {outcome.stderr.strip()} "
                "(docs/code-interpreter.md: unprivileged user namespaces must be allowed, and "
                "the sandbox Python and DATA_DIR readable by SANDBOX_UID).",
            )
    files, skipped = changed_files(
        workdir, before, max_files=limits.max_files, max_file_bytes=limits.max_file_bytes
    )
    return Execution(
        stdout=outcome.stdout,
        stderr=outcome.stderr,
        exit_code=outcome.exit_code,
        duration_seconds=outcome.duration_seconds,
        limit_hit=outcome.limit_hit,
        cancelled=outcome.stopped_for == "cancelled",
        files=tuple(files),
        skipped=tuple(skipped),
        sandboxed=sandboxed,
    )


def _unsafe_or_refuse(job: _Job, reason: str) -> Outcome:
    if not settings.SANDBOX_UNSAFE_DEV_MODE:
        raise SandboxUnavailable(
            f"{reason} Code is not run without the sandbox; a developer may set "
            "SANDBOX_UNSAFE_DEV_MODE=true on a machine of their own."
        )
    logger.warning(
        "UNSAFE: running model-written code WITHOUT a sandbox (SANDBOX_UNSAFE_DEV_MODE): it can "
        "read this machine's files and reach its network. Reason: %s",
        reason,
    )
    return _run_unsafe(job)


def _run_sandboxed(job: _Job, bwrap: str) -> Outcome:
    status, bwrap_status = os.pipe(), os.pipe()
    try:
        argv = bwrap_command(
            bwrap=bwrap,
            python=job.python,
            workdir=job.workdir,
            json_status_fd=bwrap_status[1],
            limits=job.limits,
        )
        runner = runner_command(
            job.python, status_fd=status[1], data_dir=MOUNT_POINT, limits=job.limits
        )
        return supervise(
            [*argv, *runner],
            code=job.code,
            limits=job.limits,
            env=HOST_ENV,
            cwd=None,
            status=status,
            bwrap_status=bwrap_status,
            cancel=job.cancel,
        )
    finally:
        os.close(status[0])
        os.close(bwrap_status[0])


def _run_unsafe(job: _Job) -> Outcome:
    status = os.pipe()
    try:
        runner = runner_command(
            job.python, status_fd=status[1], data_dir=str(job.workdir), limits=job.limits
        )
        return supervise(
            runner,
            code=job.code,
            limits=job.limits,
            env=sandbox_env(job.python),
            cwd=job.workdir,
            status=status,
            bwrap_status=None,
            cancel=job.cancel,
        )
    finally:
        os.close(status[0])
