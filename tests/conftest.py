"""Personas shared by the suite: alice and bob use the API, the operator administers it."""

from collections.abc import Callable, Iterator

import pytest
from rest_framework.test import APIClient

from entities.models import User
from entities.services.users import api_key_create, user_create
from inference.testing.ollama_double import OllamaDouble


@pytest.fixture
def alice(db: None) -> User:
    return user_create(name="alice", email="alice@example.org")


@pytest.fixture
def bob(db: None) -> User:
    return user_create(name="bob")


@pytest.fixture
def operator(db: None) -> User:
    return user_create(name="operator", is_admin=True, username="operator", password="s3cret-pass")


@pytest.fixture
def client_for(db: None) -> Callable[[User], APIClient]:
    """An API client that sends a fresh API key of the given user."""

    def make(user: User) -> APIClient:
        _, raw = api_key_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture
def as_alice(alice: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(alice)


@pytest.fixture
def as_bob(bob: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(bob)


@pytest.fixture
def as_operator(operator: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(operator)


# Two Ollama doubles on loopback, standing for two GPU servers.
@pytest.fixture
def east() -> Iterator[OllamaDouble]:
    with OllamaDouble() as double:
        yield double


@pytest.fixture
def west() -> Iterator[OllamaDouble]:
    with OllamaDouble() as double:
        yield double
