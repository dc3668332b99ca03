"""The chat page at /: logging in, what the page is given, who takes part, its static files."""

import hashlib
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from entities.models import Thread, User
from entities.services.threads import thread_create
from entities.services.users import user_create

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def erin(db: None) -> User:
    return user_create(
        name="erin", email="erin@example.org", username="erin", password="erin-passphrase"
    )


@pytest.fixture
def browser(erin: User) -> Client:
    client = Client()
    assert client.login(username="erin", password="erin-passphrase")
    return client


@pytest.fixture
def thread(erin: User) -> Thread:
    return thread_create(creator=erin)


def test_the_chat_asks_who_you_are_first(db: None) -> None:
    response = Client().get("/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/")
    page = Client().get("/login/").content.decode()
    assert 'name="username"' in page and 'name="password"' in page


def test_erin_logs_in_and_gets_her_chat(erin: User) -> None:
    client = Client()
    response = client.post("/login/", {"username": "erin", "password": "erin-passphrase"})
    assert (response.status_code, response["Location"]) == (302, "/")
    page = client.get("/").content.decode()
    config = json.loads(page.split('id="chat-config" type="application/json">')[1].split("<")[0])
    assert config["user"] == {"id": erin.id, "name": "erin", "is_admin": False}
    assert config["csrf_token"]
    for script in ("vendor/marked/marked.umd.js", "vendor/dompurify/purify.min.js", "chat/chat.js"):
        assert f'src="/static/{script}"' in page
    wrong = Client().post("/login/", {"username": "erin", "password": "nope"})
    assert "Please enter a correct username and password" in wrong.content.decode()


def test_a_login_made_outside_entities_gets_its_user_on_first_visit(db: None) -> None:
    get_user_model().objects.create_user(username="root", password="root-passphrase")
    client = Client()
    assert client.login(username="root", password="root-passphrase")
    assert client.get("/").status_code == 200
    assert User.objects.get(account__username="root").name == "root"


def test_participants_are_listed_by_name_to_participants_only(
    browser: Client, thread: Thread, erin: User, bob: User, as_bob: APIClient
) -> None:
    url = f"/chat/threads/{thread.id}/participants"
    assert browser.get(url).json() == {"object": "list", "data": [{"id": erin.id, "name": "erin"}]}
    response = as_bob.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"No thread found with id '{thread.id}'."


@pytest.mark.parametrize("who", ["bob-login", "bob@example.org", "BOB@example.org", "id"])
def test_anyone_in_a_thread_invites_by_login_email_or_id(
    browser: Client, thread: Thread, who: str
) -> None:
    bob = user_create(
        name="bob", email="bob@example.org", username="bob-login", password="bob-passphrase"
    )
    url = f"/chat/threads/{thread.id}/participants"
    invited = browser.post(url, {"user": bob.id if who == "id" else who}, "application/json")
    assert [p["name"] for p in invited.json()["data"]] == ["bob", "erin"]
    browser.post(url, {"user": "bob-login"}, "application/json")  # twice is once
    assert set(thread.participants.values_list("name", flat=True)) == {"bob", "erin"}


def test_inviting_nobody_is_a_clear_error(browser: Client, thread: Thread) -> None:
    url = f"/chat/threads/{thread.id}/participants"
    response = browser.post(url, {"user": "nobody"}, "application/json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Nobody has the login, email or id 'nobody'.",
        "type": "invalid_request_error",
        "param": "user",
        "code": None,
    }
    blank = browser.post(url, {"user": ""}, "application/json")
    assert blank.status_code == 400


def test_the_session_must_send_its_csrf_token_to_write(erin: User, thread: Thread) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="erin", password="erin-passphrase")
    url = f"/chat/threads/{thread.id}/participants"
    assert client.post(url, {"user": "erin"}, "application/json").status_code == 403
    token = client.get("/").context["chat_config"]["csrf_token"]
    ok = client.post(url, {"user": "erin"}, "application/json", HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "vendor/marked/marked.umd.js",
        "vendor/dompurify/purify.min.js",
        "vendor/highlightjs/highlight.min.js",
        "vendor/highlightjs/styles/github.min.css",
        "chat/chat.js",
        "chat/markdown.js",
        "chat/chat.css",
        "console/console.js",
    ],
)
def test_the_pages_scripts_and_styles_are_served_from_here(path: str, db: None) -> None:
    response = Client().get(f"/static/{path}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert body == (ROOT / "static" / path).read_bytes()


def test_every_vendored_library_keeps_its_license() -> None:
    vendored = [d for d in (ROOT / "static" / "vendor").iterdir() if d.is_dir()]
    assert {d.name for d in vendored} == {"marked", "dompurify", "highlightjs"}
    for library in vendored:
        assert (library / "LICENSE").read_text().strip(), library


def test_every_vendored_file_matches_its_recorded_sha256() -> None:
    """A vendored file edited by hand, or left behind by a half-done update, fails here."""
    vendor = ROOT / "static" / "vendor"
    recorded = {}
    for line in (vendor / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        recorded[name] = digest
    present = {
        path.relative_to(vendor).as_posix()
        for path in vendor.rglob("*")
        if path.is_file() and path.name not in ("README.md", "SHA256SUMS")
    }
    assert set(recorded) == present  # none added or removed without its sum
    for name, digest in recorded.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
