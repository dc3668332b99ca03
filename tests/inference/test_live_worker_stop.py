"""A worker that stops in the middle of an answer, through real processes.

What a client was shown is what is stored: after ``kill -9`` of the worker, and after a SIGTERM
to the worker process executing the run (which ends the run at once, saying why) or to the
cluster (which lets it finish). The model pauses mid-answer, so the stop comes while the
worker holds deltas it has just sent.
"""

import contextlib
import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import Stack, sse_events

pytestmark = pytest.mark.usefixtures("fresh_double")

TOKENS = [f"w{i} " for i in range(40)]
SHOWN = 12  # tokens the model sends before it pauses
STOPPING = "stopping cluster processes"  # django-q2's log line once a cluster stops


def _paused_reply() -> tuple[Reply, threading.Event]:
    # Fast, then silent: the deltas reach the client within a few milliseconds of each other.
    resume = threading.Event()
    return Reply(tokens=TOKENS, tokens_per_second=500, pause_after=SHOWN, resume=resume), resume


def _stream(
    http: httpx.Client, assistant_id: str, act: Callable[[], None]
) -> tuple[str, str, str, list[str]]:
    """A streamed run on a new thread; ``act`` once the client has shown ``SHOWN`` deltas.
    Its thread and run ids, the text the client was shown, and the names of its events."""
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    shown: list[str] = []
    names: list[str] = []
    run_id = ""
    body = {"assistant_id": assistant_id, "stream": True}
    with http.stream("POST", f"/threads/{thread['id']}/runs", json=body) as response:
        for _, name, data in sse_events(response.iter_lines()):
            names.append(name)
            if name == "thread.run.created":
                run_id = json.loads(data)["id"]
            if name == "thread.message.delta":
                shown.append(json.loads(data)["delta"]["content"][0]["text"]["value"])
                if len(shown) == SHOWN:
                    act()
    return thread["id"], run_id, "".join(shown), names


def _stored(http: httpx.Client, thread_id: str, run_id: str) -> tuple[dict[str, Any], str]:
    """The run, and the text of its stored message (REST)."""
    run = http.get(f"/threads/{thread_id}/runs/{run_id}").json()
    messages = http.get(f"/threads/{thread_id}/messages", params={"run_id": run_id}).json()
    [message] = messages["data"]
    text = "".join(p["text"]["value"] for p in message["content"] if p["type"] == "text")
    return run, text


