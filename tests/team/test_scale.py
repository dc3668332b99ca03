"""The scale test: two web processes and two workers on PostgreSQL and Redis, two Ollama hosts.

1. 50 runs streamed at once, their clients spread over both web processes: every run is
   executed once and every client gets its own reply whole: each numbered token once, in
   order, under event numbers without a gap.
2. ``kill -9`` of a worker while both stream: its runs fail within 60 s saying why, and the
   runs it held without starting them are done by the other worker.
3. One Ollama host stopped: new runs go to the other.
"""

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from inference.testing.ollama_double import JSON, OllamaDouble, Reply
from tests.team.stack import TeamStack

TOKENS = 30
TERMINAL = {"completed", "failed", "cancelled", "incomplete", "expired"}
WORKER_LOST = "worker running this run stopped"


def tokens(n: int) -> list[str]:
    return [f"{n}.{k}" for k in range(TOKENS)]


def run_number(body: JSON) -> int:
    user = [m for m in body["messages"] if m["role"] == "user"][-1]
    found = re.search(r"run (\d+)", str(user["content"]))
    assert found, user
    return int(found[1])


class Numbered:
    """Replies ``N.0 N.1 …`` to "run N", and counts the runs each host was asked for."""

    def __init__(self) -> None:
        self.asked: Counter[int] = Counter()
        self.rate = 200.0

    def __call__(self, body: JSON) -> Reply:
        n = run_number(body)
        self.asked[n] += 1
        return Reply(content=" ".join(tokens(n)), tokens_per_second=self.rate)


def sse(lines: Iterator[str]) -> Iterator[tuple[int, str, str]]:
    seq, name = 0, ""
    for line in lines:
        if line.startswith("id: "):
            seq = int(line[4:])
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name and name != "done":
            yield seq, name, line[6:]
            seq, name = 0, ""


@dataclass
class Seen:
    """What one client saw of its run."""

    n: int
    run_id: str = ""
    events: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [name for _, name, _ in self.events]

    @property
    def deltas(self) -> list[dict[str, Any]]:
        return [json.loads(d) for _, name, d in self.events if name == "thread.message.delta"]

    @property
    def text(self) -> str:
        return "".join(d["delta"]["content"][0]["text"]["value"] for d in self.deltas)


def client(url: str, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=120
    )


def stream_run(stack: TeamStack, key: str, assistant_id: str, n: int) -> Seen:
    """Run ``n``: even ones stream from the web process they were posted to; odd ones are
    posted to one web process and followed on the other."""
    seen = Seen(n)
    here, there = stack.urls[n % 2], stack.urls[(n + 1) % 2]
    with client(here, key) as http:
        thread = http.post("/threads", json={"messages": [{"role": "user", "content": f"run {n}"}]})
        thread_id = thread.json()["id"]
        body = {"assistant_id": assistant_id, "stream": n % 2 == 0}
        if n % 2 == 0:
            with http.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
                assert response.status_code == 200, response.read()
                seen.events = list(sse(response.iter_lines()))
            seen.run_id = json.loads(seen.events[0][2])["id"]
            return seen
        seen.run_id = http.post(f"/threads/{thread_id}/runs", json=body).json()["id"]
    with client(there, key) as http:
        url = f"/threads/{thread_id}/runs/{seen.run_id}/events"
        with http.stream("GET", url) as response:
            assert response.status_code == 200, response.read()
            seen.events = list(sse(response.iter_lines()))
    return seen


def start_run(stack: TeamStack, key: str, assistant_id: str, n: int) -> tuple[str, str]:
    with client(stack.urls[n % 2], key) as http:
        thread = http.post("/threads", json={"messages": [{"role": "user", "content": f"run {n}"}]})
        thread_id = thread.json()["id"]
        run = http.post(f"/threads/{thread_id}/runs", json={"assistant_id": assistant_id})
        return thread_id, run.json()["id"]


def answer(http: httpx.Client, thread_id: str, run_id: str) -> list[str]:
    messages = http.get(f"/threads/{thread_id}/messages", params={"run_id": run_id}).json()
    return [m["content"][0]["text"]["value"] for m in messages["data"]]


@pytest.fixture
def doubles() -> Iterator[list[tuple[OllamaDouble, Numbered]]]:
    pairs = [(OllamaDouble(), Numbered()) for _ in range(2)]
    for double, numbered in pairs:
        double.responder = numbered
        double.start()
    try:
        yield pairs
    finally:
        for double, _ in pairs:
            double.stop()


