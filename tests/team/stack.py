"""A team deployment in real processes: N daphne web processes and M qcluster workers.

They share one PostgreSQL database (made fresh for the stack, dropped after), one Redis
database (emptied first) and one DATA_DIR (for the secret key every process must share), as
processes on several machines would share them; the Ollama doubles run in the test process.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import redis
from psycopg import sql

from tests.stack import ROOT, free_port


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


class TeamStack:
    def __init__(self, data_dir: Path, *, database_url: str, redis_url: str, **env: str) -> None:
        self.data_dir = data_dir
        self.server_url = database_url
        self.database = f"entities_team_{uuid.uuid4().hex[:10]}"
        # The stack's own Redis database: the suite's processes use the one REDIS_URL names.
        redis_db = (int(urlsplit(redis_url).path.strip("/") or 0) + 1) % 16
        self.redis_url = _with_path(redis_url, f"/{redis_db}")
        self.env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": _with_path(database_url, f"/{self.database}"),
            "REDIS_URL": self.redis_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.webs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        self.workers: list[subprocess.Popen[bytes] | None] = []

    # --- the shared services --------------------------------------------------------------

    def _admin_connection(self) -> psycopg.Connection[Any]:
        return psycopg.connect(_with_path(self.server_url, "/postgres"), autocommit=True)

    def _create_database(self) -> None:
        with self._admin_connection() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        redis.Redis.from_url(self.redis_url).flushdb()

    def _drop_database(self) -> None:
        with self._admin_connection() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.database)
                )
            )

    def query(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the stack's database directly (what no API shows: which host ran a run)."""
        with psycopg.connect(self.env["DATABASE_URL"]) as connection:
            return connection.execute(statement, params).fetchall()

    # --- processes ------------------------------------------------------------------------

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

    def api_key(self, user: str) -> str:
        return self.manage("create_api_key", "--user", user).strip().splitlines()[-1]

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

    def start(self, *, web: int = 2, workers: int = 2) -> "TeamStack":
        self._create_database()
        self.manage("migrate", "--noinput", "-v0")
        for index in range(web):
            port = free_port()
            self.webs.append(
                self._spawn(
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "config.asgi:application",
                    log=f"web{index}.log",
                )
            )
            self.urls.append(f"http://127.0.0.1:{port}")
        for _ in range(workers):
            self.start_worker()
        for index, url in enumerate(self.urls):
            self._wait_healthy(index, url)
        self.wait_for_workers(workers)
        return self

    def _wait_healthy(self, index: int, url: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    return
            assert self.webs[index].poll() is None, self.log(f"web{index}.log")
            time.sleep(0.1)
        raise RuntimeError(f"web process {index} did not come up:\n" + self.log(f"web{index}.log"))

    def health(self, index: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.urls[index]}/health", timeout=10).json()
        return result

    def wait_for_workers(self, clusters: int, timeout: float = 60) -> None:
        """Until /health sees this many worker clusters' heartbeats."""
        deadline = time.monotonic() + timeout
        while (seen := self.health()["workers"]["clusters"]) != clusters:
            if time.monotonic() > deadline:
                logs = "\n".join(self.log(f"worker{i}.log") for i in range(len(self.workers)))
                raise RuntimeError(f"{seen} worker clusters seen, not {clusters}:\n{logs}")
            time.sleep(0.2)

    def start_worker(self) -> int:
        index = len(self.workers)
        self.workers.append(self._spawn("manage.py", "qcluster", log=f"worker{index}.log"))
        return index

    def kill_worker(self, index: int) -> None:
        """kill -9 the whole worker: its cluster process and every child."""
        worker = self.workers[index]
        assert worker is not None
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        self.workers[index] = None

    def terminate_worker(self, index: int) -> subprocess.Popen[bytes]:
        """SIGTERM to the cluster's main process only, as systemd's KillMode=mixed sends it."""
        worker = self.workers[index]
        assert worker is not None
        worker.send_signal(signal.SIGTERM)
        return worker

    def log(self, name: str) -> str:
        path = self.data_dir / name
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self) -> None:
        """Kill every process (how they stop is not what is tested here), drop the database."""
        for process in [*self.workers, *self.webs]:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._drop_database()
