"""schemathesis over every operation of ``/v1/openapi.json``, against a live stack.

Real processes (daphne, a qcluster worker, the Ollama double): schemathesis's CLI generates
requests from the document (examples, coverage, fuzzing and stateful phases) and checks that no
response is a 5xx, that every status is documented and that every body, errors and streamed
events included, matches its schema. A fixed seed and deterministic generation make the run the
same on every machine; ``SCHEMATHESIS_MAX_EXAMPLES`` bounds its cost (docs/api.md).

alice (an admin) holds the key. bob is the second user: operations that could take alice's key
away (deleting or demoting a user, revoking a key) are pointed at bob, so the run keeps its key;
and alice's and bob's objects seed the ids schemathesis tries beside the ones it makes up.
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inference.testing.ollama_double import OllamaDouble
from tests.stack import Stack, running_stack

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))
SEED = 18
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"

# Operations that, given alice's id, would leave the run without a working key.
ON_BOB = ["deleteUser", "modifyUser", "revokeApiKey"]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with (
        OllamaDouble() as double,
        running_stack(double.host, prefix="entities-schemathesis-", WORKERS="2") as stack,
    ):
        yield stack


def _finished_run(http: httpx.Client, thread_id: str, assistant_id: str) -> dict[str, Any]:
    run: dict[str, Any] = http.post(
        f"/threads/{thread_id}/runs", json={"assistant_id": assistant_id}
    ).json()
    deadline = time.monotonic() + 120
    while run["status"] in ("queued", "in_progress") and time.monotonic() < deadline:
        time.sleep(0.2)
        run = http.get(f"/threads/{thread_id}/runs/{run['id']}").json()
    assert run["status"] == "completed", run
    return run


def _objects(stack: Stack, key: str) -> dict[str, list[str]]:
    """A user's assistant, thread, messages, a finished run and its steps, and a file: ids."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{stack.url}/v1", headers=headers, timeout=60) as http:
        assistant = http.post("/assistants", json={"model": "llama3.1"}).json()
        thread = http.post("/threads", json={"messages": [{"role": "user", "content": "hi"}]})
        thread_id = thread.json()["id"]
        run = _finished_run(http, thread_id, assistant["id"])
        messages = http.get(f"/threads/{thread_id}/messages").json()["data"]
        steps = http.get(f"/threads/{thread_id}/runs/{run['id']}/steps").json()["data"]
        upload = http.post(
            "/files", files={"file": ("a.csv", b"x,y\n1,2\n")}, data={"purpose": "assistants"}
        )
        me = http.get("/users/me").json()
        keys = http.get(f"/users/{me['id']}/api_keys").json()["data"]
    return {
        "assistant_id": [assistant["id"]],
        "thread_id": [thread_id],
        "message_id": [m["id"] for m in messages],
        "run_id": [run["id"]],
        "step_id": [s["id"] for s in steps],
        "file_id": [upload.json()["id"]],
        "user_id": [me["id"]],
        "key_id": [k["id"] for k in keys],
    }


def _config(ids: dict[str, list[str]], bob_id: str) -> str:
    """schemathesis.toml: the seeded ids mixed into generated path parameters."""
    lines = [
        f"seed = {SEED}",
        "workers = 1",
        "request-timeout = 120",
        "[generation]",
        "deterministic = true",
        f"max-examples = {MAX_EXAMPLES}",
        'database = "none"',
        "[cache]",
        "enabled = false",
        "[parameters]",
    ]
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}' for name in ids]
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    lines += [
        "[[operations]]",
        f"include-operation-id = {json.dumps(ON_BOB)}",
        f'parameters = {{ "path.user_id" = "{bob_id}" }}',
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(900)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    stack: Stack, tmp_path: Path
) -> None:
    alice, bob = stack.api_key("alice", admin=True), stack.api_key("bob")
    ids = _objects(stack, alice)
    bob_ids = _objects(stack, bob)
    for name, values in bob_ids.items():
        ids[name] += values
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(ids, bob_ids["user_id"][0]))
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "run",
            f"{stack.url}/v1/openapi.json",
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Bearer {alice}",
            "--no-color",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=840,
    )
    (tmp_path / "schemathesis.txt").write_text(result.stdout + result.stderr)
    summary = result.stdout[result.stdout.find("=== FAILURES") :] or result.stdout[-5000:]
    assert result.returncode == 0, summary[:20000] + result.stderr[-3000:]
