"""PostgreSQL ends connections under a running stack (a failover, ``pg_terminate_backend``, a
PgBouncer restart): the run in flight goes on, on new connections, and so do the requests."""

import httpx
import pytest

from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import StreamedRun
from tests.team.stack import TeamStack


def terminate_connections(stack: TeamStack) -> int:
    """``pg_terminate_backend`` on every connection to the stack's database but the asking one."""
    rows = stack.query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return int(rows[0][0])


@pytest.mark.timeout(240)
def test_a_run_goes_on_when_its_database_connections_are_terminated(
    team_stack: TeamStack,
) -> None:
    words = " ".join(f"w{i}" for i in range(60))
    with OllamaDouble() as double:
        team_stack.env["OLLAMA_HOST"] = double.host
        team_stack.env["CONN_MAX_AGE"] = "60"  # the web keeps its connections between requests too
        stack = team_stack.start(web=1, workers=1)
        headers = {"Authorization": f"Bearer {stack.api_key('alice')}"}
        with httpx.Client(base_url=f"{stack.urls[0]}/v1", headers=headers, timeout=30) as http:
            assistant = http.post("/assistants", json={"model": "llama3.1"}).json()
            thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]})
            thread_id = thread.json()["id"]
            double.enqueue(Reply(content=words, tokens_per_second=10))  # six seconds

            streamed = StreamedRun(http, thread_id, assistant["id"])
            assert streamed.wait_for_deltas(5, timeout=60), streamed.seen
            assert terminate_connections(stack) >= 2  # the worker's, its heartbeat's, the web's

            assert streamed.ended.wait(90), stack.log("worker0.log")
            names = streamed.names()
            assert names[-2:] == ["thread.run.completed", "done"], (names[-5:], streamed.seen[-2:])
            assert streamed.text() == words
            run_id = streamed.run_id()
            run = http.get(f"/threads/{thread_id}/runs/{run_id}").json()
            assert (run["status"], run["last_error"]) == ("completed", None)
            messages = http.get(f"/threads/{thread_id}/messages", params={"run_id": run_id})
            assert messages.json()["data"][0]["content"][0]["text"]["value"] == words

            # Between requests: the web's kept connections are checked, not used dead.
            assert terminate_connections(stack) >= 1
            assert http.get(f"/threads/{thread_id}").status_code == 200
            assert http.post("/threads", json={}).status_code == 200
