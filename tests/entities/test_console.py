"""The operator's console (/admin/console/): models on Ollama, live runs, failures, usage."""

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import AsyncClient, Client, override_settings
from django.utils import timezone

from entities.models import Assistant, Run, RunEvent, Thread, User
from entities.services.assistants import assistant_create
from entities.services.runs import run_create
from entities.services.threads import message_create, thread_create
from entities.services.users import user_create
from entities.validation import normalize_message_content
from inference import hosts
from inference.engine import execute_run
from inference.testing.ollama_double import OllamaDouble, Reply


@pytest.fixture
def ollama() -> Iterator[OllamaDouble]:
    with OllamaDouble() as double, override_settings(OLLAMA_HOST=double.host):
        yield double


@pytest.fixture
def console(operator: User) -> Client:
    client = Client()
    assert client.login(username="operator", password="s3cret-pass")
    return client


@pytest.fixture
def assistant(alice: User) -> Assistant:
    return assistant_create(owner=alice, model="llama3.1", name="Helper")


@pytest.fixture
def thread(alice: User) -> Thread:
    return thread_create(creator=alice)


def ask(thread: Thread, author: User, assistant: Assistant, text: str = "Hi") -> Run:
    message_create(thread=thread, author=author, content=normalize_message_content(text))
    return run_create(thread=thread, assistant=assistant, created_by=author)


def pull(operator: User, name: str, host: str = "") -> tuple[str, list[dict[str, object]]]:
    """Ask the console for a pull, as the page's script does; the content type and the lines."""
    browser = AsyncClient()
    browser.force_login(operator.account)  # type: ignore[arg-type]

    async def read() -> tuple[str, bytes]:
        response = await browser.post("/admin/console/models/pull", {"name": name, "host": host})
        chunks = [chunk async for chunk in response.streaming_content]  # type: ignore[attr-defined]
        return response["Content-Type"], b"".join(chunks)

    content_type, body = async_to_sync(read)()
    return content_type, [json.loads(line) for line in body.decode().splitlines()]


# --- who may see it ------------------------------------------------------------------------------


def test_the_console_is_linked_from_the_admin_index(console: Client) -> None:
    page = console.get("/admin/").content.decode()
    for url in ("/admin/console/", "/admin/console/models/", "/admin/console/runs/"):
        assert f'href="{url}"' in page
    assert 'href="/admin/console/usage/"' in page


@pytest.mark.parametrize(
    "url",
    ["/admin/console/", "/admin/console/models/", "/admin/console/runs/", "/admin/console/usage/"],
)
def test_only_staff_get_in(url: str, db: None) -> None:
    user_create(name="dave", username="dave", password="dave-passphrase")
    browser = Client()
    assert browser.login(username="dave", password="dave-passphrase")
    for client in (Client(), browser):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    dave_pulls = browser.post("/admin/console/models/pull", {"name": "llama3.1"})
    assert dave_pulls.status_code == 302


def staff_member(*codenames: str) -> Client:
    """sam: staff (the admin's "staff status" ticked), not a superuser, with only ``codenames``."""
    user_create(name="sam", username="sam", password="sam-passphrase")
    account = get_user_model().objects.get(username="sam")
    account.is_staff = True
    account.save()
    granted = Permission.objects.filter(content_type__app_label="entities", codename__in=codenames)
    assert granted.count() == len(codenames)
    account.user_permissions.add(*granted)
    browser = Client()
    assert browser.login(username="sam", password="sam-passphrase")
    return browser


CONSOLE_PAGES = [
    "/admin/console/",
    "/admin/console/models/",
    "/admin/console/runs/",
    "/admin/console/runs/active",
    "/admin/console/usage/",
]


