"""Runs as records: created queued with the assistant's settings, one active per thread, cancel,
tool outputs, steps. Executing them is the run engine's (tested in tests/inference)."""

from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from entities.models import Run, RunStep, User


@pytest.fixture
def assistant(as_alice: APIClient) -> dict:
    return as_alice.post(
        "/v1/assistants",
        {
            "model": "llama3.1",
            "instructions": "Be brief.",
            "temperature": 0.3,
            "tools": [{"type": "code_interpreter"}],
        },
    ).json()


@pytest.fixture
def thread(as_alice: APIClient) -> dict:
    return as_alice.post("/v1/threads", {"messages": [{"role": "user", "content": "hi"}]}).json()


def start(client: APIClient, thread: dict, assistant: dict, **fields: object) -> dict:
    response = client.post(
        f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], **fields}
    )
    assert response.status_code == 200, response.json()
    return response.json()


def test_run_is_created_queued_with_the_assistants_settings(
    as_alice: APIClient, assistant: dict, thread: dict
) -> None:
    run = start(as_alice, thread, assistant)
    assert run["id"].startswith("run_")
    assert run["object"] == "thread.run"
    assert run["status"] == "queued"
    assert (run["thread_id"], run["assistant_id"]) == (thread["id"], assistant["id"])
    assert run["model"] == "llama3.1"
    assert run["instructions"] == "Be brief."
    assert run["temperature"] == 0.3
    assert run["tools"] == [{"type": "code_interpreter"}]
    assert run["truncation_strategy"] == {"type": "auto", "last_messages": None}
    assert run["tool_choice"] == "auto"
    assert run["parallel_tool_calls"] is True
    assert run["expires_at"] - run["created_at"] == 600
    for field in ("started_at", "completed_at", "failed_at", "cancelled_at", "last_error", "usage"):
        assert run[field] is None


def test_run_overrides_and_additional_messages(
    as_alice: APIClient, assistant: dict, thread: dict
) -> None:
    run = start(
        as_alice,
        thread,
        assistant,
        model="qwen3",
        instructions="Be long.",
        tools=[],
        temperature=1.5,
        max_completion_tokens=64,
        truncation_strategy={"type": "last_messages", "last_messages": 3},
        tool_choice="none",
        parallel_tool_calls=False,
        metadata={"source": "test"},
        additional_messages=[{"role": "user", "content": "and another thing"}],
    )
    assert (run["model"], run["instructions"], run["tools"]) == ("qwen3", "Be long.", [])
    assert (run["temperature"], run["max_completion_tokens"]) == (1.5, 64)
    assert run["truncation_strategy"] == {"type": "last_messages", "last_messages": 3}
    assert (run["tool_choice"], run["parallel_tool_calls"]) == ("none", False)
    messages = as_alice.get(f"/v1/threads/{thread['id']}/messages").json()["data"]
    assert messages[0]["content"][0]["text"]["value"] == "and another thing"


def test_a_second_active_run_is_a_409(as_alice: APIClient, assistant: dict, thread: dict) -> None:
    first = start(as_alice, thread, assistant)
    response = as_alice.post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})
    assert response.status_code == 409
    assert first["id"] in response.json()["error"]["message"]
    as_alice.post(f"/v1/threads/{thread['id']}/runs/{first['id']}/cancel")
    assert start(as_alice, thread, assistant)["status"] == "queued"


