"""A live stack for the SDK: the session's Ollama double, daphne and a qcluster worker.

It is the stack of ``tests/inference/conftest.py`` plus an OpenAI-compatible endpoint named
``cloud`` (the double's ``/v1``), so ``inference_type="cloud"`` runs end to end. The operator
holds an admin key; alice and bob are users the operator makes through the SDK.
"""

import json
from collections.abc import Iterator

import pytest

from entities_api import OllamaClient, User
from inference.testing.ollama_double import OllamaDouble
from tests.inference import conftest as live
from tests.stack import Stack

double, fresh_double = live.double, live.fresh_double

CLOUD = "cloud"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, double: OllamaDouble) -> Iterator[Stack]:
    endpoints = {CLOUD: {"base_url": double.openai_base_url, "api_key": "sk-double"}}
    stack = Stack(
        tmp_path_factory.mktemp("sdk-stack"),
        double.host,
        WORKERS="1",
        INFERENCE_ENDPOINTS=json.dumps(endpoints),
    )
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def admin_key(stack: Stack) -> str:
    return stack.api_key("operator", admin=True)


@pytest.fixture
def operator(stack: Stack, admin_key: str) -> Iterator[OllamaClient]:
    with OllamaClient(stack.url, admin_key) as client:
        yield client


def client_for(stack: Stack, operator: OllamaClient, name: str) -> OllamaClient:
    """A client with a fresh key of a new user called ``name``."""
    user = operator.user_service.create_user(name=name)
    key = operator.api_key_service.create_api_key(user.id, name="tests")
    assert key.key is not None
    return OllamaClient(stack.url, key.key)


@pytest.fixture
def alice(stack: Stack, operator: OllamaClient) -> Iterator[OllamaClient]:
    with client_for(stack, operator, "alice") as client:
        yield client


@pytest.fixture
def bob(stack: Stack, operator: OllamaClient) -> Iterator[OllamaClient]:
    with client_for(stack, operator, "bob") as client:
        yield client


@pytest.fixture
def alice_user(alice: OllamaClient) -> User:
    return alice.user_service.retrieve_me()
