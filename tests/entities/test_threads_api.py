"""Threads with participants, and their messages."""

from collections.abc import Callable

from rest_framework.test import APIClient

from entities.models import User


def thread(client: APIClient, **fields: object) -> dict:
    response = client.post("/v1/threads", fields)
    assert response.status_code == 200, response.json()
    return response.json()


def test_create_thread_with_initial_messages(as_alice: APIClient, alice: User) -> None:
    body = thread(
        as_alice,
        messages=[
            {"role": "user", "content": "Hello"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Second"}],
                "metadata": {"n": "2"},
            },
        ],
        metadata={"topic": "greetings"},
    )
    assert body["id"].startswith("thread_")
    assert body["object"] == "thread"
    assert body["metadata"] == {"topic": "greetings"}
    assert body["participant_ids"] == [alice.id]

    messages = as_alice.get(f"/v1/threads/{body['id']}/messages", {"order": "asc"}).json()["data"]
    assert [m["content"][0]["text"]["value"] for m in messages] == ["Hello", "Second"]
    first = messages[0]
    assert first["object"] == "thread.message"
    assert first["content"] == [{"type": "text", "text": {"value": "Hello", "annotations": []}}]
    assert first["thread_id"] == body["id"]
    assert first["status"] == "completed"
    assert first["sender_id"] == alice.id
    assert (first["assistant_id"], first["run_id"]) == (None, None)
    assert messages[1]["metadata"] == {"n": "2"}


def test_thread_retrieve_update_delete(as_alice: APIClient) -> None:
    t = thread(as_alice)
    url = f"/v1/threads/{t['id']}"
    assert as_alice.get(url).json()["id"] == t["id"]
    assert as_alice.post(url, {"metadata": {"a": "b"}}).json()["metadata"] == {"a": "b"}
    assert as_alice.delete(url).json() == {
        "id": t["id"],
        "object": "thread.deleted",
        "deleted": True,
    }
    assert as_alice.get(url).status_code == 404


def test_participants_see_the_thread_and_others_get_404(
    as_alice: APIClient, as_bob: APIClient, bob: User, client_for: Callable[[User], APIClient]
) -> None:
    from entities.services.users import user_create

    carol = user_create(name="carol")
    as_carol = client_for(carol)
    t = thread(as_alice, participant_ids=[bob.id])
    url = f"/v1/threads/{t['id']}"
    assert as_bob.get(url).status_code == 200
    assert as_carol.get(url).status_code == 404
    assert as_carol.get(f"{url}/messages").status_code == 404
    assert as_carol.post(f"{url}/messages", {"role": "user", "content": "hi"}).status_code == 404
    # bob invites carol; then she is in.
    assert (
        as_bob.post(
            url, {"participant_ids": [t["participant_ids"][0], bob.id, carol.id]}
        ).status_code
        == 200
    )
    assert as_carol.get(url).status_code == 200


def test_users_threads_lists_where_they_take_part(
    as_alice: APIClient, as_bob: APIClient, alice: User, bob: User
) -> None:
    shared = thread(as_alice, participant_ids=[bob.id])
    thread(as_alice)
    bobs = as_bob.get(f"/v1/users/{bob.id}/threads").json()["data"]
    assert [t["id"] for t in bobs] == [shared["id"]]
    assert len(as_alice.get(f"/v1/users/{alice.id}/threads").json()["data"]) == 2
    assert as_bob.get(f"/v1/users/{alice.id}/threads").status_code == 404


def test_messages_name_their_sender_in_a_shared_thread(
    as_alice: APIClient, as_bob: APIClient, alice: User, bob: User
) -> None:
    t = thread(as_alice, participant_ids=[bob.id])
    as_alice.post(f"/v1/threads/{t['id']}/messages", {"role": "user", "content": "from alice"})
    as_bob.post(f"/v1/threads/{t['id']}/messages", {"role": "user", "content": "from bob"})
    data = as_alice.get(f"/v1/threads/{t['id']}/messages", {"order": "asc"}).json()["data"]
    assert [(m["sender_id"], m["content"][0]["text"]["value"]) for m in data] == [
        (alice.id, "from alice"),
        (bob.id, "from bob"),
    ]


def test_only_admins_send_as_another_participant(
    as_alice: APIClient, as_operator: APIClient, alice: User, bob: User
) -> None:
    t = thread(as_operator, participant_ids=[alice.id, bob.id])
    url = f"/v1/threads/{t['id']}/messages"
    refused = as_alice.post(url, {"role": "user", "content": "x", "sender_id": bob.id})
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "sender_id"
    sent = as_operator.post(url, {"role": "user", "content": "for bob", "sender_id": bob.id})
    assert sent.json()["sender_id"] == bob.id
    outsider = as_operator.post(url, {"role": "user", "content": "x", "sender_id": "user_nobody"})
    assert outsider.status_code == 400
    assert "user_nobody" in outsider.json()["error"]["message"]


def test_message_retrieve_update_delete_and_run_filter(as_alice: APIClient) -> None:
    t = thread(as_alice)
    base = f"/v1/threads/{t['id']}/messages"
    message = as_alice.post(base, {"role": "user", "content": "x"}).json()
    url = f"{base}/{message['id']}"
    assert as_alice.get(url).json()["id"] == message["id"]
    assert as_alice.post(url, {"metadata": {"k": "v"}}).json()["metadata"] == {"k": "v"}
    assert as_alice.post(url, {"content": "edited"}).status_code == 400  # only metadata changes
    assert as_alice.get(base, {"run_id": "run_none"}).json()["data"] == []
    assert as_alice.delete(url).json() == {
        "id": message["id"],
        "object": "thread.message.deleted",
        "deleted": True,
    }
    assert as_alice.get(url).status_code == 404


def test_message_content_parts_are_validated(as_alice: APIClient) -> None:
    t = thread(as_alice)
    url = f"/v1/threads/{t['id']}/messages"
    cases = [
        ({"role": "user"}, "content"),
        ({"role": "robot", "content": "x"}, "role"),
        ({"role": "user", "content": []}, "content"),
        ({"role": "user", "content": [{"type": "audio"}]}, "content"),
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]},
            "content",
        ),
        (
            {"role": "user", "content": "x", "attachments": [{"file_id": "file_nope"}]},
            "attachments",
        ),
        ({"role": "user", "content": "x", "metadata": "no"}, "metadata"),
    ]
    for body, param in cases:
        response = as_alice.post(url, body)
        assert response.status_code == 400, body
        assert response.json()["error"]["param"] == param, body
    image = {"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}}
    ok = as_alice.post(url, {"role": "user", "content": [image, {"type": "text", "text": "cat?"}]})
    assert ok.json()["content"][0] == {
        "type": "image_url",
        "image_url": {"url": "https://example.org/cat.png", "detail": "auto"},
    }
    assert len(as_alice.get(url).json()["data"]) == 1


def test_initial_message_errors_name_their_index(as_alice: APIClient) -> None:
    response = as_alice.post(
        "/v1/threads", {"messages": [{"role": "user", "content": "ok"}, {"role": "user"}]}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[1].content"
    assert as_alice.get("/v1/users/me").status_code == 200
