"""The management commands an operator types: ``create_api_key`` and ``bootstrap``."""

import json
import stat
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from entities.models import ApiKey, User
from entities.services.users import user_create


def whoami(raw_key: str) -> dict:
    response = APIClient().get("/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert response.status_code == 200, response.content
    return response.json()


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


# --- create_api_key ----------------------------------------------------------------------------


def test_create_api_key_creates_the_user_and_prints_a_working_key_last(db: None) -> None:
    lines = run("create_api_key", "--user", "ci-bot")
    user = User.objects.get(name="ci-bot")
    assert any(user.id in line for line in lines[:-1])
    key = lines[-1]
    assert key.startswith("ek_") and key == key.strip()
    me = whoami(key)
    assert (me["id"], me["name"], me["is_admin"]) == (user.id, "ci-bot", False)


def test_create_api_key_reuses_an_existing_user(alice: User) -> None:
    first = run("create_api_key", "--user", "alice")[-1]
    second = run("create_api_key", "--user", "alice", "--name", "laptop")[-1]
    assert first != second
    assert User.objects.filter(name="alice").count() == 1
    assert whoami(first)["id"] == whoami(second)["id"] == alice.id
    assert sorted(alice.api_keys.values_list("name", flat=True)) == ["", "laptop"]


def test_create_api_key_admin_flag_makes_a_new_user_admin(db: None) -> None:
    key = run("create_api_key", "--user", "root", "--admin")[-1]
    assert whoami(key)["is_admin"] is True
    # An admin key may do what only admins may: list every user.
    response = APIClient().get("/v1/users", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200


def test_create_api_key_admin_flag_promotes_an_existing_user(bob: User) -> None:
    plain = run("create_api_key", "--user", "bob")[-1]
    assert whoami(plain)["is_admin"] is False
    lines = run("create_api_key", "--user", "bob", "--admin")
    assert whoami(lines[-1])["is_admin"] is True
    assert whoami(plain)["is_admin"] is True
    assert User.objects.filter(name="bob").count() == 1


def test_create_api_key_refuses_a_blank_name(db: None) -> None:
    with pytest.raises(CommandError, match="--user"):
        run("create_api_key", "--user", "  ")
    assert not User.objects.exists()


# --- bootstrap ---------------------------------------------------------------------------------


@pytest.fixture
def data_dir(db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty DATA_DIR, and none of the bootstrap variables set."""
    monkeypatch.delenv("ENTITIES_ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("ENTITIES_ADMIN_PASSWORD", raising=False)
    with override_settings(DATA_DIR=tmp_path):
        yield tmp_path


def printed(lines: list[str]) -> tuple[str, str, str]:
    """(login, password, api key) as bootstrap prints them."""
    login_line = next(line for line in lines if line.startswith("Admin login:"))
    key_line = next(line for line in lines if line.startswith("API key:"))
    username, _, password = login_line.removeprefix("Admin login:").strip().partition(" / ")
    return username, password, key_line.removeprefix("API key:").strip()


def can_open_the_admin(username: str, password: str) -> bool:
    browser = Client()
    return browser.login(username=username, password=password) and (
        browser.get("/admin/").status_code == 200
    )


def test_bootstrap_creates_an_admin_login_and_a_working_key(data_dir: Path) -> None:
    username, password, key = printed(run("bootstrap"))
    assert username == "admin"
    assert len(password) >= 12
    assert can_open_the_admin(username, password)
    me = whoami(key)
    assert me["is_admin"] is True
    assert me["username"] == "admin"


def test_bootstrap_a_second_time_prints_the_same_and_makes_no_new_key(data_dir: Path) -> None:
    first = printed(run("bootstrap"))
    second = printed(run("bootstrap"))
    assert second == first
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert User.objects.count() == 1
    assert ApiKey.objects.count() == 1
    assert whoami(second[2])["username"] == "admin"


def test_bootstrap_honours_the_username_and_password_variables(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENTITIES_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("ENTITIES_ADMIN_PASSWORD", "chosen-passphrase")
    username, password, key = printed(run("bootstrap"))
    assert (username, password) == ("boss", "chosen-passphrase")
    assert can_open_the_admin("boss", "chosen-passphrase")
    assert whoami(key)["username"] == "boss"
    assert not get_user_model().objects.filter(username="admin").exists()


def test_bootstrap_sets_a_changed_password_variable_on_the_existing_login(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, first_password, key = printed(run("bootstrap"))
    monkeypatch.setenv("ENTITIES_ADMIN_PASSWORD", "rotated-passphrase")
    username, password, same_key = printed(run("bootstrap"))
    assert (username, password, same_key) == ("admin", "rotated-passphrase", key)
    assert can_open_the_admin("admin", "rotated-passphrase")
    assert not can_open_the_admin("admin", first_password)


def test_bootstrap_never_prints_a_password_that_was_changed_since(data_dir: Path) -> None:
    _, password, _ = printed(run("bootstrap"))
    account = get_user_model().objects.get(username="admin")
    account.set_password("changed-in-the-admin")
    account.save()
    _, shown, _ = printed(run("bootstrap"))
    assert password not in shown
    assert "changepassword" in shown
    assert can_open_the_admin("admin", "changed-in-the-admin")


def test_bootstrap_makes_a_new_key_when_the_kept_one_was_revoked(data_dir: Path) -> None:
    _, _, key = printed(run("bootstrap"))
    ApiKey.objects.update(revoked_at=timezone.now())
    _, _, new_key = printed(run("bootstrap"))
    assert new_key != key
    assert whoami(new_key)["username"] == "admin"


def test_bootstrap_promotes_an_existing_login_of_that_name(data_dir: Path) -> None:
    user_create(name="admin", username="admin", password="someone-set-this")
    _, password, key = printed(run("bootstrap"))
    assert "changepassword" in password
    assert can_open_the_admin("admin", "someone-set-this")
    assert whoami(key)["is_admin"] is True


def test_bootstrap_keeps_its_credentials_readable_by_the_owner_only(data_dir: Path) -> None:
    username, password, key = printed(run("bootstrap"))
    stored = data_dir / "admin-credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text()) == {
        "username": username,
        "password": password,
        "api_key": key,
    }
    stored.chmod(0o644)
    run("bootstrap")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir()] == ["admin-credentials.json"]