def test_cancel_a_queued_run(as_alice: APIClient, assistant: dict, thread: dict) -> None:
    run = start(as_alice, thread, assistant)
    url = f"/v1/threads/{thread['id']}/runs/{run['id']}"
    cancelled = as_alice.post(f"{url}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] is not None
    assert cancelled["expires_at"] is None
    again = as_alice.post(f"{url}/cancel")
    assert again.status_code == 400
    assert "cancelled" in again.json()["error"]["message"]


def test_cancel_a_run_in_progress_asks_the_worker(
    as_alice: APIClient, assistant: dict, thread: dict
) -> None:
    run = start(as_alice, thread, assistant)
    Run.objects.filter(id=run["id"]).update(status="in_progress", started_at=timezone.now())
    cancelling = as_alice.post(f"/v1/threads/{thread['id']}/runs/{run['id']}/cancel").json()
    assert cancelling["status"] == "cancelling"


def test_run_list_retrieve_update(as_alice: APIClient, assistant: dict, thread: dict) -> None:
    run = start(as_alice, thread, assistant)
    base = f"/v1/threads/{thread['id']}/runs"
    assert [r["id"] for r in as_alice.get(base).json()["data"]] == [run["id"]]
    assert as_alice.get(f"{base}/{run['id']}").json()["status"] == "queued"
    updated = as_alice.post(f"{base}/{run['id']}", {"metadata": {"a": "1"}}).json()
    assert updated["metadata"] == {"a": "1"}
    assert as_alice.post(f"{base}/{run['id']}", {"model": "x"}).status_code == 400


def test_bob_gets_404_on_alices_runs(
    as_alice: APIClient, as_bob: APIClient, assistant: dict, thread: dict
) -> None:
    run = start(as_alice, thread, assistant)
    base = f"/v1/threads/{thread['id']}/runs"
    assert as_bob.get(base).status_code == 404
    assert as_bob.get(f"{base}/{run['id']}").status_code == 404
    assert as_bob.post(f"{base}/{run['id']}/cancel").status_code == 404
    bobs_assistant = as_bob.post("/v1/assistants", {"model": "m"}).json()
    # alice cannot run bob's assistant on her thread either
    response = as_alice.post(base, {"assistant_id": bobs_assistant["id"]})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "assistant_id"),
        ({"assistant_id": "asst_x", "temperature": 5}, "temperature"),
        ({"assistant_id": "asst_x", "tool_choice": "sometimes"}, "tool_choice"),
        (
            {"assistant_id": "asst_x", "truncation_strategy": {"type": "last_messages"}},
            "truncation_strategy",
        ),
        ({"assistant_id": "asst_x", "max_completion_tokens": 0}, "max_completion_tokens"),
        ({"assistant_id": "asst_x", "parallel_tool_calls": "maybe"}, "parallel_tool_calls"),
        (
            {"assistant_id": "asst_x", "additional_messages": [{"role": "user"}]},
            "additional_messages[0].content",
        ),
    ],
)
def test_run_fields_are_validated(
    as_alice: APIClient, thread: dict, body: dict, param: str
) -> None:
    response = as_alice.post(f"/v1/threads/{thread['id']}/runs", body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_create_thread_and_run(as_alice: APIClient, assistant: dict, alice: User) -> None:
    response = as_alice.post(
        "/v1/threads/runs",
        {
            "assistant_id": assistant["id"],
            "thread": {"messages": [{"role": "user", "content": "2+2?"}], "metadata": {"k": "v"}},
        },
    )
    run = response.json()
    assert run["status"] == "queued"
    thread = as_alice.get(f"/v1/threads/{run['thread_id']}").json()
    assert thread["metadata"] == {"k": "v"}
    assert thread["participant_ids"] == [alice.id]
    messages = as_alice.get(f"/v1/threads/{run['thread_id']}/messages").json()["data"]
    assert messages[0]["content"][0]["text"]["value"] == "2+2?"


def test_create_thread_and_run_makes_nothing_when_the_assistant_is_unknown(
    as_alice: APIClient,
) -> None:
    response = as_alice.post("/v1/threads/runs", {"assistant_id": "asst_nope", "thread": {}})
    assert response.status_code == 404
    assert (
        as_alice.get(f"/v1/users/{as_alice.get('/v1/users/me').json()['id']}/threads").json()[
            "data"
        ]
        == []
    )


def _waiting_for(run_id: str, call_ids: list[str]) -> RunStep:
    """Put a run where the engine leaves it after a model asked for client functions."""
    calls: list[dict[str, Any]] = [
        {"id": c, "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for c in call_ids
    ]
    run = Run.objects.get(id=run_id)
    run.status = Run.Status.REQUIRES_ACTION
    run.required_action = {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {"tool_calls": calls},
    }
    run.save()
    return RunStep.objects.create(
        run=run,
        type=RunStep.Type.TOOL_CALLS,
        step_details={
            "type": "tool_calls",
            "tool_calls": [{**c, "function": {**c["function"], "output": None}} for c in calls],
        },
    )


def test_submit_tool_outputs_checks_every_call_id(
    as_alice: APIClient, assistant: dict, thread: dict
) -> None:
    run = start(as_alice, thread, assistant)
    url = f"/v1/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs"
    not_waiting = as_alice.post(url, {"tool_outputs": [{"tool_call_id": "call_a", "output": "1"}]})
    assert not_waiting.status_code == 400
    step = _waiting_for(run["id"], ["call_a", "call_b"])

    unknown = as_alice.post(url, {"tool_outputs": [{"tool_call_id": "call_z", "output": "1"}]})
    assert unknown.status_code == 400
    assert "call_z" in unknown.json()["error"]["message"]
    missing = as_alice.post(url, {"tool_outputs": [{"tool_call_id": "call_a", "output": "1"}]})
    assert "call_b" in missing.json()["error"]["message"]
    twice = as_alice.post(
        url,
        {
            "tool_outputs": [
                {"tool_call_id": "call_a", "output": "1"},
                {"tool_call_id": "call_a", "output": "2"},
            ]
        },
    )
    assert "twice" in twice.json()["error"]["message"]
    assert (
        as_alice.get(f"/v1/threads/{thread['id']}/runs/{run['id']}").json()["status"]
        == "requires_action"
    )

    ok = as_alice.post(
        url,
        {
            "tool_outputs": [
                {"tool_call_id": "call_b", "output": "B"},
                {"tool_call_id": "call_a", "output": "A"},
            ]
        },
    )
    assert ok.status_code == 200
    assert ok.json()["status"] == "queued"
    assert ok.json()["required_action"] is None
    step_url = f"/v1/threads/{thread['id']}/runs/{run['id']}/steps"
    steps = as_alice.get(step_url).json()["data"]
    assert steps[0]["id"] == step.id
    assert steps[0]["object"] == "thread.run.step"
    assert steps[0]["status"] == "completed"
    assert [c["function"]["output"] for c in steps[0]["step_details"]["tool_calls"]] == ["A", "B"]
    one = as_alice.get(f"{step_url}/{step.id}").json()
    assert (one["run_id"], one["thread_id"], one["assistant_id"]) == (
        run["id"],
        thread["id"],
        assistant["id"],
    )
    assert as_alice.get(f"{step_url}/step_nope").status_code == 404


def test_cancel_while_waiting_for_tool_outputs(
    as_alice: APIClient, assistant: dict, thread: dict
) -> None:
    run = start(as_alice, thread, assistant)
    step = _waiting_for(run["id"], ["call_a"])
    cancelled = as_alice.post(f"/v1/threads/{thread['id']}/runs/{run['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["required_action"] is None
    step.refresh_from_db()
    assert step.status == "cancelled"
