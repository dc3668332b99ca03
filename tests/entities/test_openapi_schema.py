"""The OpenAPI document describes what the server really sends: a client generated from it
(or a validator such as schemathesis) accepts every real response, nulls and errors included."""

import asyncio
from typing import Any

import pytest
from django.utils import timezone
from jsonschema import Draft7Validator
from rest_framework.test import APIClient

from entities.models import Message, Run, RunStep, User
from entities.services.users import api_key_create
from tests.stack import sse_events

ERROR_STATUSES = ("400", "401", "403", "404", "409", "413", "503")


@pytest.fixture
def document(as_alice: APIClient) -> dict[str, Any]:
    response = as_alice.get("/v1/openapi.json", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema's null type."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft7Validator:
    """Validates against ``schema``, its ``$ref`` resolved in the document's components."""
    return Draft7Validator({**schema, "components": _json_schema(document["components"])})


def assert_documented(
    document: dict[str, Any], method: str, path: str, response: Any
) -> dict[str, Any]:
    """The response's status is documented for the operation and its body matches the schema."""
    operation = document["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], (method, path, status, sorted(operation["responses"]))
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    validator = _validator(document, schema)
    body = response.json()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == [], (method, path, status)
    return dict(body)


@pytest.fixture
def ended_run(as_alice: APIClient) -> dict[str, Any]:
    """A thread with a message, and a run on it that was cancelled before it started."""
    assistant = as_alice.post("/v1/assistants", {"model": "llama3.1"}).json()
    thread = as_alice.post("/v1/threads", {"messages": [{"role": "user", "content": "hi"}]})
    run = as_alice.post(
        f"/v1/threads/{thread.json()['id']}/runs", {"assistant_id": assistant["id"]}
    ).json()
    return dict(as_alice.post(f"/v1/threads/{run['thread_id']}/runs/{run['id']}/cancel").json())


def test_a_run_at_every_stage_matches_the_schema(
    document: dict[str, Any], as_alice: APIClient, ended_run: dict[str, Any]
) -> None:
    thread_id, run_id = ended_run["thread_id"], ended_run["id"]
    # Cancelled: no expiry, never started, completed or failed.
    body = assert_documented(
        document,
        "get",
        "/v1/threads/{thread_id}/runs/{run_id}",
        as_alice.get(f"/v1/threads/{thread_id}/runs/{run_id}"),
    )
    assert body["status"] == "cancelled"
    assert (body["expires_at"], body["started_at"], body["completed_at"]) == (None, None, None)
    # Queued: nothing but created_at and expires_at set.
    queued = as_alice.post(f"/v1/threads/{thread_id}/runs", {"assistant_id": body["assistant_id"]})
    assert_documented(document, "post", "/v1/threads/{thread_id}/runs", queued)
    # Its assistant deleted: assistant_id is null.
    as_alice.delete(f"/v1/assistants/{body['assistant_id']}")
    listed = assert_documented(
        document,
        "get",
        "/v1/threads/{thread_id}/runs",
        as_alice.get(f"/v1/threads/{thread_id}/runs"),
    )
    assert [r["assistant_id"] for r in listed["data"]] == [None, None]


def test_messages_and_run_steps_match_the_schema(
    document: dict[str, Any], as_alice: APIClient, ended_run: dict[str, Any]
) -> None:
    thread_id, run_id = ended_run["thread_id"], ended_run["id"]
    run = Run.objects.get(id=run_id)
    Message.objects.create(
        thread=run.thread,
        role=Message.Role.ASSISTANT,
        status=Message.Status.INCOMPLETE,
        run=run,
        incomplete_details={"reason": "run_cancelled"},
        incomplete_at=timezone.now(),
    )
    RunStep.objects.create(
        run=run,
        type=RunStep.Type.MESSAGE_CREATION,
        status=RunStep.Status.CANCELLED,
        cancelled_at=timezone.now(),
        step_details={"type": "message_creation", "message_creation": {"message_id": "msg_x"}},
    )
    messages = assert_documented(
        document,
        "get",
        "/v1/threads/{thread_id}/messages",
        as_alice.get(f"/v1/threads/{thread_id}/messages"),
    )
    assert [m["incomplete_at"] is None for m in messages["data"]] == [False, True]
    assert_documented(
        document,
        "get",
        "/v1/threads/{thread_id}/runs/{run_id}/steps",
        as_alice.get(f"/v1/threads/{thread_id}/runs/{run_id}/steps"),
    )


def test_users_and_api_keys_match_the_schema(
    document: dict[str, Any], as_alice: APIClient, alice: User
) -> None:
    me = assert_documented(document, "get", "/v1/users/me", as_alice.get("/v1/users/me"))
    assert me["username"] is None  # alice has no console login
    api_key_create(user=alice, name="spare")
    keys = assert_documented(
        document,
        "get",
        "/v1/users/{user_id}/api_keys",
        as_alice.get(f"/v1/users/{alice.id}/api_keys"),
    )
    assert {k["last_used_at"] is None for k in keys["data"]} == {True, False}
    assert {k["expires_at"] for k in keys["data"]} == {None}
    key_id = next(k["id"] for k in keys["data"] if k["name"] == "spare")
    revoked = as_alice.delete(f"/v1/users/{alice.id}/api_keys/{key_id}")
    assert assert_documented(document, "delete", "/v1/users/{user_id}/api_keys/{key_id}", revoked)[
        "revoked_at"
    ]


def test_every_operation_documents_the_error_body(document: dict[str, Any]) -> None:
    error = {"$ref": "#/components/schemas/Error"}
    undocumented = [
        (method, path, status)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status in ERROR_STATUSES
        if operation["responses"].get(status, {}).get("content", {}).get("application/json", {})
        != {"schema": error}
    ]
    assert undocumented == []


@pytest.mark.parametrize(
    ("method", "path", "url", "data", "status"),
    [
        ("post", "/v1/threads", "/v1/threads", {"metadata": 3}, 400),
        ("get", "/v1/threads/{thread_id}", "/v1/threads/thread_nope", None, 404),
        ("get", "/v1/users", "/v1/users", None, 403),
        ("post", "/v1/threads/{thread_id}/runs", "/v1/threads/{thread_id}/runs", {}, 409),
    ],
)
def test_real_error_responses_match_the_documented_error_body(
    document: dict[str, Any],
    as_alice: APIClient,
    ended_run: dict[str, Any],
    method: str,
    path: str,
    url: str,
    data: dict[str, Any] | None,
    status: int,
) -> None:
    thread_id = ended_run["thread_id"]
    if status == 409:  # a second run while one is active
        data = {"assistant_id": ended_run["assistant_id"]}
        as_alice.post(url.format(thread_id=thread_id), data)
    response = getattr(as_alice, method)(url.format(thread_id=thread_id), data)
    assert response.status_code == status
    body = assert_documented(document, method, path, response)
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_a_missing_key_is_the_documented_401(document: dict[str, Any]) -> None:
    response = APIClient().get("/v1/assistants")
    assert response.status_code == 401
    assert_documented(document, "get", "/v1/assistants", response)


async def _read(response: Any) -> str:
    return b"".join([chunk async for chunk in response.streaming_content]).decode()


def test_a_runs_server_sent_events_match_the_schema(
    transactional_db: None, document: dict[str, Any], as_alice: APIClient, ended_run: dict[str, Any]
) -> None:
    # Found by schemathesis: the stream was documented as one string, not as events.
    path = "/v1/threads/{thread_id}/runs/{run_id}/events"
    response = as_alice.get(path.format(**ended_run | {"run_id": ended_run["id"]}))
    assert response["Content-Type"].startswith("text/event-stream")
    text = asyncio.run(_read(response))
    events = [
        {"event": name, "data": data, **({"id": str(seq)} if seq is not None else {})}
        for seq, name, data in sse_events(iter(text.split("\n")))
    ]
    assert [e["event"] for e in events][-2:] == ["thread.run.cancelled", "done"]
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["text/event-stream"]
    validator = _validator(document, schema["schema"])
    assert [e.message for event in events for e in validator.iter_errors(event)] == []


def _response_schema(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    schema = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    ref: str = schema["schema"]["$ref"]
    return dict(document["components"]["schemas"][ref.rsplit("/", 1)[-1]])


def test_a_created_api_key_documents_its_secret(
    document: dict[str, Any], as_alice: APIClient, alice: User
) -> None:
    # A generated client keeps only documented fields: without `key` the secret was lost.
    path = "/v1/users/{user_id}/api_keys"
    schema = _response_schema(document, "post", path)
    assert "key" in schema["required"]
    response = as_alice.post(path.format(user_id=alice.id), {"name": "ci"})
    assert assert_documented(document, "post", path, response)["key"].startswith("ek_")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/assistants/{assistant_id}",
        "/v1/function_definitions/{definition_id}",
        "/v1/threads/{thread_id}",
        "/v1/threads/{thread_id}/messages/{message_id}",
        "/v1/files/{file_id}",
        "/v1/users/{user_id}",
    ],
)
def test_deletions_document_the_deleted_object(document: dict[str, Any], path: str) -> None:
    schema = _response_schema(document, "delete", path)
    assert set(schema["required"]) == {"id", "object", "deleted"}
