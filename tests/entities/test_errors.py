"""Bad input never gets a 500 and never changes anything."""

from django.test import override_settings
from rest_framework.test import APIClient


def test_malformed_json_is_a_400(as_alice: APIClient) -> None:
    response = as_alice.post("/v1/assistants", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_a_body_that_is_not_an_object(as_alice: APIClient) -> None:
    response = as_alice.post("/v1/assistants", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]["message"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_an_oversized_body_is_a_413(as_alice: APIClient) -> None:
    response = as_alice.post("/v1/assistants", {"model": "m", "instructions": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert as_alice.get("/v1/assistants").json()["data"] == []


def test_unknown_ids_and_urls_are_404s(as_alice: APIClient) -> None:
    for url in (
        "/v1/assistants/asst_nope",
        "/v1/threads/thread_nope",
        "/v1/threads/thread_nope/messages",
        "/v1/threads/thread_nope/runs/run_nope",
        "/v1/function_definitions/func_nope",
        "/v1/nothing-here",
    ):
        response = as_alice.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_wrong_method_is_a_405(as_alice: APIClient) -> None:
    response = as_alice.put("/v1/assistants", {})
    assert response.status_code == 405
    assert "error" in response.json()


def test_wrong_types_everywhere_are_400s(as_alice: APIClient) -> None:
    thread = as_alice.post("/v1/threads", {}).json()
    bodies = [
        ("/v1/assistants", {"model": ["a"]}),
        ("/v1/assistants", {"model": "m", "tools": {"type": "function"}}),
        ("/v1/threads", {"messages": "hello"}),
        ("/v1/threads", {"participant_ids": "user_x"}),
        ("/v1/threads", {"participant_ids": ["user_unknown"]}),
        (f"/v1/threads/{thread['id']}/messages", {"role": "user", "content": 5}),
        (f"/v1/threads/{thread['id']}/runs", {"assistant_id": 5}),
        (f"/v1/threads/{thread['id']}", {"metadata": []}),
    ]
    for url, body in bodies:
        response = as_alice.post(url, body)
        assert response.status_code == 400, (url, body, response.content)
        assert response.json()["error"]["param"], (url, body)
