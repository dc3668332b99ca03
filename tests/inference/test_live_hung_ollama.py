"""An Ollama that takes connections and never answers, against a whole stack of two workers.

Its runs wait on the model's lookup (``/api/show``) before their claim, queued all that time.
One worker holds such a run until the lookup's deadline and fails it; redelivery, which takes
long-queued runs for lost ones, leaves it alone, so the other worker stays free for the rest.
"""

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import ROOT, Stack, running_stack

LOOKUP_DEADLINE = 20  # long enough for the rest of the test to happen while the run waits

# Redelivery as its schedule runs it, in the stack's environment: every half second while
# the run waits queued, a line with how many runs it enqueued again.
REDELIVER_WHILE_QUEUED = """
import sys, time
import django
django.setup()
from entities.models import Run
from inference.redelivery import redeliver_lost_runs
while Run.objects.filter(pk=sys.argv[1], status=Run.Status.QUEUED).exists():
    print(redeliver_lost_runs(), flush=True)
    time.sleep(0.5)
"""


@pytest.fixture(scope="module")
def doubles() -> Iterator[tuple[OllamaDouble, OllamaDouble]]:
    """The stack's Ollama, to be hung, and a healthy OpenAI-compatible server beside it."""
    with OllamaDouble() as hung, OllamaDouble() as healthy:
        yield hung, healthy


@pytest.fixture(scope="module")
def two_workers(doubles: tuple[OllamaDouble, OllamaDouble]) -> Iterator[Stack]:
    hung, healthy = doubles
    with running_stack(
        hung.host,
        prefix="entities-hung-",
        WORKERS="2",
        RUN_REDELIVER_SECONDS="1",
        RUN_HEARTBEAT_SECONDS="0.5",
        RUN_STALE_SECONDS="3",
        OLLAMA_LOOKUP_TIMEOUT_SECONDS=str(LOOKUP_DEADLINE),
        OLLAMA_TIMEOUT_SECONDS=str(LOOKUP_DEADLINE),  # what a681242 waited on /api/show
        INFERENCE_ENDPOINTS=json.dumps({"healthy": {"base_url": healthy.openai_base_url}}),
    ) as stack:
        yield stack


def run_on(http: httpx.Client, model: str) -> tuple[str, str]:
    assistant = http.post("/assistants", json={"model": model}).json()
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]}).json()
    run = http.post(f"/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]})
    assert run.status_code == 200, run.text
    return thread["id"], run.json()["id"]


def status_of(http: httpx.Client, thread_id: str, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = http.get(f"/threads/{thread_id}/runs/{run_id}").json()
    return run


def test_a_run_on_a_hung_ollama_holds_one_worker_and_fails_at_the_lookup_deadline(
    two_workers: Stack, doubles: tuple[OllamaDouble, OllamaDouble]
) -> None:
    hung, healthy = doubles
    key = two_workers.api_key("alice")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{two_workers.url}/v1", headers=headers, timeout=30) as http:
        hung.hang()  # every path: it takes connections and never answers
        stuck_thread, stuck = run_on(http, "llama3.1")
        hung.wait_for_requests(1, "/api/show", timeout=30)  # a worker waits on it now

        log = (two_workers.data_dir / "redelivery.log").open("w")
        redelivery = subprocess.Popen(
            [sys.executable, "-c", REDELIVER_WHILE_QUEUED, stuck],
            cwd=ROOT,
            env=two_workers.env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        passes: queue.SimpleQueue[str] = queue.SimpleQueue()
        lines = redelivery.stdout
        assert lines is not None

        def read() -> None:
            for line in lines:
                passes.put(line)

        reader = threading.Thread(target=read)
        reader.start()
        enqueued = [int(passes.get(timeout=60)) for _ in range(3)]  # queued past 1 s by now

        # The other worker is free: a run on a healthy server is answered meanwhile.
        healthy.enqueue(Reply(content="answered"))
        thread_id, run_id = run_on(http, "healthy/llama3.1")
        deadline = time.monotonic() + LOOKUP_DEADLINE * 3
        while (done := status_of(http, thread_id, run_id))["status"] != "completed":
            assert time.monotonic() < deadline, two_workers.log("worker.log")
            time.sleep(0.1)
        assert status_of(http, stuck_thread, stuck)["status"] == "queued"  # still waiting
        assert done["status"] == "completed"

        reader.join(LOOKUP_DEADLINE * 3)
        assert redelivery.wait(LOOKUP_DEADLINE) == 0, two_workers.log("redelivery.log")
        log.close()
        while not passes.empty():
            enqueued.append(int(passes.get()))
        assert sum(enqueued) == 0  # never enqueued again while its worker held it

        while (failed := status_of(http, stuck_thread, stuck))["status"] == "queued":
            assert time.monotonic() < deadline, two_workers.log("worker.log")
            time.sleep(0.1)
        hung.answer()
    assert failed["status"] == "failed"
    assert failed["last_error"] == {
        "code": "server_error",
        "message": f"Ollama at {hung.host} did not answer the model lookup (/api/show of "
        f"'llama3.1') within {LOOKUP_DEADLINE}s (OLLAMA_LOOKUP_TIMEOUT_SECONDS).",
    }
    assert len(hung.requests_to("/api/show")) == 1  # one worker, one wait
    assert hung.requests_to("/api/chat") == []