def test_staff_without_console_permissions_get_a_403_and_no_link(
    ollama: OllamaDouble, thread: Thread, alice: User, assistant: Assistant
) -> None:
    run = ask(thread, alice, assistant)
    sam = staff_member()
    assert sam.get("/admin/").status_code == 200
    assert 'href="/admin/console/' not in sam.get("/admin/").content.decode()
    for url in CONSOLE_PAGES:
        assert sam.get(url).status_code == 403, url
    pulled = sam.post("/admin/console/models/pull", {"name": "tinyllama"})
    assert pulled.status_code == 403 and pulled.json()["error"]["type"] == "permission_error"
    assert sam.post("/admin/console/models/delete", {"name": "phi3"}).status_code == 403
    assert sam.post(f"/admin/console/runs/{run.id}/cancel").status_code == 403
    assert ollama.get_model("phi3") is not None
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED


def test_staff_who_may_view_the_console_see_it_but_cannot_act(
    ollama: OllamaDouble, thread: Thread, alice: User, assistant: Assistant
) -> None:
    run = ask(thread, alice, assistant)
    sam = staff_member("view_console")
    index = sam.get("/admin/").content.decode()
    assert 'href="/admin/console/models/"' in index and 'href="/admin/console/runs/"' in index
    assert 'href="/admin/console/usage/"' not in index
    models = sam.get("/admin/console/models/").content.decode()
    assert 'data-model="phi3:latest"' in models
    assert 'id="pull-form"' not in models and "console/models/delete" not in models
    runs = sam.get("/admin/console/runs/").content.decode()
    assert run.id in runs and "cancel-run" not in runs and "data-cancel" not in runs
    assert [r["id"] for r in sam.get("/admin/console/runs/active").json()["data"]] == [run.id]

    assert sam.get("/admin/console/usage/").status_code == 403
    assert sam.post("/admin/console/models/pull", {"name": "tinyllama"}).status_code == 403
    assert sam.post("/admin/console/models/delete", {"name": "phi3"}).status_code == 403
    cancelled = sam.post(f"/admin/console/runs/{run.id}/cancel")
    assert cancelled.status_code == 403
    assert cancelled.json()["error"]["message"] == (
        "You do not have permission to do this in the console."
    )
    assert ollama.get_model("phi3") is not None
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED


def test_each_console_permission_opens_its_own_action(
    ollama: OllamaDouble, thread: Thread, alice: User, assistant: Assistant
) -> None:
    run = ask(thread, alice, assistant)
    sam = staff_member("view_console", "manage_models", "cancel_runs", "view_usage")
    models = sam.get("/admin/console/models/").content.decode()
    assert 'id="pull-form"' in models and "console/models/delete" in models
    assert "data-cancel" in sam.get("/admin/console/runs/").content.decode()
    sam.post("/admin/console/models/delete", {"name": "phi3:latest"})
    assert ollama.get_model("phi3") is None
    assert sam.post(f"/admin/console/runs/{run.id}/cancel").json()["status"] == "cancelled"
    assert sam.get("/admin/console/usage/", {"period": "all"}).status_code == 200


def test_staff_who_may_only_view_usage_see_only_usage(db: None) -> None:
    sam = staff_member("view_usage")
    assert sam.get("/admin/console/usage/").status_code == 200
    index = sam.get("/admin/console/").content.decode()
    assert "/admin/console/usage/" in index and "/admin/console/models/" not in index
    assert sam.get("/admin/console/runs/").status_code == 403


# --- models -------------------------------------------------------------------------------------


def test_the_catalogue_shows_each_models_details_and_capabilities(
    console: Client, ollama: OllamaDouble
) -> None:
    page = console.get("/admin/console/models/").content.decode()
    assert 'data-model="llama3.1:latest"' in page
    row = page[page.index('data-model="qwen3:latest"') :].split("</tr>")[0]
    for shown in ("qwen3", "8.2B", "Q4_K_M", "4.9\xa0GB", "40960", "thinking", "tools"):
        assert shown in row, shown
    phi3 = page[page.index('data-model="phi3:latest"') :].split("</tr>")[0]
    assert "tools" not in phi3


def test_the_catalogue_says_when_ollama_is_down(console: Client, ollama: OllamaDouble) -> None:
    ollama.stop()
    response = console.get("/admin/console/models/")
    assert response.status_code == 200
    assert "Ollama is not reachable at" in response.content.decode()


