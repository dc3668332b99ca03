"""Who may call the API: keys (Bearer or X-API-Key), sessions, users and key management."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from entities.models import ApiKey, User
from entities.services.users import api_key_create, api_key_revoke, user_create, user_delete


def test_no_key_is_a_401_in_openais_shape(db: None) -> None:
    response = APIClient().get("/v1/assistants")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert "API key" in response.json()["error"]["message"]


@pytest.mark.parametrize("header", ["Bearer ek_wrong", "Bearer", "Basic abc", "Token x"])
def test_bad_authorization_headers_are_401(db: None, header: str) -> None:
    response = APIClient().get("/v1/assistants", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in ("invalid_api_key", "missing_api_key")


def test_x_api_key_header_works(alice: User) -> None:
    _, raw = api_key_create(user=alice)
    response = APIClient().get("/v1/users/me", HTTP_X_API_KEY=raw)
    assert response.json()["id"] == alice.id


def test_openai_beta_header_is_accepted(as_alice: APIClient) -> None:
    assert as_alice.get("/v1/assistants", HTTP_OPENAI_BETA="assistants=v2").status_code == 200


def test_revoked_and_expired_keys_stop_working(alice: User) -> None:
    key, raw = api_key_create(user=alice, expires_at=timezone.now() + timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/v1/users/me").status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/v1/users/me").status_code == 401
    key2, raw2 = api_key_create(user=alice)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw2}")
    assert client.get("/v1/users/me").status_code == 200
    client.delete(f"/v1/users/{alice.id}/api_keys/{key2.id}")
    assert client.get("/v1/users/me").status_code == 401


def test_keys_are_stored_hashed_and_record_last_use(alice: User) -> None:
    key, raw = api_key_create(user=alice)
    assert raw not in key.hashed_key
    assert raw.startswith(key.prefix)
    assert key.last_used_at is None
    APIClient().get("/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_api_keys_endpoint_shows_a_key_once(
    as_alice: APIClient, alice: User, bob: User, as_bob: APIClient
) -> None:
    created = as_alice.post(f"/v1/users/{alice.id}/api_keys", {"name": "laptop"}).json()
    assert created["key"].startswith(created["prefix"])
    assert created["object"] == "api_key"
    listed = as_alice.get(f"/v1/users/{alice.id}/api_keys").json()["data"]
    assert "laptop" in [k["name"] for k in listed]
    assert all("key" not in k for k in listed)
    assert as_alice.get(f"/v1/users/{alice.id}/api_keys/{created['id']}").json()["name"] == "laptop"
    # the new key works, and bob cannot see alice's keys
    assert APIClient().get("/v1/users/me", HTTP_X_API_KEY=created["key"]).json()["id"] == alice.id
    assert as_bob.get(f"/v1/users/{alice.id}/api_keys").status_code == 404
    assert as_bob.post(f"/v1/users/{alice.id}/api_keys", {}).status_code == 404
    past = as_alice.post(f"/v1/users/{alice.id}/api_keys", {"expires_at": 1000})
    assert past.status_code == 400
    assert past.json()["error"]["param"] == "expires_at"


def test_only_admins_manage_users(
    as_operator: APIClient, as_alice: APIClient, alice: User, bob: User
) -> None:
    assert as_alice.get("/v1/users").status_code == 403
    assert as_alice.post("/v1/users", {"name": "mallory"}).status_code == 403
    assert as_alice.get(f"/v1/users/{bob.id}").status_code == 404
    assert as_alice.post(f"/v1/users/{alice.id}", {"is_admin": True}).status_code == 403
    assert as_alice.post(f"/v1/users/{alice.id}", {"name": "Alice"}).json()["name"] == "Alice"
    assert as_alice.delete(f"/v1/users/{alice.id}").status_code == 403

    created = as_operator.post("/v1/users", {"name": "dave", "email": "d@example.org"}).json()
    assert created["id"].startswith("user_")
    assert created["object"] == "user"
    assert created["username"] is None
    names = {u["name"] for u in as_operator.get("/v1/users", {"limit": 100}).json()["data"]}
    assert {"Alice", "bob", "operator", "dave"} <= names
    assert as_operator.post(f"/v1/users/{bob.id}", {"is_admin": True}).json()["is_admin"] is True
    assert as_operator.delete(f"/v1/users/{created['id']}").json()["deleted"] is True
    assert as_operator.get(f"/v1/users/{created['id']}").status_code == 404


def test_user_with_a_login_can_use_the_browsable_api_by_session(
    as_operator: APIClient, client_for: Callable[[User], APIClient]
) -> None:
    made = as_operator.post(
        "/v1/users", {"name": "erin", "username": "erin", "password": "a-long-password"}
    ).json()
    assert made["username"] == "erin"
    browser = Client()
    assert browser.login(username="erin", password="a-long-password")
    assert browser.get("/v1/users/me").json()["id"] == made["id"]
    page = browser.get("/v1/assistants", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert b"Assistant List" in page.content or b"assistants" in page.content
    # CSRF still guards session writes
    csrf_browser = Client(enforce_csrf_checks=True)
    csrf_browser.login(username="erin", password="a-long-password")
    refused = csrf_browser.post("/v1/assistants", {"model": "m"}, content_type="application/json")
    assert refused.status_code == 403


def test_a_superuser_from_createsuperuser_gets_an_entities_user(db: None) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.org", "pw-pw-pw-pw")
    browser = Client()
    browser.login(username="root", password="pw-pw-pw-pw")
    me = browser.get("/v1/users/me").json()
    assert (me["name"], me["is_admin"], me["username"]) == ("root", True, "root")


def test_taking_admin_away_closes_the_admin_console(as_operator: APIClient) -> None:
    made = as_operator.post(
        "/v1/users",
        {"name": "fay", "username": "fay", "password": "a-long-password", "is_admin": True},
    ).json()
    browser = Client()
    browser.login(username="fay", password="a-long-password")
    assert browser.get("/admin/").status_code == 200
    as_operator.post(f"/v1/users/{made['id']}", {"is_admin": False})
    assert browser.get("/admin/").status_code == 302
    assert browser.get("/v1/users").status_code == 403


# --- a user and their key deleted while a request is using them ---------------------------------


@contextmanager
def just_before(sql_part: str, action: Callable[[], object], *, passing: int = 0) -> Iterator[None]:
    """Runs ``action`` once, just before the first query containing ``sql_part`` (after
    ``passing`` such queries have gone by): another request's write landing between this
    request's read and its own write."""
    fired = False
    seen = 0

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal fired, seen
        if not fired and sql_part in sql:
            seen += 1
        if not fired and seen > passing:
            fired = True
            action()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield
    assert fired, f"no query with {sql_part!r}"


