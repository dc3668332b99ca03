"""The unmodified ``openai`` package, pointed at a live server, works as against OpenAI's API."""

from collections.abc import Iterator

import openai
import pytest
from openai.types.beta.threads import Message as SdkMessage
from openai.types.beta.threads import TextContentBlock
from pytest_django.live_server_helper import LiveServer

from entities.models import Message, User
from entities.services.threads import thread_create
from entities.services.users import api_key_create, user_create
from entities.validation import normalize_message_content


def _text(message: SdkMessage) -> str:
    part = message.content[0]
    assert isinstance(part, TextContentBlock)
    return part.text.value


@pytest.fixture
def alice_live(transactional_db: None) -> User:
    return user_create(name="alice")


@pytest.fixture
def client(live_server: LiveServer, alice_live: User) -> Iterator[openai.OpenAI]:
    _, raw = api_key_create(user=alice_live)
    with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=raw, max_retries=0) as client:
        yield client


def test_assistants_crud(client: openai.OpenAI) -> None:
    created = client.beta.assistants.create(
        model="llama3.1",
        name="Mathy",
        instructions="You are a helpful assistant",
        tools=[{"type": "code_interpreter"}],
        metadata={"k": "v"},
        temperature=0.5,
    )
    assert created.id.startswith("asst_")
    assert created.tools[0].type == "code_interpreter"
    assert client.beta.assistants.retrieve(created.id).name == "Mathy"
    updated = client.beta.assistants.update(created.id, name="Mathy 2")
    assert updated.name == "Mathy 2"
    assert [a.id for a in client.beta.assistants.list()] == [created.id]
    assert client.beta.assistants.delete(created.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(created.id)


def test_threads_and_messages(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "Can you help me with a math problem?"}],
        metadata={"topic": "maths"},
    )
    client.beta.threads.messages.create(thread.id, role="user", content="What is 2+2?")
    messages = client.beta.threads.messages.list(thread.id, order="asc")
    texts = [_text(m) for m in messages]
    assert texts == ["Can you help me with a math problem?", "What is 2+2?"]
    assert client.beta.threads.retrieve(thread.id).metadata == {"topic": "maths"}
    one = client.beta.threads.messages.retrieve(messages.data[0].id, thread_id=thread.id)
    assert one.role == "user"
    assert client.beta.threads.delete(thread.id).deleted is True


def test_auto_pagination_over_250_messages(client: openai.OpenAI, alice_live: User) -> None:
    thread = thread_create(creator=alice_live)
    Message.objects.bulk_create(
        Message(thread=thread, role="user", content=normalize_message_content(str(i)))
        for i in range(250)
    )
    pages = client.beta.threads.messages.list(thread.id, limit=100, order="asc")
    seen = [_text(m) for m in pages]
    assert seen == [str(i) for i in range(250)]


def test_runs_create_retrieve_cancel(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="llama3.1")
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "queued"
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).id == run.id
    with pytest.raises(openai.ConflictError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    cancelled = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status == "cancelled"
    assert [r.id for r in client.beta.threads.runs.list(thread.id)] == [run.id]
    assert list(client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)) == []


def test_errors_map_to_the_sdks_classes(client: openai.OpenAI, live_server: LiveServer) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.beta.threads.retrieve("thread_nope")
    assert "thread_nope" in missing.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        client.beta.assistants.create(model="m", temperature=9)
    assert bad.value.param == "temperature"
    stranger = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="ek_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.beta.assistants.list()