def test_pulling_streams_ollamas_progress_then_the_model_is_listed(
    console: Client, operator: User, ollama: OllamaDouble
) -> None:
    ollama.add_pullable("tinyllama:1.1b", size=637_700_000, parameter_size="1.1B")
    ollama.pull_steps = 4
    content_type, progress = pull(operator, "tinyllama:1.1b")
    assert content_type == "application/x-ndjson"
    assert progress[0] == {"status": "pulling manifest"}
    done = [p["completed"] for p in progress if "completed" in p]
    assert done == [0, 159_425_000, 318_850_000, 478_275_000, 637_700_000]
    assert all(p["total"] == 637_700_000 for p in progress if "total" in p)
    assert progress[-1] == {"status": "success"}
    assert 'data-model="tinyllama:1.1b"' in console.get("/admin/console/models/").content.decode()


def test_pulling_an_unknown_name_ends_with_ollamas_error(
    console: Client, operator: User, ollama: OllamaDouble
) -> None:
    _, progress = pull(operator, "no-such-model")
    assert progress[-1] == {
        "error": "Ollama could not pull 'no-such-model': pull model manifest: file does not exist"
    }
    assert console.post("/admin/console/models/pull", {"name": " "}).status_code == 400


def test_deleting_a_model_removes_it_from_ollama(console: Client, ollama: OllamaDouble) -> None:
    response = console.post("/admin/console/models/delete", {"name": "phi3:latest"}, follow=True)
    assert ollama.get_model("phi3") is None
    page = response.content.decode()
    assert f"Deleted phi3:latest from Ollama at {ollama.host}." in page
    assert 'data-model="phi3:latest"' not in page
    again = console.post("/admin/console/models/delete", {"name": "phi3:latest"}, follow=True)
    assert "has no model &#x27;phi3:latest&#x27;" in again.content.decode()


BAD_NAMES = [
    ("", "Name the model."),
    ("   ", "Name the model."),
    ("llama 3", "'llama 3' is not a model name Ollama accepts"),
    ("../../etc/passwd", "is not a model name Ollama accepts"),
    ("x" * 400, "is not a model name Ollama accepts"),
]


@pytest.mark.parametrize(("name", "expected"), BAD_NAMES)
def test_deleting_a_bad_name_is_a_readable_message(
    console: Client, ollama: OllamaDouble, name: str, expected: str
) -> None:
    response = console.post("/admin/console/models/delete", {"name": name}, follow=True)
    assert response.status_code == 200
    (shown,) = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert shown[0] == "error" and expected in shown[1], shown
    assert 'data-model="phi3:latest"' in response.content.decode()


@pytest.mark.parametrize(("name", "expected"), BAD_NAMES)
def test_pulling_a_bad_name_is_a_400_in_openais_shape(
    console: Client, ollama: OllamaDouble, name: str, expected: str
) -> None:
    response = console.post("/admin/console/models/pull", {"name": name})
    assert response.status_code == 400
    error = response.json()["error"]
    assert expected in error["message"] and error["param"] == "name"