@pytest.mark.timeout(300)
def test_two_web_processes_two_workers_two_ollama_hosts(
    team_stack: TeamStack, doubles: list[tuple[OllamaDouble, Numbered]]
) -> None:
    (first, first_asked), (second, second_asked) = doubles
    team_stack.env["OLLAMA_HOSTS"] = f"{first.host},{second.host}"
    stack = team_stack.start(web=2, workers=2)
    key = stack.api_key("alice")
    with client(stack.urls[0], key) as http:
        assistant_id = http.post("/assistants", json={"model": "llama3.1"}).json()["id"]

    # 1. Fifty streamed runs at once.
    with ThreadPoolExecutor(max_workers=50) as pool:
        seen = list(pool.map(lambda n: stream_run(stack, key, assistant_id, n), range(50)))
    for run in seen:
        assert [seq for seq, _, _ in run.events] == list(range(1, len(run.events) + 1)), run.n
        assert run.names.count("thread.run.in_progress") == 1, run.names
        assert run.names[-1] == "thread.run.completed", (run.n, run.names[-3:])
        assert run.text.split() == tokens(run.n)
        assert len({delta["id"] for delta in run.deltas}) == 1  # one message
    asked = first_asked.asked + second_asked.asked
    assert asked == Counter(range(50))  # each run went to Ollama once, on one host
    assert first_asked.asked and second_asked.asked  # both hosts had work

    # 2. kill -9 of one worker while both stream.
    for numbered in (first_asked, second_asked):
        numbered.rate = 5.0  # six seconds a reply: none ends before the kill
    started = [start_run(stack, key, assistant_id, n) for n in range(100, 116)]
    deadline = time.monotonic() + 60
    streaming: list[tuple[Any, ...]] = []
    while len(streaming) < 8:  # both workers' four processes each have written tokens
        assert time.monotonic() < deadline, f"{len(streaming)} runs streaming"
        time.sleep(0.1)
        streaming = stack.query(
            "SELECT DISTINCT run_id FROM entities_runevent WHERE event = 'thread.message.delta'"
            " AND run_id = ANY(%s)",
            [run_id for _, run_id in started],
        )
    stack.kill_worker(0)
    killed_at = time.monotonic()
    ended: dict[str, tuple[float, dict[str, Any]]] = {}
    with client(stack.urls[1], key) as http:
        deadline = killed_at + 150
        while len(ended) < len(started):
            assert time.monotonic() < deadline, f"{len(ended)} of {len(started)} runs ended"
            for thread_id, run_id in started:
                if run_id not in ended:
                    state = http.get(f"/threads/{thread_id}/runs/{run_id}").json()
                    if state["status"] in TERMINAL:
                        ended[run_id] = (time.monotonic() - killed_at, state)
            time.sleep(0.2)
        failed = [(after, state) for after, state in ended.values() if state["status"] == "failed"]
        # The killed worker's four runs, each of which had streamed: failed, saying why.
        assert len(failed) == 4, [state["status"] for _, state in ended.values()]
        for after, state in failed:
            assert after < 60
            assert WORKER_LOST in state["last_error"]["message"]
        # Everything else, its queued runs too, was done by the other worker, each once.
        for n, (thread_id, run_id) in enumerate(started, start=100):
            if ended[run_id][1]["status"] != "failed":
                assert ended[run_id][1]["status"] == "completed"
                assert answer(http, thread_id, run_id) == [" ".join(tokens(n))]

    # 3. One Ollama host stopped: new runs go to the other.
    first.stop()
    for numbered in (first_asked, second_asked):
        numbered.rate = 200.0
    before = second_asked.asked.copy()
    with ThreadPoolExecutor(max_workers=10) as pool:
        seen = list(pool.map(lambda n: stream_run(stack, key, assistant_id, n), range(200, 210)))
    for run in seen:
        assert run.names[-1] == "thread.run.completed", (run.n, run.names[-3:])
        assert run.text.split() == tokens(run.n)
    assert second_asked.asked - before == Counter(range(200, 210))
    hosts = {host["url"]: host["state"] for host in stack.health(1)["ollama"]["hosts"]}
    assert hosts == {first.host: "down", second.host: "up"}
