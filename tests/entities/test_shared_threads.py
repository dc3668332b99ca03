"""A shared thread belongs to its owner: the others may talk, invite and leave, but not delete
it, push people out, or change what someone else said. And a deleted thread leaves no sandbox
directory behind."""

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from entities.models import User
from entities.services.users import user_create
from tools.sandbox import stage_file, workdir_for


@pytest.fixture
def carol(db: None) -> User:
    return user_create(name="carol")


@pytest.fixture
def shared(as_alice: APIClient, alice: User, bob: User, carol: User) -> str:
    body = {"participant_ids": [alice.id, bob.id, carol.id]}
    return str(as_alice.post("/v1/threads", body).json()["id"])


def test_only_the_owner_deletes_the_thread(
    shared: str, as_alice: APIClient, as_bob: APIClient, as_operator: APIClient
) -> None:
    refused = as_bob.delete(f"/v1/threads/{shared}")
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "permission_error"
    assert as_bob.get(f"/v1/threads/{shared}").status_code == 200
    assert as_alice.delete(f"/v1/threads/{shared}").json()["deleted"] is True
    other = as_alice.post("/v1/threads", {}).json()["id"]
    assert as_operator.delete(f"/v1/threads/{other}").json()["deleted"] is True


def test_participants_invite_and_leave_but_do_not_remove_others(
    shared: str,
    as_alice: APIClient,
    as_bob: APIClient,
    alice: User,
    bob: User,
    carol: User,
    client_for: Callable[[User], APIClient],
) -> None:
    url = f"/v1/threads/{shared}"
    dave = user_create(name="dave")
    kicked = as_bob.post(url, {"participant_ids": [alice.id, bob.id]})
    assert kicked.status_code == 403
    assert sorted(as_bob.get(url).json()["participant_ids"]) == sorted([alice.id, bob.id, carol.id])
    invited = as_bob.post(url, {"participant_ids": [alice.id, bob.id, carol.id, dave.id]})
    assert invited.status_code == 200
    left = client_for(carol).post(url, {"participant_ids": [alice.id, bob.id, dave.id]})
    assert left.status_code == 200
    assert client_for(carol).get(url).status_code == 404
    # the owner may remove anyone, but stays in her own thread
    kept = as_alice.post(url, {"participant_ids": [alice.id, bob.id]}).json()["participant_ids"]
    assert sorted(kept) == sorted([alice.id, bob.id])
    assert as_alice.post(url, {"participant_ids": [bob.id]}).status_code == 403


def test_a_message_is_changed_only_by_its_sender_or_the_owner(
    shared: str,
    as_alice: APIClient,
    as_bob: APIClient,
    carol: User,
    client_for: Callable[[User], APIClient],
) -> None:
    as_carol = client_for(carol)
    messages = f"/v1/threads/{shared}/messages"
    bobs = as_bob.post(messages, {"role": "user", "content": "from bob"}).json()["id"]
    alices = as_alice.post(messages, {"role": "user", "content": "from alice"}).json()["id"]
    assert as_carol.post(f"{messages}/{bobs}", {"metadata": {"x": "y"}}).status_code == 403
    assert as_carol.delete(f"{messages}/{bobs}").status_code == 403
    assert as_bob.delete(f"{messages}/{alices}").status_code == 403
    assert as_bob.post(f"{messages}/{bobs}", {"metadata": {"x": "y"}}).status_code == 200
    assert as_alice.delete(f"{messages}/{bobs}").json()["deleted"] is True
    assert [m["id"] for m in as_carol.get(messages).json()["data"]] == [alices]


def test_deleting_a_thread_removes_its_sandbox_directory(
    as_alice: APIClient, tmp_path: Path, django_capture_on_commit_callbacks: Callable
) -> None:
    with override_settings(DATA_DIR=tmp_path):
        thread = as_alice.post("/v1/threads", {}).json()["id"]
        workdir = workdir_for(thread)
        stage_file(workdir, "data.csv", b"a,b\n")
        (workdir / "out").mkdir()
        (workdir / "out" / "chart.png").write_bytes(b"png")
        (workdir / "escape").symlink_to(tmp_path)
        keep = tmp_path / "keep.txt"
        keep.write_text("not the thread's")
        with django_capture_on_commit_callbacks(execute=True):
            assert as_alice.delete(f"/v1/threads/{thread}").status_code == 200
        assert not workdir.exists()
        assert keep.read_text() == "not the thread's"


def test_uploads_with_odd_names_are_staged_under_a_safe_name(tmp_path: Path) -> None:
    workdir = tmp_path / "thread"
    workdir.mkdir()
    assert stage_file(workdir, "..", b"1") == "/mnt/data/_.."
    assert stage_file(workdir, ".", b"2") == "/mnt/data/_."
    assert stage_file(workdir, "a/b", b"3") == "/mnt/data/a_b"
    assert sorted(p.name for p in workdir.iterdir()) == ["_.", "_..", "a_b"]
    assert (tmp_path / "thread" / "_..").read_bytes() == b"1"


def test_a_thread_deleted_in_the_admin_leaves_no_sandbox_directory(
    as_alice: APIClient,
    operator: User,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Callable,
) -> None:
    console = Client()
    assert console.login(username="operator", password="s3cret-pass")
    with override_settings(DATA_DIR=tmp_path):
        one, two = (as_alice.post("/v1/threads", {}).json()["id"] for _ in range(2))
        workdirs = {thread: workdir_for(thread) for thread in (one, two)}
        for workdir in workdirs.values():
            stage_file(workdir, "data.csv", b"a,b\n")
        with django_capture_on_commit_callbacks(execute=True):
            deleted = console.post(f"/admin/entities/thread/{one}/delete/", {"post": "yes"})
        assert deleted.status_code == 302, deleted.content
        assert not workdirs[one].exists() and workdirs[two].exists()
        with django_capture_on_commit_callbacks(execute=True):
            bulk = console.post(
                "/admin/entities/thread/",
                {"action": "delete_selected", "_selected_action": [two], "post": "yes"},
            )
        assert bulk.status_code == 302, bulk.content
        assert not workdirs[two].exists()