def _process_with_port(stack: Stack, port: int) -> int:
    """The worker process holding the local TCP port ``port`` (its call to the model)."""
    assert stack.worker is not None
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            inodes.add(f"socket:[{fields[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != stack.worker.pid:
                continue
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            return int(entry.name)
    raise AssertionError(f"no worker process holds port {port}")


def _executing(stack: Stack, double: OllamaDouble) -> int:
    """The worker process executing the run whose model call is under way."""
    double.wait_for_paused(1, timeout=30)
    chat = [r for r in double.requests if r.path == "/api/chat"][-1]
    return _process_with_port(stack, chat.client_port)


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # exited; its parent has not collected it yet
            return True
        time.sleep(0.05)
    return False


def test_a_killed_worker_leaves_stored_what_clients_were_shown(
    http: httpx.Client, stack: Stack, double: OllamaDouble, assistant_id: str
) -> None:
    reply, resume = _paused_reply()
    double.enqueue(reply)
    try:
        thread_id, run_id, shown, names = _stream(http, assistant_id, stack.kill_worker)
    finally:
        resume.set()
        stack.start_worker()
    assert names[-2:] == ["thread.run.failed", "done"]
    run, stored = _stored(http, thread_id, run_id)
    assert run["status"] == "failed"
    assert shown == "".join(TOKENS[:SHOWN])
    assert stored == shown


def test_sigterm_to_the_worker_process_ends_its_run_at_once_as_shown(
    http: httpx.Client, stack: Stack, double: OllamaDouble, assistant_id: str
) -> None:
    reply, resume = _paused_reply()
    double.enqueue(reply)
    stopped: list[int] = []

    def stop() -> None:
        stopped.append(_executing(stack, double))
        os.kill(stopped[0], signal.SIGTERM)

    try:
        thread_id, run_id, shown, names = _stream(http, assistant_id, stop)
    finally:
        resume.set()
    assert names[-2:] == ["thread.run.failed", "done"]
    run, stored = _stored(http, thread_id, run_id)
    assert stored == shown == "".join(TOKENS[:SHOWN])
    # Ended by the worker as it stopped, not by the reaper after its heartbeat went stale.
    assert "SIGTERM" in run["last_error"]["message"], run["last_error"]
    assert _gone(stopped[0]), "the worker process did not exit"

    # The cluster replaced it: the next run is answered.
    double.enqueue(Reply(content="still here"))
    run = http.post(
        "/threads/runs",
        json={
            "assistant_id": assistant_id,
            "thread": {"messages": [{"role": "user", "content": "hi"}]},
        },
    ).json()
    deadline = time.monotonic() + 60
    while run["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        run = http.get(f"/threads/{run['thread_id']}/runs/{run['id']}").json()
    assert run["status"] == "completed"


def test_sigterm_to_every_worker_process_ends_the_run_at_once_as_shown(
    http: httpx.Client, stack: Stack, double: OllamaDouble, assistant_id: str
) -> None:
    # As a container runtime, honcho or systemd's default KillMode stop it: the whole group.
    reply, resume = _paused_reply()
    double.enqueue(reply)
    assert stack.worker is not None
    group = stack.worker.pid
    stopped: list[int] = []

    def stop() -> None:
        stopped.append(_executing(stack, double))
        os.killpg(group, signal.SIGTERM)

    try:
        thread_id, run_id, shown, names = _stream(http, assistant_id, stop)
        assert _gone(stopped[0]), "the worker process did not exit"
    finally:
        resume.set()
        with contextlib.suppress(ProcessLookupError):  # whatever is left of it
            os.killpg(group, signal.SIGKILL)
        stack.worker.wait()
        stack.start_worker()
    assert names[-2:] == ["thread.run.failed", "done"]
    run, stored = _stored(http, thread_id, run_id)
    assert stored == shown == "".join(TOKENS[:SHOWN])
    assert "SIGTERM" in run["last_error"]["message"], run["last_error"]


def test_sigterm_to_the_worker_process_before_any_token_gives_the_run_to_another(
    http: httpx.Client, stack: Stack, double: OllamaDouble, assistant_id: str
) -> None:
    resume = threading.Event()
    double.enqueue(Reply(content="never said", pause_after=0, resume=resume))
    double.enqueue(Reply(content="said by the other worker"))
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    names: list[str] = []
    shown: list[str] = []
    body = {"assistant_id": assistant_id, "stream": True}
    try:
        with http.stream("POST", f"/threads/{thread['id']}/runs", json=body) as response:
            for _, name, data in sse_events(response.iter_lines()):
                names.append(name)
                if name == "thread.run.created":
                    run_id = json.loads(data)["id"]
                if name == "thread.run.in_progress" and names.count(name) == 1:
                    os.kill(_executing(stack, double), signal.SIGTERM)
                if name == "thread.message.delta":
                    shown.append(json.loads(data)["delta"]["content"][0]["text"]["value"])
    finally:
        resume.set()
    assert names.count("thread.run.queued") == 2  # queued again once its worker stopped
    assert names[-2:] == ["thread.run.completed", "done"]
    run, stored = _stored(http, thread["id"], run_id)
    assert run["status"] == "completed" and run["last_error"] is None
    assert stored == "".join(shown) == "said by the other worker"


def test_sigterm_to_the_cluster_lets_the_run_finish_first(
    http: httpx.Client, stack: Stack, double: OllamaDouble, assistant_id: str
) -> None:
    reply, resume = _paused_reply()
    double.enqueue(reply)
    assert stack.worker is not None
    cluster = stack.worker

    log = stack.data_dir / "worker.log"
    stops = log.read_text().count(STOPPING)

    def stop() -> None:
        os.kill(cluster.pid, signal.SIGTERM)  # as systemd stops it (KillMode=mixed)
        deadline = time.monotonic() + 30
        while log.read_text().count(STOPPING) == stops:  # the answer goes on once it stops
            assert time.monotonic() < deadline, stack.log("worker.log")
            time.sleep(0.05)
        resume.set()

    try:
        thread_id, run_id, shown, names = _stream(http, assistant_id, stop)
        assert cluster.wait(timeout=60) is not None
    finally:
        resume.set()
        stack.start_worker()
    assert names[-2:] == ["thread.run.completed", "done"]
    run, stored = _stored(http, thread_id, run_id)
    assert run["status"] == "completed"
    assert stored == shown == "".join(TOKENS)


def _heartbeat(stack: Stack, run_id: str) -> str | None:
    with contextlib.closing(sqlite3.connect(stack.data_dir / "db.sqlite3", timeout=30)) as db:
        row = db.execute("SELECT heartbeat_at FROM entities_run WHERE id = ?", (run_id,)).fetchone()
    return row[0] if row else None


def test_sigterm_while_the_model_lookup_hangs_hands_the_queued_run_to_another(
    http: httpx.Client, stack: Stack, double: OllamaDouble
) -> None:
    # Before its claim the run is queued and held (its watch beats it); a worker stopped then
    # must let it go at once, not leave it held until redelivery (a minute on) finds it stale.
    model = f"lookup-{os.getpid()}-{time.monotonic_ns()}"  # in no worker's /api/show cache
    double.add_model(model)
    assistant = http.post("/assistants", json={"model": model}).json()
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    log = stack.data_dir / "worker.log"
    handed_back = log.read_text().count("stopped before it began: requeued")
    double.hang("/api/show")
    try:
        shows = len(double.requests_to("/api/show"))
        created = http.post(f"/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]})
        run_id = created.json()["id"]
        double.wait_for_requests(shows + 1, "/api/show", timeout=30)
        show = [r for r in double.requests if r.path == "/api/show"][-1]
        held = _process_with_port(stack, show.client_port)
        deadline = time.monotonic() + 30
        while _heartbeat(stack, run_id) is None:  # held: its row says a live worker has it
            assert time.monotonic() < deadline, "the waiting run was never held"
            time.sleep(0.1)
        os.kill(held, signal.SIGTERM)
        assert _gone(held), "the worker process did not exit"
    finally:
        double.answer()
    double.enqueue(Reply(content="answered after all"))
    deadline = time.monotonic() + 45  # redelivery would take a minute or more
    run = created.json()
    while run["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        run = http.get(f"/threads/{thread['id']}/runs/{run_id}").json()
    assert run["status"] == "completed", run
    assert log.read_text().count("stopped before it began: requeued") == handed_back + 1
