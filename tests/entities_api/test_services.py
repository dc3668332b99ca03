"""Every service of the SDK against a live server: what a caller sees, and the errors."""

import io
from pathlib import Path

import httpx
import pytest

from entities_api import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    EntitiesError,
    NotFoundError,
    OllamaClient,
    PermissionDeniedError,
)
from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import Stack, free_port

pytestmark = pytest.mark.usefixtures("fresh_double")


def test_the_operator_manages_users_and_their_keys(stack: Stack, operator: OllamaClient) -> None:
    users = operator.user_service
    carol = users.create_user(name="carol", email="carol@example.org")
    assert carol.id.startswith("user_") and carol.is_admin is False
    assert users.retrieve_user(carol.id).email == "carol@example.org"
    assert users.update_user(carol.id, name="Carol B.").name == "Carol B."
    assert carol.id in {u.id for u in users.list_users()}

    keys = operator.api_key_service
    key = keys.create_api_key(carol.id, name="laptop")
    assert key.key is not None and key.key.startswith(key.prefix)
    assert keys.retrieve_api_key(carol.id, key.id).key is None  # shown once
    assert [k.id for k in keys.list_api_keys(carol.id)] == [key.id]
    with OllamaClient(stack.url, key.key) as as_carol:
        assert as_carol.user_service.retrieve_me().id == carol.id
        assert keys.revoke_api_key(carol.id, key.id).revoked_at is not None
        with pytest.raises(AuthenticationError) as caught:
            as_carol.user_service.retrieve_me()
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"

    deleted = users.delete_user(carol.id)
    assert deleted.deleted and deleted.id == carol.id
    with pytest.raises(NotFoundError):
        users.retrieve_user(carol.id)


def test_assistants_crud_and_an_admin_creating_for_someone(
    operator: OllamaClient, alice: OllamaClient
) -> None:
    me = alice.user_service.retrieve_me()
    made = operator.assistant_service.create_assistant(
        user_id=me.id, name="Mathy", model="llama3.1", instructions="Be exact.", metadata={"k": "v"}
    )
    assert made.user_id == me.id and made.metadata == {"k": "v"}
    mine = alice.assistant_service
    assert mine.retrieve_assistant(made.id).instructions == "Be exact."
    changed = mine.update_assistant(made.id, name="Mathy 2", temperature=0.5)
    assert (changed.name, changed.temperature, changed.model) == ("Mathy 2", 0.5, "llama3.1")
    assert [a.id for a in mine.list_assistants()] == [made.id]
    assert mine.delete_assistant(made.id).deleted
    assert list(mine.list_assistants()) == []


def test_function_definitions_are_written_by_admins_and_read_by_everyone(
    operator: OllamaClient, alice: OllamaClient
) -> None:
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}}
    definition = operator.tool_service.create_function_definition(
        name="get_weather", description="The weather", parameters=parameters
    )
    assert alice.function_definition_service.retrieve_function_definition(
        definition.id
    ).parameters == (parameters)
    assert definition.id in {d.id for d in alice.tool_service.list_function_definitions()}
    with pytest.raises(PermissionDeniedError) as caught:
        alice.tool_service.create_function_definition(name="sneaky")
    assert "Only admins" in caught.value.message
    updated = operator.tool_service.update_function_definition(definition.id, description="Sky")
    assert updated.description == "Sky"
    assistant = alice.assistant_service.create_assistant(
        model="llama3.1", function_definition_ids=[definition.id]
    )
    assert assistant.function_definition_ids == [definition.id]
    assert any(t.get("function", {}).get("name") == "get_weather" for t in assistant.tools)
    assert operator.tool_service.delete_function_definition(definition.id).deleted


