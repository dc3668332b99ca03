"""A database that cannot be written, under a live stack (daphne + qcluster on SQLite).

The fault: the database's files turned immutable (``chattr +i``, the suite runs as root) while
a run streams, then made writable again, as a disk gone read-only would do. Reads still work;
every write fails ("disk I/O error", "attempt to write a readonly database").
"""

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inference.reaper import WORKER_LOST
from inference.testing.ollama_double import OllamaDouble, Reply
from tests.inference.conftest import new_stack
from tests.stack import Stack, StreamedRun


@pytest.fixture
def stack(double: OllamaDouble) -> Iterator[Stack]:
    """A stack of its own: the fault must not reach the session's."""
    stack = new_stack(double, ENTITIES_ADMIN_PASSWORD=ADMIN_PASSWORD)
    data_dir = stack.data_dir
    try:
        stack.start().manage("bootstrap")
        yield stack
    finally:
        set_immutable(data_dir, False)
        stack.stop()
        for name in ("web.log", "worker.log"):  # shown when the test fails
            lines = (data_dir / name).read_text(errors="replace").splitlines()
            print(name, *[line for line in lines if line.startswith("20")], sep="\n")  # records
        shutil.rmtree(data_dir, ignore_errors=True)


ADMIN_PASSWORD = "correct-horse-battery"


def set_immutable(data_dir: Path, on: bool) -> None:
    """The database file and its write-ahead log. Not its shared-memory index (``-shm``): every
    process maps that, and a write to a page of an immutable mapping is SIGBUS, which kills
    the process (web or worker) instead of failing its write."""
    files = [str(data_dir / name) for name in ("db.sqlite3", "db.sqlite3-wal")]
    subprocess.run(["chattr", "+i" if on else "-i", *files], check=True)


def wait_for_run(http: httpx.Client, thread_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        response = http.get(f"/threads/{thread_id}/runs/{run_id}")
        if response.status_code == 200 and response.json()["status"] in ("completed", "failed"):
            return dict(response.json())
        assert time.monotonic() < deadline, response.text
        time.sleep(0.2)


def admin_login(stack: Stack) -> httpx.Response:
    """The admin's login form, filled in and sent: logging in writes a session."""
    with httpx.Client(base_url=stack.url, timeout=30) as browser:
        form = browser.get("/admin/login/").text
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert match, form
        fields = {"csrfmiddlewaretoken": match[1], "username": "admin", "password": ADMIN_PASSWORD}
        return browser.post("/admin/login/", data=fields, headers={"Referer": stack.url})


@pytest.mark.timeout(300)
def test_a_database_that_cannot_be_written_ends_the_stream_and_answers_503(
    stack: Stack, double: OllamaDouble, fresh_double: None
) -> None:
    headers = {"Authorization": f"Bearer {stack.api_key('alice')}"}
    with httpx.Client(base_url=f"{stack.url}/v1", headers=headers, timeout=30) as http:
        assistant = http.post("/assistants", json={"model": "llama3.1"}).json()
        thread = http.post("/threads", json={"messages": [{"role": "user", "content": "go"}]})
        thread_id = thread.json()["id"]
        words = " ".join(f"w{i}" for i in range(200))
        double.enqueue(Reply(content=words, tokens_per_second=10))  # twenty seconds

        streamed = StreamedRun(http, thread_id, assistant["id"])
        assert streamed.wait_for_deltas(3, timeout=60), streamed.seen
        set_immutable(stack.data_dir, True)
        try:
            # The stream ends, with OpenAI's error event and [DONE], not keep-alives for good.
            assert streamed.ended.wait(60), streamed.names()[-5:]
            assert streamed.names()[-2:] == ["error", "done"]
            error = json.loads(streamed.seen[-2][2])["error"]
            assert (error["type"], error["code"]) == ("server_error", "database_unavailable")
            assert "database" in error["message"]

            # A write answers 503 with Retry-After and the error body; a read still answers.
            refused = http.post("/threads", json={})
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["Retry-After"]) > 0
            assert refused.json()["error"]["code"] == "database_unavailable"
            assert http.get(f"/threads/{thread_id}").status_code == 200
            # A person logging in to the admin reads a page that says so.
            page = admin_login(stack)
            assert page.status_code == 503, page.text
            assert page.headers["content-type"].startswith("text/html")
            assert "database is not available" in page.text
            assert int(page.headers["Retry-After"]) > 0
        finally:
            set_immutable(stack.data_dir, False)

        run_id = streamed.run_id()
        run = wait_for_run(http, thread_id, run_id)
        assert run["status"] == "failed"
        assert run["last_error"]["message"] != WORKER_LOST
        assert "could not be written" in run["last_error"]["message"], run["last_error"]
        # What the client was shown is kept, marked incomplete.
        messages = http.get(f"/threads/{thread_id}/messages", params={"run_id": run_id}).json()
        message = messages["data"][0]
        assert message["status"] == "incomplete"
        assert message["content"][0]["text"]["value"].startswith(streamed.text())
        # And the server writes again.
        assert http.post("/threads", json={}).status_code == 200
        assert admin_login(stack).status_code == 302
