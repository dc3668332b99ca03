"""Valid-looking input that used to be a 500: nulls OpenAI accepts, numbers too big to store,
NUL characters PostgreSQL cannot keep, names taken at the same moment, and bodies that hide
their length."""

import json

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
        (
            messages,
            {"role": "user", "content": [{"type": "text", "text": "\u0000"}]},
            "content[0].text",
        ),
        (messages, {"role": "user", "content": "x", "metadata": {"k": "\u0000"}}, "metadata.k"),
        (messages, {"role": "user", "content": "x", "metadata": {"\u0000": "v"}}, "metadata"),
        ("/v1/assistants", {"model": "m", "tools": [tool]}, "tools[0].function.description"),
        ("/v1/threads", {"metadata": {"k": "\u0000"}}, "metadata.k"),
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


def post_json(client: APIClient, url: str, body: object) -> object:
    """POST ``body`` as JSON with every non-ASCII character escaped, so a lone surrogate
    reaches the server as ``\\ud800``, as any JSON library sends it."""
    text = body if isinstance(body, str) else json.dumps(body)
    return client.generic("POST", url, text, content_type="application/json")


def test_lone_surrogates_and_nul_are_refused_everywhere_naming_the_path(
    as_alice: APIClient, as_bob: APIClient, alice: User, bob: User
) -> None:
    """Bob takes part in Alice's thread; text that cannot be stored never reaches it."""
    thread = as_alice.post("/v1/threads", {"participant_ids": [bob.id]}).json()
    assistant = as_alice.post("/v1/assistants", {"model": "m"}).json()
    messages = f"/v1/threads/{thread['id']}/messages"
    runs = f"/v1/threads/{thread['id']}/runs"
    say = {"role": "user", "content": "x"}
    cases: list[tuple[str, dict, str]] = [
        (messages, {**say, "content": "a\ud800b"}, "content"),
        (messages, {**say, "content": "a\udfff"}, "content"),
        (messages, {**say, "content": [{"type": "text", "text": "\ud800"}]}, "content[0].text"),
        (messages, {**say, "metadata": {"k": "\ud800"}}, "metadata.k"),
        (messages, {**say, "metadata": {"\ud800": "v"}}, "metadata"),
        (messages, {**say, "metadata": {"k": "\u0000"}}, "metadata.k"),
        (f"/v1/threads/{thread['id']}", {"metadata": {"k": "\udbff"}}, "metadata.k"),
        ("/v1/threads", {"metadata": {"k": "\ud800"}}, "metadata.k"),
        ("/v1/threads", {"messages": [{**say, "content": "\ud800"}]}, "messages[0].content"),
        (
            runs,
            {
                "assistant_id": assistant["id"],
                "additional_messages": [{**say, "content": "\ud800"}],
            },
            "additional_messages[0].content",
        ),
        (
            runs,
            {"assistant_id": assistant["id"], "additional_instructions": "\ud800"},
            "additional_instructions",
        ),
        ("/v1/assistants", {"model": "m", "instructions": "\ud800"}, "instructions"),
        ("/v1/assistants", {"model": "m", "description": "\u0000"}, "description"),
    ]
    for url, body, param in cases:
        for client in (as_alice, as_bob):
            answer = error(post_json(client, url, body))
            assert (answer["param"], answer["code"]) == (param, "invalid_value"), body
            assert "surrogate" in answer["message"] or "NUL" in answer["message"], answer
    # Nothing was stored, so every view of the thread still answers.
    assert as_alice.get(messages).json()["data"] == []
    for user, client in ((alice, as_alice), (bob, as_bob)):
        listed = client.get(f"/v1/users/{user.id}/threads")
        assert listed.status_code == 200, listed.content
    run = as_alice.post(runs, {"assistant_id": assistant["id"]})
    assert run.status_code == 200, run.content
    assert as_alice.get(runs).status_code == 200


def test_a_proper_surrogate_pair_is_just_an_emoji(as_alice: APIClient) -> None:
    thread = as_alice.post("/v1/threads", {}).json()
    messages = f"/v1/threads/{thread['id']}/messages"
    made = post_json(as_alice, messages, {"role": "user", "content": "a\U0001f600b"})
    assert made.status_code == 200, made.content  # type: ignore[attr-defined]
    listed = as_alice.get(messages).json()["data"]
    assert listed[0]["content"][0]["text"]["value"] == "a\U0001f600b"


def nested(levels: int) -> str:
    """A response_format whose JSON body is ``levels`` objects deep."""
    inner = levels - 3  # the body, response_format and json_schema are three
    schema = '{"a": ' * inner + "1" + "}" * inner
    return (
        '{"model": "m", "response_format": {"type": "json_schema", '
        f'"json_schema": {{"name": "x", "schema": {schema}}}}}}}'
    )