def test_threads_with_participants_messages_and_senders(
    operator: OllamaClient, alice: OllamaClient, bob: OllamaClient
) -> None:
    alice_id = alice.user_service.retrieve_me().id
    bob_id = bob.user_service.retrieve_me().id
    thread = alice.thread_service.create_thread(
        messages=[{"role": "user", "content": "Hello bob"}], metadata={"topic": "greeting"}
    )
    assert thread.participant_ids == [alice_id]
    with pytest.raises(NotFoundError):  # bob is not in it yet
        bob.thread_service.retrieve_thread(thread.id)
    thread = alice.thread_service.update_thread(thread.id, participant_ids=[alice_id, bob_id])
    assert sorted(thread.participant_ids) == sorted([alice_id, bob_id])
    reply = bob.message_service.create_message(thread_id=thread.id, content="Hi alice")
    assert reply.sender_id == bob_id and reply.text == "Hi alice"
    as_alice = operator.message_service.create_message(
        thread_id=thread.id, content="Sent for alice", sender_id=alice_id
    )
    assert as_alice.sender_id == alice_id
    assert thread.id in {t.id for t in bob.thread_service.list_threads()}
    assert thread.id in {t.id for t in operator.thread_service.list_threads(alice_id)}

    messages = alice.message_service
    texts = [m.text for m in messages.list_messages(thread.id, order="asc")]
    assert texts == ["Hello bob", "Hi alice", "Sent for alice"]
    first = messages.list_messages(thread.id, order="asc", limit=1).first_page().data[0]
    assert messages.retrieve_message(thread.id, first.id).text == "Hello bob"
    assert messages.update_message(thread.id, first.id, metadata={"seen": "yes"}).metadata == {
        "seen": "yes"
    }
    assert messages.delete_message(thread.id, first.id).deleted
    assert [m.text for m in messages.list_messages(thread.id)] == ["Sent for alice", "Hi alice"]
    assert alice.thread_service.delete_thread(thread.id).deleted
    with pytest.raises(NotFoundError):
        bob.thread_service.retrieve_thread(thread.id)


def test_lists_walk_every_page(alice: OllamaClient) -> None:
    service = alice.assistant_service
    made = [service.create_assistant(model="llama3.1", name=f"a{i}").id for i in range(5)]
    pager = service.list_assistants(limit=2)
    assert [len(page.data) for page in pager.pages()] == [2, 2, 1]
    assert [a.id for a in pager] == made[::-1]
    assert [a.id for a in service.list_assistants(limit=2, order="asc")] == made
    assert [a.id for a in service.list_assistants(order="asc", after=made[1])] == made[2:]
    first = service.list_assistants(limit=2, order="asc", after=made[0]).first_page()
    assert ([a.id for a in first.data], first.has_more) == (made[1:3], True)
    # Walking back from a cursor: pages of the items next to it, each in the asked order.
    back = service.list_assistants(limit=2, order="asc", before=made[4])
    assert [[a.id for a in page.data] for page in back.pages()] == [made[2:4], made[0:2]]


def test_runs_steps_and_thread_and_run(alice: OllamaClient, double: OllamaDouble) -> None:
    double.enqueue("First answer.", "Second answer.")
    assistant = alice.assistant_service.create_assistant(model="llama3.1")
    runs = alice.run_service
    run = runs.create_thread_and_run(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "hi"}]},
        metadata={"try": "1"},
    )
    assert run.status == "queued" and run.metadata == {"try": "1"}
    done = runs.wait_for_run(run.thread_id, run.id, timeout=30, poll_interval=0.05)
    assert done.status == "completed" and done.usage is not None
    assert runs.update_run(run.thread_id, run.id, metadata={"try": "2"}).metadata == {"try": "2"}
    steps = list(runs.list_run_steps(run.thread_id, run.id))
    assert [s.type for s in steps] == ["message_creation"]
    step = runs.retrieve_run_step(run.thread_id, run.id, steps[0].id)
    message_id = step.step_details["message_creation"]["message_id"]
    answer = alice.message_service.retrieve_message(run.thread_id, message_id)
    assert answer.text == "First answer." and answer.run_id == run.id

    second = runs.create_run(
        thread_id=run.thread_id, assistant_id=assistant.id, instructions="Be brief."
    )
    assert runs.wait_for_run(run.thread_id, second.id, timeout=30).status == "completed"
    assert [r.id for r in runs.list_runs(run.thread_id)] == [second.id, run.id]
    by_run = alice.message_service.list_messages(run.thread_id, run_id=second.id)
    assert [m.text for m in by_run] == ["Second answer."]


