"""A change that lands while another request deletes the same object: a 404, never a 500.

Alice edits while Bob (or an admin, or Alice in another tab) deletes. ``just_before`` runs the
delete between the request's read of the row and its write, the order a race gives.
"""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from entities.models import Assistant, Thread, User
from entities.services.runs import run_create
from tests.entities.test_auth import just_before


def deleted(model: type[Assistant | Thread], pk: str) -> Callable[[], object]:
    return lambda: model.objects.filter(pk=pk).delete()


def test_changing_an_assistant_while_it_is_deleted_is_a_404(as_alice: APIClient) -> None:
    assistant = as_alice.post("/v1/assistants", {"model": "llama3.1"}, format="json").json()
    with just_before('UPDATE "entities_assistant"', deleted(Assistant, assistant["id"])):
        response = as_alice.post(f"/v1/assistants/{assistant['id']}", {"name": "x"}, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["error"]["message"] == f"No assistant found with id '{assistant['id']}'."


def test_changing_a_thread_while_it_is_deleted_is_a_404(as_alice: APIClient) -> None:
    thread = as_alice.post("/v1/threads", {}, format="json").json()
    body = {"metadata": {"k": "v"}}
    with just_before('UPDATE "entities_thread"', deleted(Thread, thread["id"])):
        response = as_alice.post(f"/v1/threads/{thread['id']}", body, format="json")
    assert response.status_code == 404, response.content


def test_changing_a_message_while_its_thread_is_deleted_is_a_404(as_alice: APIClient) -> None:
    thread = as_alice.post("/v1/threads", {}, format="json").json()
    message = as_alice.post(
        f"/v1/threads/{thread['id']}/messages", {"role": "user", "content": "hi"}, format="json"
    ).json()
    body = {"metadata": {"k": "v"}}
    with just_before('UPDATE "entities_message"', deleted(Thread, thread["id"])):
        response = as_alice.post(
            f"/v1/threads/{thread['id']}/messages/{message['id']}", body, format="json"
        )
    assert response.status_code == 404, response.content


@pytest.mark.parametrize("action", ["modify", "cancel"])
def test_changing_a_run_while_its_thread_is_deleted_is_a_404(
    as_alice: APIClient, alice: User, action: str
) -> None:
    assistant = as_alice.post("/v1/assistants", {"model": "llama3.1"}, format="json").json()
    thread = as_alice.post("/v1/threads", {}, format="json").json()
    run = run_create(
        thread=Thread.objects.get(pk=thread["id"]),
        assistant=Assistant.objects.get(pk=assistant["id"]),
        created_by=alice,
    )
    path = f"/v1/threads/{thread['id']}/runs/{run.id}"
    if action == "modify":
        sql, passing, path, body = 'UPDATE "entities_run"', 0, path, {"metadata": {"k": "v"}}
    else:  # after the view found the run, before the cancel locks it
        sql, passing, path, body = 'FROM "entities_run"', 1, f"{path}/cancel", {}
    with just_before(sql, deleted(Thread, thread["id"]), passing=passing):
        response = as_alice.post(path, body, format="json")
    assert response.status_code == 404, response.content
