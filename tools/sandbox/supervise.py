"""Watching one sandbox process: feed it the code, collect its output, end it on time.

Everything is waited on with one selector (the pipes, a pidfd of the process, bubblewrap's
status pipe, a cancellation): no polling, no sleeping.

Ending an execution ends every process in it: the sandbox has its own PID namespace, and when
its init dies the kernel kills the rest. On a timeout, an output flood or a cancel the worker
kills that init (through a pidfd, so never a reused pid) and bubblewrap's process group. Either
way it then waits until the init is gone, which the kernel reports only once the namespace is
empty: bubblewrap itself exits a moment before, while a ``setsid`` orphan is still being killed.
"""

import contextlib
import json
import logging
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.conf import settings

from .limits import LimitName, Limits

logger = logging.getLogger(__name__)

# How long the worker waits for a killed sandbox's namespace to empty (it takes milliseconds).
_REAP_SECONDS = 10.0
# Limits the runner recognises from the error that ended the code.
_RUNNER_LIMITS: frozenset[str] = frozenset({"memory", "processes", "file_size", "open_files"})

Stop = Literal["wall", "output", "cancelled"]


class Cancellation:
    """Stops an execution from another thread, at once (a run's cancel): ``set()``.

    An eventfd, so the execution's selector waits on it with the rest. Close it when done.
    """

    def __init__(self) -> None:
        self._fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._set = False

    def set(self) -> None:
        self._set = True
        os.eventfd_write(self._fd, 1)

    def is_set(self) -> bool:
        return self._set

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> "Cancellation":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Outcome:
    stdout: str
    stderr: str
    # 128 + N when signal N ended it, as a shell has it.
    exit_code: int
    duration_seconds: float
    stopped_for: Stop | None
    runner_started: bool
    runner_limit: str | None
    truncated: bool

    @property
    def limit_hit(self) -> LimitName | None:
        if self.stopped_for in ("wall", "output"):
            return self.stopped_for
        if self.stopped_for is not None:
            return None
        # RLIMIT_CPU's SIGXCPU. Code that catches it is killed a second later (137), which is
        # not told apart from other kills: the worker does not see the sandbox's CPU time.
        if self.exit_code == 128 + signal.SIGXCPU:
            return "cpu"
        if self.runner_limit in _RUNNER_LIMITS:
            return self.runner_limit  # type: ignore[return-value]
        return "output" if self.truncated else None


def _privileges() -> dict[str, Any]:
    """Popen arguments that start the child as the sandbox uid when the worker is root."""
    if os.geteuid() != 0:
        return {}
    return {"user": settings.SANDBOX_UID, "group": settings.SANDBOX_GID, "extra_groups": []}


def supervise(
    argv: list[str],
    *,
    code: str,
    limits: Limits,
    env: dict[str, str],
    cwd: Path | None,
    status: tuple[int, int],
    bwrap_status: tuple[int, int] | None,
    cancel: Cancellation | None,
) -> Outcome:
    """Start ``argv``, feed it the code, collect its output within the limits, and end it.

    ``status`` is the runner's status pipe, ``bwrap_status`` bubblewrap's (none in the unsafe
    mode): (read end, write end). The write ends go to the child and are closed here; the read
    ends stay the caller's.
    """
    child_ends = (status[1], *(bwrap_status[1:] if bwrap_status else ()))
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=child_ends,
            env=env,
            cwd=cwd,
            start_new_session=True,
            **_privileges(),
        )
    finally:
        for fd in child_ends:  # the child has its copies; ours would hide the end of the pipes
            os.close(fd)
    assert process.stdin and process.stdout and process.stderr
    deadline = started + limits.wall_seconds
    exited = os.pidfd_open(process.pid)
    sandbox = _BwrapStatus(bwrap_status[0] if bwrap_status else None)
    output = _Output(limits.output_bytes)
    stopped_for: Stop | None = None
    watched = False
    try:
        stopped_for = _watch(process, exited, sandbox, output, code.encode(), deadline, cancel)
        watched = True
    finally:
        try:
            # Not watched to the end: the worker itself failed; never leave the code running.
            if stopped_for or not watched:
                sandbox.kill()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            sandbox.await_exit()
        finally:
            sandbox.close()
            os.close(exited)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream and not stream.closed:
                    stream.close()
    duration = time.monotonic() - started
    runner_started, runner_limit = _runner_status(status[0])
    returncode = process.returncode
    return Outcome(
        stdout=output.text("stdout"),
        stderr=output.text("stderr"),
        exit_code=returncode if returncode >= 0 else 128 - returncode,
        duration_seconds=duration,
        stopped_for=stopped_for,
        runner_started=runner_started,
        runner_limit=runner_limit,
        truncated=output.overflowed is not None,
    )


