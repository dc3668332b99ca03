"""OpenAI's list envelope and cursors: limit, order, after, before."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from entities.models import Message, Thread, User
from entities.services.threads import thread_create
from entities.validation import normalize_message_content


@pytest.fixture
def long_thread(alice: User) -> Thread:
    thread = thread_create(creator=alice)
    Message.objects.bulk_create(
        Message(
            thread=thread, role="user", content=normalize_message_content(f"m{i}"), sender=alice
        )
        for i in range(250)
    )
    return thread


def texts(page: dict) -> list[str]:
    return [m["content"][0]["text"]["value"] for m in page["data"]]


def test_empty_list(as_alice: APIClient) -> None:
    assert as_alice.get("/v1/assistants").json() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_default_page_is_the_newest_twenty(as_alice: APIClient, long_thread: Thread) -> None:
    page = as_alice.get(f"/v1/threads/{long_thread.id}/messages").json()
    assert texts(page) == [f"m{i}" for i in range(249, 229, -1)]
    assert page["has_more"] is True
    assert (page["first_id"], page["last_id"]) == (page["data"][0]["id"], page["data"][-1]["id"])


def test_walking_all_250_with_after_in_both_orders(
    as_alice: APIClient, long_thread: Thread
) -> None:
    url = f"/v1/threads/{long_thread.id}/messages"
    for order, expected in (("asc", range(250)), ("desc", range(249, -1, -1))):
        seen: list[str] = []
        params: dict[str, str | int] = {"order": order, "limit": 100}
        while True:
            page = as_alice.get(url, params).json()
            seen += texts(page)
            if not page["has_more"]:
                break
            params["after"] = page["last_id"]
        assert seen == [f"m{i}" for i in expected]


def test_before_returns_the_page_just_before_the_cursor(
    as_alice: APIClient, long_thread: Thread
) -> None:
    url = f"/v1/threads/{long_thread.id}/messages"
    second = as_alice.get(
        url, {"order": "asc", "limit": "10", "after": _id_of(long_thread, 9)}
    ).json()
    assert texts(second) == [f"m{i}" for i in range(10, 20)]
    back = as_alice.get(url, {"order": "asc", "limit": 5, "before": second["first_id"]}).json()
    assert texts(back) == [f"m{i}" for i in range(5, 10)]
    assert back["has_more"] is True
    desc_back = as_alice.get(
        url, {"order": "desc", "limit": 5, "before": second["first_id"]}
    ).json()
    assert texts(desc_back) == [f"m{i}" for i in range(15, 10, -1)]
    window = as_alice.get(
        url, {"order": "asc", "after": _id_of(long_thread, 2), "before": _id_of(long_thread, 6)}
    ).json()
    assert texts(window) == ["m3", "m4", "m5"]
    assert window["has_more"] is False


def test_exactly_limit_items_has_no_more(as_alice: APIClient, alice: User) -> None:
    thread = thread_create(
        creator=alice, messages=[{"role": "user", "content": normalize_message_content("x")}] * 5
    )
    page = as_alice.get(f"/v1/threads/{thread.id}/messages", {"limit": 5}).json()
    assert len(page["data"]) == 5
    assert page["has_more"] is False
    one_less = as_alice.get(f"/v1/threads/{thread.id}/messages", {"limit": 4}).json()
    assert one_less["has_more"] is True


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"order": "up"}, "order"),
    ],
)
def test_bad_list_parameters(as_alice: APIClient, params: dict[str, str], param: str) -> None:
    response = as_alice.get("/v1/assistants", params)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_a_page_costs_the_same_queries_deep_in_a_long_thread(
    as_alice: APIClient, long_thread: Thread
) -> None:
    url = f"/v1/threads/{long_thread.id}/messages"
    cursor = _id_of(long_thread, 30)
    as_alice.get(url)  # the first request of a key also records its last use
    with CaptureQueriesContext(connection) as first:
        as_alice.get(url, {"limit": 20})
    with CaptureQueriesContext(connection) as deep:
        as_alice.get(url, {"limit": "20", "after": cursor})
    assert len(deep) == len(first)
    page_query = [q["sql"] for q in deep if "entities_message" in q["sql"] and "LIMIT" in q["sql"]]
    assert page_query and "OFFSET" not in page_query[0]


def _id_of(thread: Thread, index: int) -> str:
    return str(thread.messages.order_by("id").values_list("id", flat=True)[index])
