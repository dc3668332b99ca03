"""Valid-looking input that used to be a 500: nulls OpenAI accepts, numbers too big to store,
NUL characters PostgreSQL cannot keep, names taken at the same moment, and bodies that hide
their length."""

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings
from rest_framework.test import APIClient

from entities.models import FunctionDefinition, User


def error(response: object) -> dict:
    assert response.status_code == 400, response.content  # type: ignore[attr-defined]
    return response.json()["error"]  # type: ignore[attr-defined]


def test_a_null_code_interpreter_means_no_files(as_alice: APIClient) -> None:
    null_ci = {"code_interpreter": None}
    thread = as_alice.post("/v1/threads", {"tool_resources": null_ci})
    assert thread.status_code == 200, thread.content
    assert thread.json()["tool_resources"] == {}
    assistant = as_alice.post("/v1/assistants", {"model": "m", "tool_resources": null_ci})
    assert assistant.status_code == 200, assistant.content
    assert assistant.json()["tool_resources"] == {}
    url = f"/v1/assistants/{assistant.json()['id']}"
    assert as_alice.post(url, {"tool_resources": null_ci}).json()["tool_resources"] == {}
    url = f"/v1/threads/{thread.json()['id']}"
    assert as_alice.post(url, {"tool_resources": null_ci}).json()["tool_resources"] == {}
    run = as_alice.post(
        "/v1/threads/runs",
        {
            "assistant_id": assistant.json()["id"],
            "tool_resources": null_ci,
            "thread": {"tool_resources": null_ci, "metadata": None},
        },
    )
    assert run.status_code == 200, run.content


def test_null_metadata_and_tool_resources_mean_none(as_alice: APIClient) -> None:
    thread = as_alice.post("/v1/threads", {"metadata": None, "tool_resources": None})
    assert thread.status_code == 200, thread.content
    assert (thread.json()["metadata"], thread.json()["tool_resources"]) == ({}, {})
    url = f"/v1/threads/{thread.json()['id']}"
    as_alice.post(url, {"metadata": {"a": "b"}})
    assert as_alice.post(url, {"metadata": None}).json()["metadata"] == {}
    message = as_alice.post(f"{url}/messages", {"role": "user", "content": "x", "metadata": None})
    assert message.json()["metadata"] == {}
    changed = as_alice.post(f"{url}/messages/{message.json()['id']}", {"metadata": None})
    assert changed.json()["metadata"] == {}
    assistant = as_alice.post("/v1/assistants", {"model": "m", "metadata": None})
    assert assistant.json()["metadata"] == {}
    again = as_alice.post(f"/v1/assistants/{assistant.json()['id']}", {"metadata": None})
    assert again.json()["metadata"] == {}


def test_numbers_too_big_to_store_are_400s(as_alice: APIClient, alice: User) -> None:
    key = as_alice.post(f"/v1/users/{alice.id}/api_keys", {"expires_at": 10**20})
    assert error(key)["param"] == "expires_at"
    assistant = as_alice.post("/v1/assistants", {"model": "m"}).json()
    thread = as_alice.post("/v1/threads", {}).json()
    for field in ("max_prompt_tokens", "max_completion_tokens"):
        run = as_alice.post(
            f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], field: 2**31}
        )
        assert error(run)["param"] == field


def test_nul_characters_are_400s_naming_the_field(as_alice: APIClient) -> None:
    thread = as_alice.post("/v1/threads", {}).json()
    messages = f"/v1/threads/{thread['id']}/messages"
    tool = {"type": "function", "function": {"name": "f", "description": "a\u0000b"}}
    cases = [
        (messages, {"role": "user", "content": "a\u0000b"}, "content"),
        (messages, {"role": "user", "content": [{"type": "text", "text": "\u0000"}]}, "content"),
        (messages, {"role": "user", "content": "x", "metadata": {"k": "\u0000"}}, "metadata"),
        (messages, {"role": "user", "content": "x", "metadata": {"\u0000": "v"}}, "metadata"),
        ("/v1/assistants", {"model": "m", "tools": [tool]}, "tools"),
        ("/v1/threads", {"metadata": {"k": "\u0000"}}, "metadata"),
        (
            "/v1/threads",
            {"messages": [{"role": "user", "content": "\u0000"}]},
            "messages[0].content",
        ),
    ]
    for url, body, param in cases:
        assert error(as_alice.post(url, body))["param"] == param, body
    assert as_alice.get(messages).json()["data"] == []


def test_a_name_taken_at_the_same_moment_is_a_400(
    as_operator: APIClient, operator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = as_operator.post("/v1/function_definitions", {"name": "lookup"})
    assert first.status_code == 200
    # The other request's insert lands between our check and our insert: the check sees
    # nothing, the database's unique index refuses.
    from django.db.models import QuerySet

    monkeypatch.setattr(QuerySet, "exists", lambda self: False)
    second = as_operator.post("/v1/function_definitions", {"name": "lookup"})
    assert error(second)["param"] == "name"
    other = as_operator.post("/v1/function_definitions", {"name": "other"}).json()
    renamed = as_operator.post(f"/v1/function_definitions/{other['id']}", {"name": "lookup"})
    assert error(renamed)["param"] == "name"
    users = [as_operator.post("/v1/users", {"name": "x", "username": "zed"}) for _ in range(2)]
    assert users[0].status_code == 200
    assert error(users[1])["param"] == "username"
    assert FunctionDefinition.objects.filter(name="lookup").count() == 1


def post_over_asgi(body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """POST a body in chunks straight to Django's ASGI handler, as daphne hands it over."""

    async def exchange() -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/threads",
            "headers": [
                (b"host", b"testserver"),
                (b"content-type", b"application/json"),
                *headers,
            ],
            "query_string": b"",
        }
        app = ApplicationCommunicator(ASGIHandler(), scope)
        half = len(body) // 2
        await app.send_input({"type": "http.request", "body": body[:half], "more_body": True})
        await app.send_input({"type": "http.request", "body": body[half:], "more_body": False})
        start = await app.receive_output(10)
        content = await app.receive_output(10)
        return start["status"], content["body"]

    return async_to_sync(exchange)()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_without_an_honest_length_is_still_a_413(db: None) -> None:
    body = b'{"metadata": {"k": "' + b"x" * 2000 + b'"}}'
    for headers in ([(b"transfer-encoding", b"chunked")], [(b"content-length", b"10")]):
        status, content = post_over_asgi(body, headers)
        assert status == 413, content
        assert b'"request_too_large"' in content
    status, _ = post_over_asgi(b"{}", [(b"transfer-encoding", b"chunked")])
    assert status == 401  # a small one goes on to the view, which wants a key


def test_null_stays_refused_where_it_means_nothing(as_alice: APIClient) -> None:
    assert error(as_alice.post("/v1/threads", {"participant_ids": None}))["param"] == (
        "participant_ids"
    )
