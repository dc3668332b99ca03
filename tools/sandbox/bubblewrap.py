"""The bubblewrap command line: what the sandbox sees, and as whom it runs.

The sandbox is an empty read-only root with: /usr and the /lib* links (read-only), the sandbox
Python's prefix and its base interpreter (read-only, at their host paths, so the font cache
built by ``make sandbox`` stays valid), a new /proc of its own PID namespace, a minimal /dev,
a private /tmp and /dev/shm in memory (capped), and the thread's directory read-write at
/mnt/data. No /etc, /home, /root, /sys, /run, /var, no project tree and no host socket. Every
namespace is new (user, mount, PID, network, IPC, UTS, cgroup), the network one with only its
own loopback; nested user namespaces are refused (a frequent kernel attack path); capabilities
are dropped; the environment is cleared.

bubblewrap runs as the unprivileged sandbox uid, so every path it mounts must be reachable by
that uid on the host: the sandbox Python (hence ``make sandbox`` builds it from the system's
Python, not one under /root) and ``DATA_DIR/sandbox`` (0711: it can pass, not list).
"""

import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .limits import Limits
from .workdir import MOUNT_POINT

RUNNER_SOURCE = (Path(__file__).parent / "runner.py").read_text()
MPLCONFIGDIR = "/tmp/matplotlib"
# Where `make sandbox` puts matplotlib's font list, built once so no execution rebuilds it.
FONT_CACHE_DIR = "mplconfig"
# The environment bubblewrap itself starts with: /proc/1/environ inside shows it, so nothing
# of the worker's (keys, database URLs) may be in it.
HOST_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


class SandboxUnavailable(RuntimeError):
    """Code cannot be run safely here; the message says what the operator should do."""


@dataclass(frozen=True)
class Interpreter:
    executable: str
    prefix: str
    base_prefix: str
    font_cache: str | None

    def mounted_prefixes(self) -> list[str]:
        """The directories to mount read-only, outer ones only, /usr being mounted anyway."""
        keep: list[str] = []
        for path in sorted({self.prefix, self.base_prefix}):
            if path == "/usr" or path.startswith("/usr/"):
                continue
            if any(path.startswith(outer + "/") for outer in keep):
                continue
            keep.append(path)
        return keep


@functools.lru_cache(maxsize=4)
def interpreter(executable: str) -> Interpreter:
    """Where the sandbox Python lives, asked of it once per worker process (``-I``: nothing
    from the environment or a user site; ``site`` must run, it is what finds the venv)."""
    path = Path(executable)
    if not path.is_absolute() or not path.exists():
        raise SandboxUnavailable(
            f"The sandbox Python {executable} does not exist: run `make sandbox` (it builds "
            ".sandbox-venv with numpy, pandas and matplotlib) or set SANDBOX_PYTHON."
        )
    probe = subprocess.run(
        [executable, "-I", "-c", "import json,sys;print(json.dumps([sys.prefix,sys.base_prefix]))"],
        capture_output=True,
        text=True,
        env=HOST_ENV,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        raise SandboxUnavailable(f"The sandbox Python {executable} does not start: {probe.stderr}")
    prefix, base_prefix = json.loads(probe.stdout)
    fonts = sorted(Path(prefix, FONT_CACHE_DIR).glob("fontlist-*.json"))
    return Interpreter(
        executable=executable,
        prefix=prefix,
        base_prefix=base_prefix,
        font_cache=str(fonts[-1]) if fonts else None,
    )


def find_bwrap() -> str | None:
    configured: str = settings.SANDBOX_BWRAP
    return (
        shutil.which(configured)
        if os.sep not in configured
        else (configured if os.access(configured, os.X_OK) else None)
    )


@functools.cache
def _system_links() -> tuple[str, ...]:
    """/bin, /lib, /lib64 … as on the host: links into /usr on a merged-/usr system, else
    read-only mounts."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        path = Path("/", name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return tuple(args)


def sandbox_env(python: Interpreter) -> dict[str, str]:
    return {
        "PATH": f"{python.prefix}/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": MPLCONFIGDIR,
        # One BLAS thread: threads count against the process limit, and a 64-core host would
        # otherwise start 64 of them on import numpy.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def runner_command(
    python: Interpreter, *, status_fd: int, data_dir: str, limits: Limits
) -> list[str]:
    # -u: what was printed before a kill still arrives; -B: no __pycache__ in /mnt/data;
    # -E -s: nothing from the environment or a user site. Not -I: the code may import its own
    # modules from /mnt/data, the working directory.
    rlimits = [f"{name}={soft}:{hard}" for name, (soft, hard) in limits.rlimits().items()]
    return [
        *(python.executable, "-u", "-B", "-E", "-s", "-c", RUNNER_SOURCE),
        *(str(status_fd), data_dir, *rlimits),
    ]


def bwrap_command(
    *, bwrap: str, python: Interpreter, workdir: Path, json_status_fd: int, limits: Limits
) -> list[str]:
    """bubblewrap and its options, up to the ``--`` before the command."""
    args = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid", str(settings.SANDBOX_UID),
        "--gid", str(settings.SANDBOX_GID),
        "--hostname", "sandbox",
        "--die-with-parent",
        "--new-session",
        "--cap-drop", "ALL",
        "--clearenv",
        "--ro-bind", "/usr", "/usr",
        *_system_links(),
    ]  # fmt: skip
    args += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(limits.tmp_bytes), "--tmpfs", "/dev/shm",
        "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
        "--dir", MPLCONFIGDIR,
    ]  # fmt: skip
    # After the private /tmp: a checkout under /tmp (a CI clone) must not be hidden by it.
    for path in python.mounted_prefixes():
        args += ["--ro-bind", path, path]
    if python.font_cache:
        name = Path(python.font_cache).name
        args += ["--ro-bind", python.font_cache, f"{MPLCONFIGDIR}/{name}"]
    args += [
        "--bind", str(workdir), MOUNT_POINT,
        "--remount-ro", "/",
        "--remount-ro", "/dev",
        "--chdir", MOUNT_POINT,
        "--json-status-fd", str(json_status_fd),
    ]  # fmt: skip
    for name, value in sandbox_env(python).items():
        args += ["--setenv", name, value]
    return [*args, "--"]
