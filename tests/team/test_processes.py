"""Many workers on one PostgreSQL: a run is executed once however many take it at once, and a
worker asked to stop (SIGTERM, as systemd stops it) finishes the run it is streaming first."""

import threading
import time

import httpx
import pytest
from django.db import connection
from django.test import override_settings

from entities.models import Message, Run, RunEvent, User
from entities.services.assistants import assistant_create
from entities.services.runs import run_create
from entities.services.threads import message_create, thread_create
from entities.validation import normalize_message_content
from inference.engine import execute_run
from inference.testing.ollama_double import OllamaDouble, Reply
from tests.team.stack import TeamStack


@pytest.mark.django_db(transaction=True)
def test_a_run_taken_by_eight_workers_at_once_runs_once(alice: User) -> None:
    assert connection.vendor == "postgresql"
    with OllamaDouble() as double, override_settings(OLLAMA_HOST=double.host):
        # Long enough that the double notices a closed request when it writes to it.
        answer = "Only once." + " Really." * 40
        double.responder = lambda body: Reply(
            content=answer, delay_before_first_token=0.2, tokens_per_second=200
        )
        assistant = assistant_create(owner=alice, model="llama3.1")
        thread = thread_create(creator=alice)
        message_create(thread=thread, author=alice, content=normalize_message_content("hi"))
        run = run_create(thread=thread, assistant=assistant, created_by=alice)
        start = threading.Barrier(8)

        def deliver() -> None:
            start.wait()
            try:
                execute_run(run.id)
            finally:
                connection.close()

        workers = [threading.Thread(target=deliver) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)

        # Each delivery that read the run while it was queued started the model on it before
        # claiming it; the ones that lost the claim closed their request before any answer.
        asked = len(double.requests_to("/api/chat"))
        assert 1 <= asked <= 8
        double.wait_for_idle(timeout=10)
        assert double.aborted_streams == asked - 1
    run.refresh_from_db()
    assert (run.status, run.attempts) == (Run.Status.COMPLETED, 1)
    events = RunEvent.objects.filter(run=run, event="thread.run.in_progress")
    assert events.count() == 1
    answers = Message.objects.filter(run=run, role=Message.Role.ASSISTANT)
    assert [m.content[0]["text"]["value"] for m in answers] == [answer]


@pytest.mark.timeout(180)
def test_sigterm_lets_a_worker_finish_the_run_it_streams(team_stack: TeamStack) -> None:
    words = " ".join(f"w{i}" for i in range(30))
    with OllamaDouble() as double:
        team_stack.env["OLLAMA_HOST"] = double.host
        stack = team_stack.start(web=1, workers=1)
        headers = {"Authorization": f"Bearer {stack.api_key('alice')}"}
        with httpx.Client(base_url=f"{stack.urls[0]}/v1", headers=headers, timeout=30) as http:
            assistant = http.post("/assistants", json={"model": "llama3.1"}).json()
            thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]})
            thread_id = thread.json()["id"]
            double.enqueue(Reply(content=words, tokens_per_second=10))  # three seconds
            run = http.post(f"/threads/{thread_id}/runs", json={"assistant_id": assistant["id"]})
            run_id = run.json()["id"]
            deadline = time.monotonic() + 30
            while not double.active_generations:  # streaming now
                assert time.monotonic() < deadline
                time.sleep(0.05)

            worker = stack.terminate_worker(0)
            assert worker.wait(timeout=60) == 0, stack.log("worker0.log")

            run = http.get(f"/threads/{thread_id}/runs/{run_id}").json()
            assert run["status"] == "completed", run
            messages = http.get(f"/threads/{thread_id}/messages", params={"run_id": run_id})
            assert messages.json()["data"][0]["content"][0]["text"]["value"] == words