def _watch(
    process: "subprocess.Popen[bytes]",
    exited: int,
    sandbox: "_BwrapStatus",
    output: "_Output",
    code: bytes,
    deadline: float,
    cancel: Cancellation | None,
) -> Stop | None:
    """Feed the code and collect the output until the process exits; or say why to stop it."""
    assert process.stdin and process.stdout and process.stderr
    pending = memoryview(code)
    with selectors.DefaultSelector() as selector:
        for stream, name in ((process.stdout, "stdout"), (process.stderr, "stderr")):
            os.set_blocking(stream.fileno(), False)
            selector.register(stream.fileno(), selectors.EVENT_READ, name)
        os.set_blocking(process.stdin.fileno(), False)
        selector.register(process.stdin.fileno(), selectors.EVENT_WRITE, "stdin")
        selector.register(exited, selectors.EVENT_READ, "exited")
        if sandbox.fd is not None:
            selector.register(sandbox.fd, selectors.EVENT_READ, "bwrap")
        if cancel is not None:
            selector.register(cancel.fileno(), selectors.EVENT_READ, "cancel")
        while (remaining := deadline - time.monotonic()) > 0:
            # bubblewrap's report first: the init's pid must be pinned before anything ends.
            events = sorted(selector.select(remaining), key=lambda event: event[0].data != "bwrap")
            for key, _ in events:
                if key.data == "bwrap":
                    if not sandbox.read():
                        selector.unregister(key.fd)
                elif key.data == "cancel":
                    return "cancelled"
                elif key.data == "stdin":
                    try:
                        pending = pending[os.write(key.fd, pending[: 1 << 16]) :]
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        selector.unregister(key.fd)
                        process.stdin.close()
                elif key.data == "exited":
                    # bubblewrap is gone: once the namespace is empty too, all the output is in
                    # the pipes (in the unsafe mode a stray child may hold them open: take what
                    # is there).
                    sandbox.await_exit()
                    output.drain("stdout", process.stdout.fileno())
                    output.drain("stderr", process.stderr.fileno())
                    return None
                elif not output.read(key.data, key.fd):
                    selector.unregister(key.fd)
                if output.overflowed:
                    return "output"
    return "wall"


def _runner_status(status_r: int) -> tuple[bool, str | None]:
    """Whether the runner started, and the limit it saw end the code."""
    os.set_blocking(status_r, False)
    try:
        lines = os.read(status_r, 4096).splitlines()
    except BlockingIOError:
        return False, None
    if not lines or lines[0] != b"started":
        return False, None
    limit = lines[1].removeprefix(b"limit=").decode(errors="replace") if len(lines) > 1 else ""
    return True, limit or None


class _BwrapStatus:
    """bubblewrap's ``--json-status-fd``: the host pid of the sandbox's init, written as soon as
    it is cloned. A pidfd of it is opened at once, long before the code could end, so the pid
    cannot have been reused; the pidfd is what the init is killed and awaited through."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.buffer = b""
        self.init: int | None = None
        if fd is not None:
            os.set_blocking(fd, False)

    def read(self) -> bool:
        """Take what bubblewrap wrote; False once it closed the pipe."""
        assert self.fd is not None
        more = True
        try:
            while chunk := os.read(self.fd, 4096):
                self.buffer += chunk
            more = False
        except BlockingIOError:
            pass
        if self.init is None:
            for line in self.buffer.splitlines():
                with contextlib.suppress(ValueError):
                    pid = json.loads(line).get("child-pid")
                    if isinstance(pid, int):
                        with contextlib.suppress(ProcessLookupError):
                            self.init = os.pidfd_open(pid)
                        break
        return more

    def kill(self) -> None:
        if self.init is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.init, signal.SIGKILL)

    def await_exit(self) -> None:
        """Wait until the init is gone: the kernel tells only once its namespace is empty."""
        if self.init is None:
            return
        with selectors.DefaultSelector() as selector:
            selector.register(self.init, selectors.EVENT_READ)
            if not selector.select(_REAP_SECONDS):
                logger.error("a sandbox's processes outlived it by %s s", _REAP_SECONDS)

    def close(self) -> None:
        if self.init is not None:
            os.close(self.init)
            self.init = None


class _Output:
    """stdout and stderr up to a shared byte budget; what passes it is dropped and marked."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.captured = {"stdout": bytearray(), "stderr": bytearray()}
        self.overflowed: str | None = None

    def _keep(self, name: str, chunk: bytes) -> None:
        room = self.budget - sum(len(b) for b in self.captured.values())
        self.captured[name] += chunk[: max(room, 0)]
        if len(chunk) > room and self.overflowed is None:
            self.overflowed = name

    def read(self, name: str, fd: int) -> bool:
        """Read what is there; False at the end of the stream."""
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if chunk:
            self._keep(name, chunk)
        return bool(chunk)

    def drain(self, name: str, fd: int) -> None:
        """Everything already in the pipe, without waiting for more."""
        while self.overflowed is None:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            self._keep(name, chunk)

    def text(self, name: str) -> str:
        # NUL, like undecodable bytes, becomes U+FFFD: no database stores it in text or JSON.
        text = self.captured[name].decode("utf-8", "replace").replace("\x00", "\ufffd")
        if self.overflowed == name:
            text += f"\n[output truncated at {self.budget} bytes]"
        return text
