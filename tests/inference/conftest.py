"""The Ollama double, and a thread with an assistant ready to run, for the engine's tests."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from entities.models import Assistant, Run, Thread, User
from entities.services.assistants import assistant_create
from entities.services.runs import run_create
from entities.services.threads import message_create, thread_create
from entities.validation import normalize_message_content
from inference.testing.ollama_double import OllamaDouble


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