def test_a_second_active_run_conflicts_and_cancel_frees_the_thread(
    alice: OllamaClient, double: OllamaDouble
) -> None:
    double.enqueue(Reply(content="slow " * 200, tokens_per_second=20))
    assistant = alice.assistant_service.create_assistant(model="llama3.1")
    thread = alice.thread_service.create_thread(messages=[{"role": "user", "content": "go"}])
    runs = alice.run_service
    run = runs.create_run(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(ConflictError) as caught:
        runs.create_run(thread_id=thread.id, assistant_id=assistant.id)
    assert caught.value.status_code == 409
    assert runs.cancel_run(thread.id, run.id).status in ("cancelled", "cancelling")
    assert runs.wait_for_run(thread.id, run.id, timeout=30).status == "cancelled"


def test_files_upload_retrieve_download_and_delete(alice: OllamaClient, tmp_path: Path) -> None:
    files = alice.file_service
    path = tmp_path / "notes.txt"
    path.write_text("alpha\nbeta\n")
    from_path = files.upload_file(path)
    assert (from_path.filename, from_path.bytes, from_path.purpose) == (
        "notes.txt",
        11,
        "assistants",
    )
    from_bytes = files.upload_file(b"\x00\x01binary", filename="blob.bin", purpose="user_data")
    from_handle = files.upload_file(io.BytesIO(b"{}"), filename="empty.json")
    assert files.retrieve_file(from_bytes.id).filename == "blob.bin"
    assert files.retrieve_file_content(from_path.id) == b"alpha\nbeta\n"
    assert files.retrieve_file_content(from_bytes.id) == b"\x00\x01binary"
    assert [f.id for f in files.list_files(purpose="assistants")] == [from_handle.id, from_path.id]
    assert files.delete_file(from_path.id).deleted
    with pytest.raises(NotFoundError):
        files.retrieve_file_content(from_path.id)


def test_errors_carry_the_servers_message_param_code_and_status(
    stack: Stack, alice: OllamaClient, bob: OllamaClient
) -> None:
    with pytest.raises(NotFoundError) as not_found:
        alice.assistant_service.retrieve_assistant("asst_nope")
    assert not_found.value.status_code == 404
    assert not_found.value.type == "invalid_request_error"

    with pytest.raises(BadRequestError) as bad_value:
        alice.assistant_service.create_assistant(model="llama3.1", temperature=5)
    assert bad_value.value.param == "temperature" and bad_value.value.code == "invalid_value"
    assert "temperature" in str(bad_value.value)

    assistant = alice.assistant_service.create_assistant(model="llama3.1")
    with pytest.raises(BadRequestError) as unknown:
        alice.assistant_service.update_assistant(assistant.id, colour="blue")
    assert "Unrecognized request argument supplied: colour" in unknown.value.message
    assert unknown.value.param == "colour"
    with pytest.raises(NotFoundError):  # another user's assistant does not exist for bob
        bob.assistant_service.retrieve_assistant(assistant.id)

    with pytest.raises(PermissionDeniedError) as forbidden:
        alice.user_service.create_user(name="mallory")
    assert forbidden.value.status_code == 403

    with OllamaClient(stack.url, "ek_not-a-key") as stranger, pytest.raises(AuthenticationError):
        stranger.assistant_service.list_assistants().to_list()
    with (
        OllamaClient(f"http://127.0.0.1:{free_port()}", "ek_x") as nowhere,
        pytest.raises(APIConnectionError) as unreachable,
    ):
        nowhere.user_service.retrieve_me()
    assert isinstance(unreachable.value.__cause__, httpx.ConnectError)


def test_a_client_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENTITIES_API_KEY", raising=False)
    with pytest.raises(EntitiesError, match="ENTITIES_API_KEY"):
        OllamaClient()


def test_the_environment_configures_the_client(
    stack: Stack, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENTITIES_BASE_URL", stack.url + "/v1/")
    monkeypatch.setenv("ENTITIES_API_KEY", admin_key)
    with OllamaClient() as client:
        assert client.base_url == f"{stack.url}/v1"
        assert client.user_service.retrieve_me().is_admin