def deleting(user: User) -> Callable[[], None]:
    return lambda: user_delete(user=User.objects.get(pk=user.pk))


def test_a_key_deleted_between_its_check_and_its_touch_is_a_401(alice: User) -> None:
    _, raw = api_key_create(user=alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    with just_before('SET "last_used_at"', deleting(alice)):
        response = client.get("/v1/users/me")
    assert response.status_code == 401, response.content
    assert response.json()["error"]["type"] == "authentication_error"


def test_a_key_revoked_between_its_check_and_its_touch_is_a_401(alice: User) -> None:
    key, raw = api_key_create(user=alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    with just_before('SET "last_used_at"', lambda: api_key_revoke(key=key)):
        assert client.post("/v1/threads", {}, format="json").status_code == 401


def test_revoking_a_key_while_its_user_is_deleted_is_a_404(
    as_operator: APIClient, alice: User
) -> None:
    key, _ = api_key_create(user=alice)
    with just_before('SET "revoked_at"', deleting(alice)):
        response = as_operator.delete(f"/v1/users/{alice.id}/api_keys/{key.id}")
    assert response.status_code == 404, response.content
    assert response.json()["error"]["message"] == f"No API key found with id '{key.id}'."


def test_changing_a_user_while_they_are_deleted_is_a_404(
    as_operator: APIClient, alice: User, bob: User
) -> None:
    with just_before('UPDATE "entities_user"', deleting(alice)):
        response = as_operator.post(f"/v1/users/{alice.id}", {"name": "Alice"}, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["error"]["message"] == f"No user found with id '{alice.id}'."
    unchanged = as_operator.post(f"/v1/users/{bob.id}", {}, format="json")
    assert (unchanged.status_code, unchanged.json()["name"]) == (200, "bob")


# --- some admin always keeps a way in -----------------------------------------------------------


def keyed(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_an_admin_cannot_delete_their_own_user(as_operator: APIClient, operator: User) -> None:
    response = as_operator.delete(f"/v1/users/{operator.id}")
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "message": "You cannot delete your own user: another admin can.",
            "type": "invalid_request_error",
            "param": None,
            "code": "cannot_delete_self",
        }
    }
    assert as_operator.get("/v1/users/me").json()["id"] == operator.id


def test_the_last_admins_last_key_is_neither_revoked_nor_demoted_nor_deleted(db: None) -> None:
    root = user_create(name="root", is_admin=True)  # API only: no login
    key, raw = api_key_create(user=root)
    as_root = keyed(raw)
    revoked = as_root.delete(f"/v1/users/{root.id}/api_keys/{key.id}")
    assert revoked.status_code == 409
    assert revoked.json()["error"]["code"] == "last_admin"
    assert "no admin with a usable API key or login" in revoked.json()["error"]["message"]
    demoted = as_root.post(f"/v1/users/{root.id}", {"is_admin": False}, format="json")
    assert demoted.status_code == 409
    assert demoted.json()["error"]["code"] == "last_admin"
    me = as_root.get("/v1/users/me").json()
    assert (me["id"], me["is_admin"]) == (root.id, True)

    # A second admin with a key: now root can go, and ivy is the one who must stay.
    ivy = as_root.post("/v1/users", {"name": "ivy", "is_admin": True}, format="json").json()
    made = as_root.post(f"/v1/users/{ivy['id']}/api_keys", {}, format="json").json()
    as_ivy = keyed(made["key"])
    assert as_root.delete(f"/v1/users/{root.id}/api_keys/{key.id}").status_code == 200
    assert as_ivy.delete(f"/v1/users/{root.id}").json()["deleted"] is True
    ivys_last = as_ivy.delete(f"/v1/users/{ivy['id']}/api_keys/{made['id']}")
    assert ivys_last.json()["error"]["code"] == "last_admin"
    assert as_ivy.get("/v1/users/me").status_code == 200


def test_an_admin_with_a_login_may_revoke_their_key(as_operator: APIClient, operator: User) -> None:
    """The operator's password still opens the admin console, where a new key can be made."""
    (key,) = operator.api_keys.all()
    assert as_operator.delete(f"/v1/users/{operator.id}/api_keys/{key.id}").status_code == 200
    assert Client().login(username="operator", password="s3cret-pass")
