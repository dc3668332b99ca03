"""A whole Entities stack in real processes: daphne (web) and a qcluster worker.

They share a fresh DATA_DIR (SQLite, embedded channel layer) and talk to an Ollama double
that runs in the test process, so tests script the model's replies while everything else
runs exactly as ``make run`` runs it.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def sse_events(lines: Iterator[str]) -> Iterator[tuple[int | None, str, str]]:
    """(id, event, data) of each server-sent event, as a client reads them."""
    seq: int | None = None
    name = data = ""
    for line in lines:
        if line.startswith("id: "):
            seq = int(line[4:])
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and name:
            yield seq, name, data
            seq, name, data = None, "", ""


class StreamedRun(threading.Thread):
    """A run created with ``stream: true``, followed by a thread of its own as a client reads
    it: ``seen`` grows by each event; ``ended`` is set once the response ends."""

    def __init__(self, http: httpx.Client, thread_id: str, assistant_id: str) -> None:
        super().__init__(name="streamed-run", daemon=True)
        self.http, self.thread_id, self.assistant_id = http, thread_id, assistant_id
        self.seen: list[tuple[int | None, str, str]] = []
        self.ended = threading.Event()
        self._changed = threading.Condition()
        self.start()

    def run(self) -> None:
        body = {"assistant_id": self.assistant_id, "stream": True}
        url = f"/threads/{self.thread_id}/runs"
        try:
            with self.http.stream(
                "POST", url, json=body, timeout=httpx.Timeout(30, read=120)
            ) as response:
                for event in sse_events(response.iter_lines()):
                    with self._changed:
                        self.seen.append(event)
                        self._changed.notify_all()
        finally:
            with self._changed:
                self.ended.set()
                self._changed.notify_all()

    def names(self) -> list[str]:
        return [name for _, name, _ in self.seen]

    def text(self) -> str:
        """What the client was shown of the answer."""
        return "".join(
            json.loads(data)["delta"]["content"][0]["text"]["value"]
            for _, name, data in self.seen
            if name == "thread.message.delta"
        )

    def run_id(self) -> str:
        return str(json.loads(self.seen[0][2])["id"])

    def wait_for_deltas(self, count: int, timeout: float) -> bool:
        def arrived() -> bool:
            return self.names().count("thread.message.delta") >= count

        with self._changed:
            self._changed.wait_for(lambda: arrived() or self.ended.is_set(), timeout)
            return arrived()


def fresh_data_dir(prefix: str = "entities-stack-") -> Path:
    """A new DATA_DIR. Not under pytest's tmp root (0700): the sandbox's unprivileged uid must
    reach it."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    data_dir.chmod(0o711)
    return data_dir


@contextmanager
def running_stack(
    ollama_host: str, *, prefix: str = "entities-stack-", **env: str
) -> Iterator["Stack"]:
    """A started stack in a fresh DATA_DIR, stopped and its DATA_DIR removed afterwards."""
    stack = Stack(fresh_data_dir(prefix), ollama_host, **env)
    try:
        yield stack.start()
    finally:
        stack.stop()
        shutil.rmtree(stack.data_dir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    def __init__(self, data_dir: Path, ollama_host: str, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "OLLAMA_HOST": ollama_host,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.env.pop("DATABASE_URL", None)
        if "REDIS_URL" not in env:  # embedded, even when the suite runs in team mode
            self.env.pop("REDIS_URL", None)
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def api_key(self, user: str, *, admin: bool = False) -> str:
        out = self.manage("create_api_key", "--user", user, *(["--admin"] if admin else []))
        return out.strip().splitlines()[-1]

    def _spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        handle = open(self.data_dir / log, "ab")  # noqa: SIM115 - lives as long as the process
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill takes all its children
        )

    def start(self) -> "Stack":
        self.manage("migrate", "--noinput", "-v0")
        self.web = self._spawn(
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "config.asgi:application",
            log="web.log",
        )
        self.start_worker()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert self.web.poll() is None, self.log("web.log")
            time.sleep(0.1)
        raise RuntimeError("the web process did not come up:\n" + self.log("web.log"))

    def start_worker(self) -> None:
        self.worker = self._spawn("manage.py", "qcluster", log="worker.log")

    def kill_worker(self) -> None:
        """kill -9 the whole worker: its cluster process and every child."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()

    def log(self, name: str) -> str:
        path = self.data_dir / name
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self) -> None:
        for process in (self.worker, self.web):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
