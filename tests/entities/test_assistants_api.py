"""Assistants over /v1/assistants, and the function definitions operators assign to them."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from entities.models import User

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def create(client: APIClient, **fields: object) -> dict:
    response = client.post("/v1/assistants", {"model": "llama3.1", **fields})
    assert response.status_code == 200, response.json()
    return response.json()


def test_create_returns_the_assistants_v2_object(as_alice: APIClient, alice: User) -> None:
    body = create(
        as_alice,
        name="Mathy",
        description="test_case",
        instructions="You are a helpful assistant",
        tools=[WEATHER, {"type": "code_interpreter"}],
        metadata={"team": "maths"},
        temperature=0.2,
        top_p=0.9,
        response_format={"type": "json_object"},
    )
    assert body["id"].startswith("asst_")
    assert body["object"] == "assistant"
    assert isinstance(body["created_at"], int)
    assert body["name"] == "Mathy"
    assert body["model"] == "llama3.1"
    assert body["tools"] == [WEATHER, {"type": "code_interpreter"}]
    assert body["tool_resources"] == {}
    assert body["metadata"] == {"team": "maths"}
    assert (body["temperature"], body["top_p"]) == (0.2, 0.9)
    assert body["response_format"] == {"type": "json_object"}
    assert body["user_id"] == alice.id


def test_defaults_when_only_a_model_is_given(as_alice: APIClient) -> None:
    body = create(as_alice)
    assert body["name"] is None
    assert body["instructions"] is None
    assert body["tools"] == []
    assert body["metadata"] == {}
    assert body["response_format"] == "auto"


def test_retrieve_update_delete(as_alice: APIClient) -> None:
    assistant = create(as_alice, name="Before")
    url = f"/v1/assistants/{assistant['id']}"
    assert as_alice.get(url).json()["name"] == "Before"

    updated = as_alice.post(url, {"name": "After", "metadata": {"v": "2"}}).json()
    assert updated["name"] == "After"
    assert updated["metadata"] == {"v": "2"}
    assert updated["model"] == "llama3.1"  # untouched fields stay

    deleted = as_alice.delete(url).json()
    assert deleted == {"id": assistant["id"], "object": "assistant.deleted", "deleted": True}
    assert as_alice.get(url).status_code == 404


def test_list_shows_only_my_assistants(as_alice: APIClient, as_bob: APIClient) -> None:
    mine = create(as_alice, name="mine")
    create(as_bob, name="bob's")
    ids = [a["id"] for a in as_alice.get("/v1/assistants").json()["data"]]
    assert ids == [mine["id"]]


def test_bob_cannot_see_or_change_alices_assistant(as_alice: APIClient, as_bob: APIClient) -> None:
    assistant = create(as_alice)
    url = f"/v1/assistants/{assistant['id']}"
    for response in (as_bob.get(url), as_bob.post(url, {"name": "x"}), as_bob.delete(url)):
        assert response.status_code == 404
        assert (
            response.json()["error"]["message"]
            == f"No assistant found with id '{assistant['id']}'."
        )
    assert as_alice.get(url).json()["name"] is None


def test_admin_sees_everything_and_can_create_for_a_user(
    as_operator: APIClient, as_alice: APIClient, alice: User
) -> None:
    create(as_alice)
    made = create(as_operator, user_id=alice.id, name="for alice")
    assert made["user_id"] == alice.id
    assert len(as_operator.get("/v1/assistants").json()["data"]) == 2
    assert made["id"] in [a["id"] for a in as_alice.get("/v1/assistants").json()["data"]]


def test_a_user_cannot_create_for_someone_else(as_alice: APIClient, bob: User) -> None:
    response = as_alice.post("/v1/assistants", {"model": "m", "user_id": bob.id})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({}, "model", "Missing required parameter: 'model'"),
        ({"model": 12}, "model", None),
        ({"model": "m", "temperature": 3}, "temperature", "less than or equal to 2"),
        ({"model": "m", "top_p": -0.1}, "top_p", "greater than or equal to 0"),
        ({"model": "m", "temperature": "hot"}, "temperature", "number"),
        ({"model": "m", "name": "x" * 257}, "name", "256"),
        ({"model": "m", "tools": "all"}, "tools", "list"),
        ({"model": "m", "tools": [{"type": "browser"}]}, "tools", "tools[0].type"),
        ({"model": "m", "tools": [{"type": "file_search"}]}, "tools", "not supported"),
        (
            {"model": "m", "tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "tools",
            "tools[0].function.name",
        ),
        (
            {
                "model": "m",
                "tools": [
                    {"type": "function", "function": {"name": "f", "parameters": {"type": 7}}}
                ],
            },
            "tools",
            "not a valid JSON Schema",
        ),
        ({"model": "m", "tools": [WEATHER, WEATHER]}, "tools", "given twice"),
        ({"model": "m", "metadata": {"k": 1}}, "metadata", "must be a string"),
        ({"model": "m", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "16"),
        ({"model": "m", "metadata": {"k" * 65: "v"}}, "metadata", "64"),
        ({"model": "m", "metadata": {"k": "v" * 513}}, "metadata", "512"),
        ({"model": "m", "response_format": {"type": "yaml"}}, "response_format", "json_schema"),
        (
            {"model": "m", "tool_resources": {"code_interpreter": {"file_ids": "x"}}},
            "tool_resources",
            "file_ids",
        ),
        (
            {"model": "m", "colour": "blue"},
            "colour",
            "Unrecognized request argument supplied: colour",
        ),
        (
            {"model": "m", "function_definition_ids": ["func_missing"]},
            "function_definition_ids",
            "func_missing",
        ),
    ],
)
def test_bad_fields_are_named_in_a_400(
    as_alice: APIClient, body: dict, param: str, fragment: str | None
) -> None:
    response = as_alice.post("/v1/assistants", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    if fragment:
        assert fragment in error["message"]
    assert as_alice.get("/v1/assistants").json()["data"] == []


def test_assigned_function_definitions_appear_in_tools(
    as_operator: APIClient, as_alice: APIClient
) -> None:
    definition = as_operator.post(
        "/v1/function_definitions",
        {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": WEATHER["function"]["parameters"],
        },
    ).json()
    assert definition["id"].startswith("func_")
    assistant = create(
        as_alice,
        tools=[{"type": "code_interpreter"}, WEATHER],
        function_definition_ids=[definition["id"]],
    )
    assert assistant["function_definition_ids"] == [definition["id"]]
    names = [t.get("function", {}).get("name", t["type"]) for t in assistant["tools"]]
    # The assigned definition stands in for the inline tool of the same name, once.
    assert names == ["code_interpreter", "get_weather"]
    assert assistant["tools"][1]["function"]["strict"] is False

    cleared = as_alice.post(f"/v1/assistants/{assistant['id']}", {"function_definition_ids": []})
    assert cleared.json()["function_definition_ids"] == []


def test_function_definitions_are_managed_by_admins(
    as_operator: APIClient, as_alice: APIClient
) -> None:
    body = {"name": "now", "parameters": {"type": "object", "properties": {}}}
    assert as_alice.post("/v1/function_definitions", body).status_code == 403
    created = as_operator.post("/v1/function_definitions", body).json()
    assert as_alice.get("/v1/function_definitions").json()["data"][0]["name"] == "now"
    url = f"/v1/function_definitions/{created['id']}"
    assert as_operator.post(url, {"description": "The time"}).json()["description"] == "The time"
    assert as_operator.post("/v1/function_definitions", body).status_code == 400  # name taken
    bad = as_operator.post(
        "/v1/function_definitions", {"name": "x", "parameters": {"type": "nope"}}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "parameters"
    assert as_operator.delete(url).json()["deleted"] is True
