"""PostgreSQL ends connections under a running stack (a failover, ``pg_terminate_backend``, a
PgBouncer restart): the run in flight goes on, on new connections, and so do the requests."""

import json
import threading

import httpx
import pytest

from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import sse_events
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

            seen: list[tuple[int | None, str, str]] = []
            five_deltas, ended = threading.Event(), threading.Event()

            def stream() -> None:
                body = {"assistant_id": assistant["id"], "stream": True}
                timeout = httpx.Timeout(30, read=120)
                with http.stream(
                    "POST", f"/threads/{thread_id}/runs", json=body, timeout=timeout
                ) as response:
                    for event in sse_events(response.iter_lines()):
                        seen.append(event)
                        if sum(1 for _, name, _ in seen if name == "thread.message.delta") == 5:
                            five_deltas.set()
                ended.set()

            reader = threading.Thread(target=stream, daemon=True)
            reader.start()
            assert five_deltas.wait(60), seen
            assert terminate_connections(stack) >= 2  # the worker's, its heartbeat's, the web's

            assert ended.wait(90), stack.log("worker0.log")
            names = [name for _, name, _ in seen]
            assert names[-2:] == ["thread.run.completed", "done"], (names[-5:], seen[-2:])
            streamed = "".join(
                json.loads(data)["delta"]["content"][0]["text"]["value"]
                for _, name, data in seen
                if name == "thread.message.delta"
            )
            assert streamed == words
            run_id = json.loads(seen[0][2])["id"]
            run = http.get(f"/threads/{thread_id}/runs/{run_id}").json()
            assert (run["status"], run["last_error"]) == ("completed", None)
            messages = http.get(f"/threads/{thread_id}/messages", params={"run_id": run_id})
            assert messages.json()["data"][0]["content"][0]["text"]["value"] == words

            # Between requests: the web's kept connections are checked, not used dead.
            assert terminate_connections(stack) >= 1
            assert http.get(f"/threads/{thread_id}").status_code == 200
            assert http.post("/threads", json={}).status_code == 200