def test_json_nested_too_deep_is_a_400(as_alice: APIClient) -> None:
    for depth in (65, 400, 100_000):
        answer = error(post_json(as_alice, "/v1/assistants", nested(depth)))
        assert answer["code"] == "invalid_json", answer
        assert "nested more than 64 levels" in answer["message"], answer
        listed = "[" * depth + "]" * depth
        assert error(post_json(as_alice, "/v1/threads", listed))["code"] == "invalid_json"
    made = post_json(as_alice, "/v1/assistants", nested(64))
    assert made.status_code == 200, made.content  # type: ignore[attr-defined]


def test_empty_content_is_a_400_as_in_openai(as_alice: APIClient) -> None:
    thread = as_alice.post("/v1/threads", {}).json()
    messages = f"/v1/threads/{thread['id']}/messages"
    for content, where in (
        ("", "content"),
        ([], "content"),
        ([{"type": "text", "text": ""}], "content[0].text"),
    ):
        answer = error(as_alice.post(messages, {"role": "user", "content": content}))
        assert answer["param"] == "content", (content, answer)
        assert answer["message"].startswith(where), answer
        made = as_alice.post("/v1/threads", {"messages": [{"role": "user", "content": content}]})
        assert error(made)["param"] == "messages[0].content"
    assert as_alice.get(messages).json()["data"] == []
    assert as_alice.post(messages, {"role": "user", "content": " "}).status_code == 200


def test_booleans_are_json_booleans(as_alice: APIClient, as_operator: APIClient) -> None:
    assistant = as_alice.post("/v1/assistants", {"model": "m"}).json()
    thread = as_alice.post("/v1/threads", {}).json()
    runs = f"/v1/threads/{thread['id']}/runs"
    values: list[object] = ["yes", "true", 1, 0, "false", []]
    for value in values:
        for url, body in (
            (runs, {"assistant_id": assistant["id"], "stream": value}),
            ("/v1/threads/runs", {"assistant_id": assistant["id"], "stream": value}),
            (runs, {"assistant_id": assistant["id"], "parallel_tool_calls": value}),
        ):
            field = next(k for k in body if k != "assistant_id")
            answer = error(as_alice.post(url, body))
            assert answer["param"] == field, (body, answer)
            assert "boolean" in answer["message"], answer
        made = as_operator.post("/v1/users", {"name": "x", "is_admin": value})
        assert error(made)["param"] == "is_admin"
        fn = as_operator.post("/v1/function_definitions", {"name": "f", "strict": value})
        assert error(fn)["param"] == "strict"
    assert as_alice.get(runs).json()["data"] == []
    run = as_alice.post(runs, {"assistant_id": assistant["id"], "stream": False})
    assert run.status_code == 200, run.content
    steps = as_alice.post(
        f"{runs}/{run.json()['id']}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": "c", "output": ""}], "stream": "yes"},
    )
    assert error(steps)["param"] == "stream"


def test_only_json_bodies_outside_file_uploads(as_alice: APIClient) -> None:
    """Form fields hold JSON as text, which would slip past the JSON body's checks."""
    form = as_alice.post("/v1/threads", {"metadata": '{"k": "\\ud800"}'}, format="multipart")
    assert form.status_code == 415, form.content
    assert form.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("metadata", '{"k": "\\ud800"}'),
        ("tools", '[{"type": "function", "function": {"name": "f", "description": "\\udc00"}}]'),
        ("tool_resources", '{"code_interpreter": {"file_ids": ["\\ud800"]}}'),
        ("response_format", '{"type": "json_schema", "json_schema": {"name": "\\ud800"}}'),
    ],
)
def test_the_admin_refuses_unstorable_text_in_json_fields(
    operator: User, alice: User, field: str, value: str
) -> None:
    """The admin's JSON fields decode escapes too; their validators hold the same check, and
    the form comes back with the error and the value as the operator typed it."""
    from django.test import Client

    from entities.models import Assistant

    console = Client(raise_request_exception=False)
    assert console.login(username="operator", password="s3cret-pass")
    form = {
        "owner": alice.id,
        "name": "Checker",
        "model": "llama3.1",
        "tools": "[]",
        "tool_resources": "{}",
        "response_format": '"auto"',
        "metadata": "{}",
        field: value,
    }
    response = console.post("/admin/entities/assistant/add/", form)
    assert response.status_code == 200, response.status_code
    assert "must not contain a lone surrogate" in response.content.decode()
    assert not Assistant.objects.exists()


def test_ids_in_the_path_and_query_are_checked_as_body_text_is(as_alice: APIClient) -> None:
    """PostgreSQL refuses a lookup by a string with NUL in it, which was a 500."""
    thread = as_alice.post("/v1/threads", {}).json()
    for url, param in (
        ("/v1/threads/thread_x%00y", "thread_id"),
        (f"/v1/threads/{thread['id']}/messages/msg_%00", "message_id"),
        ("/v1/assistants?after=asst_%00", "after"),
        (f"/v1/threads/{thread['id']}/messages?before=%00", "before"),
    ):
        answer = error(as_alice.get(url))
        assert (answer["param"], answer["code"]) == (param, "invalid_value"), (url, answer)
    assert as_alice.get(f"/v1/threads/{thread['id']}/messages?after=msg_0").status_code == 200
