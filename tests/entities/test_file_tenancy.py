"""Whose files reach where: tool_resources take only your own files, the sandbox stages only
files of the people in the run, participants read what the code interpreter wrote in their
thread, and no file is served in a way that runs script on our origin."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.test import override_settings
from rest_framework.test import APIClient

from entities.models import Message, User
from entities.services.assistants import assistant_create
from entities.services.files import file_create
from entities.services.runs import run_create
from entities.services.threads import message_create, thread_create
from entities.services.users import user_create
from entities.validation import normalize_message_content
from inference.engine import execute_run
from inference.testing.ollama_double import OllamaDouble, Reply
from tools.code_interpreter import stage_inputs
from tools.sandbox import workdir_for

from .test_files_api import upload


def download(client: APIClient, file_id: str) -> bytes:
    response = client.get(f"/v1/files/{file_id}/content")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def resources(file_id: str) -> dict:
    return {"code_interpreter": {"file_ids": [file_id]}}


def test_bob_cannot_put_alices_file_in_his_tool_resources(
    as_alice: APIClient, as_bob: APIClient
) -> None:
    secret = upload(as_alice, "diary.txt", b"dear diary")["id"]
    mine = upload(as_bob, "mine.csv")["id"]
    refusals = [
        as_bob.post("/v1/assistants", {"model": "m", "tool_resources": resources(secret)}),
        as_bob.post("/v1/threads", {"tool_resources": resources(secret)}),
    ]
    assistant = as_bob.post("/v1/assistants", {"model": "m"}).json()
    thread = as_bob.post("/v1/threads", {}).json()
    refusals += [
        as_bob.post(f"/v1/assistants/{assistant['id']}", {"tool_resources": resources(secret)}),
        as_bob.post(f"/v1/threads/{thread['id']}", {"tool_resources": resources(secret)}),
    ]
    for response in refusals:
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "tool_resources"
        assert response.json()["error"]["message"] == f"No file found with id '{secret}'."
    assert as_bob.get(f"/v1/assistants/{assistant['id']}").json()["tool_resources"] == {}
    assert as_bob.get(f"/v1/threads/{thread['id']}").json()["tool_resources"] == {}
    # his own file is fine
    ok = as_bob.post(f"/v1/assistants/{assistant['id']}", {"tool_resources": resources(mine)})
    assert ok.json()["tool_resources"] == resources(mine)


def test_files_already_on_a_shared_thread_may_be_sent_back_by_others(
    as_alice: APIClient, as_bob: APIClient, bob: User
) -> None:
    thread = as_alice.post("/v1/threads", {"participant_ids": [bob.id]}).json()
    his = upload(as_bob, "his.csv")["id"]
    hers = upload(as_alice, "hers.csv")["id"]
    both = {"code_interpreter": {"file_ids": [his, hers]}}
    added = as_bob.post(f"/v1/threads/{thread['id']}", {"tool_resources": resources(his)})
    assert added.status_code == 200, added.content

    # Alice adds her own file beside Bob's: his id is already there, so it is not hers to check.
    kept = as_alice.post(f"/v1/threads/{thread['id']}", {"tool_resources": both})

    assert kept.status_code == 200, kept.content
    assert kept.json()["tool_resources"] == both


def test_the_sandbox_stages_only_files_of_the_people_in_the_run(
    alice: User, bob: User, tmp_path: Path
) -> None:
    def stored(owner: User, name: str) -> str:
        content = ContentFile(name.encode(), name=name)
        return file_create(owner=owner, filename=name, content=content, purpose="assistants").id

    secret, own = stored(alice, "diary.txt"), stored(bob, "mine.csv")
    # However alice's id got there (an old row, the admin console), bob's run passes it over.
    assistant = assistant_create(owner=bob, model="m", tool_resources=resources(own))
    assistant.tool_resources["code_interpreter"]["file_ids"].append(secret)
    assistant.save()
    thread = thread_create(creator=bob)
    message_create(thread=thread, author=bob, content=normalize_message_content("hi"))
    run = run_create(thread=thread, assistant=assistant, created_by=bob)
    with override_settings(DATA_DIR=tmp_path):
        stage_inputs(run)
        assert sorted(p.name for p in workdir_for(thread.id).iterdir()) == ["mine.csv"]


@pytest.fixture
def ollama() -> Iterator[OllamaDouble]:
    with OllamaDouble() as double, override_settings(OLLAMA_HOST=double.host):
        yield double


@pytest.mark.django_db(transaction=True)
def test_participants_read_what_the_code_interpreter_wrote_in_their_thread(
    ollama: OllamaDouble, alice: User, bob: User, client_for: Callable[[User], APIClient]
) -> None:
    carol = user_create(name="carol")
    assistant = assistant_create(
        owner=alice, model="llama3.1", tools=[{"type": "code_interpreter"}]
    )
    thread = thread_create(creator=alice, participant_ids=[alice.id, bob.id])
    message_create(thread=thread, author=alice, content=normalize_message_content("a chart"))
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig('/mnt/data/c.png')\n"
    ollama.enqueue(Reply(tool_calls=[{"name": "code_interpreter", "arguments": {"code": code}}]))
    ollama.enqueue(Reply(content="Here it is."))
    run = run_create(thread=thread, assistant=assistant, created_by=alice)
    execute_run(run.id)
    image = Message.objects.get(run=run).content[0]
    assert image["type"] == "image_file"
    file_id = image["image_file"]["file_id"]

    as_bob, as_carol = client_for(bob), client_for(carol)
    assert download(as_bob, file_id)[:8] == b"\x89PNG\r\n\x1a\n"
    assert as_bob.get(f"/v1/files/{file_id}").json()["id"] == file_id
    assert as_carol.get(f"/v1/files/{file_id}/content").status_code == 404
    assert as_carol.get(f"/v1/files/{file_id}").status_code == 404
    # bob may read it, not delete it; alice still owns it
    assert as_bob.delete(f"/v1/files/{file_id}").status_code == 403
    assert download(client_for(alice), file_id)[:4] == b"\x89PNG"


def test_only_raster_images_are_shown_inline_and_nothing_runs_script(as_alice: APIClient) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
    cases = {
        "chart.png": "inline",
        "photo.jpeg": "inline",
        "chart.svg": "attachment",
        "page.html": "attachment",
        "notes.txt": "attachment",
    }
    for name, disposition in cases.items():
        made = upload(as_alice, name, svg)
        response = as_alice.get(f"/v1/files/{made['id']}/content")
        assert response["Content-Disposition"].startswith(disposition), name
        assert response["Content-Security-Policy"] == "sandbox"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_an_svg_the_code_writes_comes_back_as_a_file_not_an_image(tmp_path: Path) -> None:
    from tools.sandbox.workdir import OutputFile

    assert not OutputFile(path="chart.svg", size=1, workdir=tmp_path).is_image
    assert OutputFile(path="chart.PNG", size=1, workdir=tmp_path).is_image
