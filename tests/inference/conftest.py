"""The Ollama double, a thread with an assistant ready to run, and (for end-to-end tests) a
whole stack in real processes, shared by the session."""

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from django.test import override_settings

from entities.models import Assistant, Run, Thread, User
from entities.services.assistants import assistant_create
from entities.services.runs import run_create
from entities.services.threads import message_create, thread_create
from entities.validation import normalize_message_content
from inference.testing.ollama_double import OllamaDouble
from tests.stack import Stack, fresh_data_dir, running_stack


@pytest.fixture
def ollama() -> Iterator[OllamaDouble]:
    with OllamaDouble() as double, override_settings(OLLAMA_HOST=double.host):
        yield double


@pytest.fixture
def assistant(alice: User) -> Assistant:
    return assistant_create(owner=alice, model="llama3.1", instructions="You are terse.")


@pytest.fixture
def thread(alice: User) -> Thread:
    return thread_create(creator=alice)


def say(thread: Thread, author: User, text: str) -> None:
    message_create(thread=thread, author=author, content=normalize_message_content(text))


@pytest.fixture
def make_run(thread: Thread, assistant: Assistant, alice: User) -> Any:
    def make(text: str | None = "Hello there", **overrides: Any) -> Run:
        if text is not None:
            say(thread, alice, text)
        return run_create(thread=thread, assistant=assistant, created_by=alice, **overrides)

    return make


# --- a live stack: daphne + qcluster processes, started once for the session ---------------


@pytest.fixture(scope="session")
def double() -> Iterator[OllamaDouble]:
    with OllamaDouble() as ollama:
        yield ollama


QUICK_REAPER = {
    "RUN_STALE_SECONDS": "3",
    "RUN_HEARTBEAT_SECONDS": "0.5",
    "REAPER_INTERVAL_SECONDS": "0.5",
}


def new_stack(double: OllamaDouble, **env: str) -> Stack:
    """A stack (not started) in a fresh DATA_DIR, its reaper quick, two workers."""
    return Stack(fresh_data_dir(), double.host, **{**QUICK_REAPER, "WORKERS": "2", **env})


@pytest.fixture(scope="session")
def stack(double: OllamaDouble) -> Iterator[Stack]:
    with running_stack(double.host, **{**QUICK_REAPER, "WORKERS": "2"}) as stack:
        yield stack


@pytest.fixture(scope="session")
def key(stack: Stack) -> str:
    return stack.api_key("alice")


@pytest.fixture
def client(stack: Stack, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{stack.url}/v1", api_key=key, max_retries=0) as client:
        yield client


@pytest.fixture
def http(stack: Stack, key: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{stack.url}/v1", headers=headers, timeout=30) as http:
        yield http


@pytest.fixture
def assistant_id(client: openai.OpenAI) -> str:
    return client.beta.assistants.create(model="llama3.1", instructions="Be brief.").id


@pytest.fixture
def fresh_double(double: OllamaDouble) -> None:
    """The session's double with no leftover script from an earlier test."""
    double.clear_replies()
    double.tokens_per_second = None
    double.responder = None