def test_names_ollama_accepts_are_passed_on(console: Client, ollama: OllamaDouble) -> None:
    for name in ("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "library/qwen3:8b", "x_y"):
        response = console.post("/admin/console/models/delete", {"name": name}, follow=True)
        assert f"has no model &#x27;{name}&#x27;" in response.content.decode()


def test_a_host_that_is_not_one_is_a_readable_message(
    console: Client, ollama: OllamaDouble
) -> None:
    for host in ("http://[::1", "http://ops:pw@gpu1:abc", "\x00"):
        response = console.post(
            "/admin/console/models/delete", {"name": "phi3", "host": host}, follow=True
        )
        assert f"No enabled Ollama host is {host}." in [
            str(m) for m in response.context["messages"]
        ]
        pulled = console.post("/admin/console/models/pull", {"name": "phi3", "host": host})
        assert pulled.status_code == 400 and pulled.json()["error"]["param"] == "host"
    assert ollama.get_model("phi3") is not None


# --- several hosts -------------------------------------------------------------------------------


def with_password(host: str) -> str:
    return host.replace("http://", "http://ops:hunter2@")


@pytest.fixture
def both(east: OllamaDouble, west: OllamaDouble) -> Iterator[None]:
    """Two Ollama hosts from OLLAMA_HOSTS; west's URL carries a user and password."""
    with override_settings(OLLAMA_HOSTS=[east.host, with_password(west.host)]):
        yield


def section(page: str, host: str) -> str:
    start = page.index(f'data-host="{host}" data-state=')
    return page[start : page.index("</section>", start)]


def test_the_catalogue_shows_every_host_with_its_state_and_models(
    console: Client, east: OllamaDouble, west: OllamaDouble, both: None
) -> None:
    west.remove_model("phi3")
    west.add_pullable("tinyllama:1.1b")
    page = console.get("/admin/console/models/").content.decode()
    assert "hunter2" not in page  # the password in west's URL is never shown
    easts, wests = section(page, east.host), section(page, west.host)
    assert easts.startswith(f'data-host="{east.host}" data-state="up"')
    assert "Last seen: 20" in easts
    assert 'data-model="phi3:latest"' in easts and 'data-model="phi3:latest"' not in wests
    assert 'data-model="llama3.1:latest"' in wests
    assert f'<option value="{west.host}">' in page  # pull: the operator picks the host

    west.stop()
    with override_settings(OLLAMA_TAGS_TTL_SECONDS=0):
        page = console.get("/admin/console/models/").content.decode()
    assert "hunter2" not in page
    wests = section(page, west.host)
    assert wests.startswith(f'data-host="{west.host}" data-state="down"')
    assert "Ollama is not reachable at" in wests
    assert "ConnectError" in wests and "Last seen: 20" in wests  # seen before, not since
    assert 'data-model="llama3.1:latest"' in section(page, east.host)


def test_a_pull_goes_to_the_chosen_host_and_routing_sees_it_at_once(
    console: Client, operator: User, east: OllamaDouble, west: OllamaDouble, both: None
) -> None:
    for double in (east, west):
        double.add_pullable("tinyllama:1.1b")
    console.get("/admin/console/models/")  # the hosts' model lists are now stored
    nowhere = console.post("/admin/console/models/pull", {"name": "tinyllama:1.1b"})
    assert nowhere.status_code == 400
    assert nowhere.json()["error"]["message"] == "Choose the Ollama host."

    _, progress = pull(operator, "tinyllama:1.1b", host=west.host)
    assert progress[-1] == {"status": "success"}
    assert west.get_model("tinyllama:1.1b") is not None
    assert east.get_model("tinyllama:1.1b") is None
    listed = {state.url: state.models for state in hosts.host_states()}
    assert "tinyllama:1.1b" in listed[with_password(west.host)]
    assert "tinyllama:1.1b" not in listed[east.host]


def test_a_delete_goes_to_the_chosen_host_only(
    console: Client, east: OllamaDouble, west: OllamaDouble, both: None
) -> None:
    console.get("/admin/console/models/")
    response = console.post(
        "/admin/console/models/delete", {"name": "phi3:latest", "host": west.host}, follow=True
    )
    assert f"Deleted phi3:latest from Ollama at {west.host}." in response.content.decode()
    assert west.get_model("phi3") is None and east.get_model("phi3") is not None
    listed = {state.url: state.models for state in hosts.host_states()}
    assert "phi3:latest" not in listed[with_password(west.host)]
    assert "phi3:latest" in listed[east.host]

    unchosen = console.post("/admin/console/models/delete", {"name": "phi3"}, follow=True)
    assert "Choose the Ollama host." in unchosen.content.decode()
    assert east.get_model("phi3") is not None


# --- runs ---------------------------------------------------------------------------------------


def test_active_runs_show_status_model_tokens_so_far_and_elapsed(
    console: Client, thread: Thread, alice: User, assistant: Assistant
) -> None:
    run = ask(thread, alice, assistant)
    started = timezone.now() - timedelta(seconds=42)
    Run.objects.filter(pk=run.pk).update(
        status="in_progress", started_at=started, ollama_host="http://ops:hunter2@gpu1:11434"
    )
    RunEvent.objects.bulk_create(
        RunEvent(run=run, seq=10 + i, event="thread.message.delta", data="{}") for i in range(7)
    )
    active = console.get("/admin/console/runs/active").json()["data"]
    assert len(active) == 1
    shown = active[0]
    assert (shown["id"], shown["status"], shown["model"]) == (run.id, "in_progress", "llama3.1")
    assert (shown["assistant"], shown["user"], shown["tokens"]) == ("Helper", "alice", 7)
    assert 42 <= shown["elapsed_seconds"] < 60
    assert shown["ollama_host"] == "http://gpu1:11434"  # the run's host, without its password
    page = console.get("/admin/console/runs/").content.decode()
    assert run.id in page and "<td>http://gpu1:11434</td>" in page and "hunter2" not in page


def test_cancel_from_the_console(
    console: Client, thread: Thread, alice: User, assistant: Assistant
) -> None:
    run = ask(thread, alice, assistant)
    response = console.post(f"/admin/console/runs/{run.id}/cancel")
    assert response.json() == {"id": run.id, "status": "cancelled"}
    assert console.get("/admin/console/runs/active").json()["data"] == []
    again = console.post(f"/admin/console/runs/{run.id}/cancel")
    assert again.status_code == 400
    assert again.json()["error"]["message"] == "Cannot cancel run with status 'cancelled'."
    assert console.post("/admin/console/runs/run_nope/cancel").status_code == 404


def test_failures_show_their_last_error(
    console: Client, ollama: OllamaDouble, thread: Thread, alice: User
) -> None:
    ghost = assistant_create(owner=alice, model="no-such-model", name="Ghost")
    run = ask(thread, alice, ghost)
    execute_run(run.id)
    page = console.get("/admin/console/runs/").content.decode()
    failures = page[page.index('id="failures"') :]
    assert run.id in failures
    assert "model &#x27;no-such-model&#x27; is not available on" in failures


# --- usage --------------------------------------------------------------------------------------


def test_usage_per_user_and_per_assistant_over_a_period(
    console: Client, ollama: OllamaDouble, alice: User, bob: User, assistant: Assistant
) -> None:
    ollama.enqueue(
        Reply(content="one", prompt_eval_count=10, eval_count=3),
        Reply(content="two", prompt_eval_count=20, eval_count=5),
        Reply(content="three", prompt_eval_count=40, eval_count=7),
        Reply(content="old", prompt_eval_count=1000, eval_count=1000),
    )
    other = assistant_create(owner=bob, model="phi3", name="Other")
    alices, bobs = thread_create(creator=alice), thread_create(creator=bob)
    for thread, user, helper in ((alices, alice, assistant), (bobs, bob, other)):
        execute_run(ask(thread, user, helper).id)
    execute_run(ask(alices, alice, assistant).id)
    old = ask(alices, alice, assistant)
    execute_run(old.id)
    Run.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))

    rows = console.get("/admin/console/usage/", {"period": "30d"}).context["rows"]
    by_user = {r.name: (r.runs, r.prompt_tokens, r.completion_tokens) for r in rows["users"]}
    assert by_user == {"alice": (2, 50, 10), "bob": (1, 20, 5)}
    by_assistant = {r.name: (r.runs, r.total_tokens, r.detail) for r in rows["assistants"]}
    assert by_assistant == {"Helper": (2, 60, "llama3.1"), "Other": (1, 25, "phi3")}

    everything = console.get("/admin/console/usage/", {"period": "all"}).context["rows"]
    assert everything["users"][0].name == "alice"
    assert everything["users"][0].prompt_tokens == 1050

    day = (timezone.now() - timedelta(days=40)).date().isoformat()
    custom = console.get("/admin/console/usage/", {"period": "custom", "since": day, "until": day})
    assert [(r.name, r.runs) for r in custom.context["rows"]["users"]] == [("alice", 1)]
    page = custom.content.decode()
    assert 'id="usage-users"' in page and 'id="usage-assistants"' in page

    backwards = console.get(
        "/admin/console/usage/", {"period": "custom", "since": "2026-02-02", "until": "2026-02-01"}
    )
    assert backwards.context["rows"] is None
    assert "The end comes before the start." in backwards.content.decode()
