"""Text stored before the API refused it: the migration that makes such threads readable again."""

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from entities.models import Message, Thread, User
from entities.services.users import api_key_create

BEFORE = [("entities", "0005_console_permissions")]
AFTER = [("entities", "0006_repair_unstorable_text")]


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL never stored one")
@pytest.mark.django_db(transaction=True)
def test_a_thread_holding_a_lone_surrogate_answers_again_after_the_migration(
    alice: User, as_alice: APIClient
) -> None:
    _, key = api_key_create(user=alice)
    thread = as_alice.post("/v1/threads", {"metadata": {"topic": "chat"}}, format="json").json()
    as_alice.post(f"/v1/threads/{thread['id']}/messages", {"role": "user", "content": "hi"})
    # As a681242 stored them: through the API, which let these by (an update skips validators).
    Message.objects.filter(thread_id=thread["id"]).update(
        content=[{"type": "text", "text": {"value": "a\ud800b", "annotations": []}}],
        metadata={"k\udc00": "v"},
    )
    Thread.objects.filter(pk=thread["id"]).update(metadata={"topic": "\ud83d"})

    def listing() -> Any:
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    broken = listing().get(f"/v1/threads/{thread['id']}/messages")
    assert broken.status_code == 500  # what its participants saw, on every listing

    migrate(BEFORE)
    migrate(AFTER)

    messages = listing().get(f"/v1/threads/{thread['id']}/messages")
    assert messages.status_code == 200, messages.content
    [message] = messages.json()["data"]
    assert message["content"][0]["text"]["value"] == "a\ufffdb"
    assert message["metadata"] == {"k\ufffd": "v"}
    assert listing().get(f"/v1/threads/{thread['id']}").json()["metadata"] == {"topic": "\ufffd"}
