"""The operators' console: every model's pages render, and its writes behave as the API does."""

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from entities.models import (
    ApiKey,
    Assistant,
    File,
    FunctionDefinition,
    Message,
    Run,
    Thread,
    User,
)
from entities.services.assistants import assistant_create, function_definition_create
from entities.services.runs import run_create
from entities.services.threads import message_create, thread_create
from entities.services.users import api_key_create, user_create
from entities.validation import normalize_message_content
from inference.models import OllamaHost

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

RAW_KEY = re.compile(r"ek_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def console(operator: User) -> Client:
    """A browser logged in to the admin console as the operator (a superuser login)."""
    client = Client()
    assert client.login(username="operator", password="s3cret-pass")
    return client


@pytest.fixture
def assistant(alice: User) -> Assistant:
    return assistant_create(owner=alice, model="llama3.1", name="Helper")


@pytest.fixture
def thread(alice: User) -> Thread:
    thread = thread_create(creator=alice)
    message_create(
        thread=thread, author=alice, content=normalize_message_content("Hello from alice")
    )
    return thread


def whoami(raw_key: str) -> Any:
    return APIClient().get("/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {raw_key}")


def messages_of(response: "Response") -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def shown_key(response: "Response") -> str:
    """The one raw key in the page's success messages."""
    keys = [
        k
        for level, text in messages_of(response)
        if level == "success"
        for k in RAW_KEY.findall(text)
    ]
    assert len(keys) == 1, messages_of(response)
    assert keys[0] in response.content.decode()
    return keys[0]


def form_errors(response: "Response") -> str:
    """Every error message the add/change form shows, as one string."""
    assert response.status_code == 200, "a refused form is shown again, not redirected"
    adminform = response.context["adminform"]
    return " ".join(str(e) for errors in adminform.form.errors.values() for e in errors)


# --- pages render ------------------------------------------------------------------------------


def test_admin_index_lists_every_model(console: Client) -> None:
    response = console.get("/admin/")
    assert response.status_code == 200
    page = response.content.decode()
    for url in [
        "/admin/entities/user/",
        "/admin/entities/apikey/",
        "/admin/entities/assistant/",
        "/admin/entities/functiondefinition/",
        "/admin/entities/thread/",
        "/admin/entities/run/",
        "/admin/entities/file/",
    ]:
        assert url in page


def test_every_changelist_and_change_page_renders(
    console: Client, alice: User, assistant: Assistant, thread: Thread
) -> None:
    key, _ = api_key_create(user=alice, name="laptop")
    definition = function_definition_create(
        owner=None, name="get_weather", parameters={"type": "object", "properties": {}}
    )
    run = run_create(thread=thread, assistant=assistant, created_by=alice)
    upload = File(owner=alice, filename="notes.txt", bytes=5)
    upload.content.save("notes.txt", ContentFile(b"notes"), save=True)
    try:
        pages = {
            "user": alice.id,
            "apikey": key.id,
            "assistant": assistant.id,
            "functiondefinition": definition.id,
            "thread": thread.id,
            "run": run.id,
            "file": upload.id,
        }
        for model, pk in pages.items():
            listing = console.get(f"/admin/entities/{model}/")
            assert listing.status_code == 200, model
            assert pk in listing.content.decode(), model
            detail = console.get(f"/admin/entities/{model}/{pk}/change/")
            assert detail.status_code == 200, model
        for model in ["user", "apikey", "assistant", "functiondefinition", "thread"]:
            assert console.get(f"/admin/entities/{model}/add/").status_code == 200, model
    finally:
        upload.content.delete(save=False)


def test_user_page_lists_keys_by_prefix_never_the_key(console: Client, alice: User) -> None:
    key, raw = api_key_create(user=alice, name="laptop")
    page = console.get(f"/admin/entities/user/{alice.id}/change/").content.decode()
    assert key.prefix in page
    assert "laptop" in page
    assert raw not in page
    assert key.hashed_key not in page


def test_thread_page_shows_its_messages_read_only(console: Client, thread: Thread) -> None:
    message = thread.messages.get()
    response = console.get(f"/admin/entities/thread/{thread.id}/change/")
    page = response.content.decode()
    assert "Hello from alice" in page
    assert message.id in page
    (inline,) = response.context["inline_admin_formsets"]
    assert inline.formset.model is Message
    assert len(inline.formset.forms) == 1
    # Nothing about a message is an input: no text box, role choice or delete box.
    editable = set(inline.formset.forms[0].fields) - {"id", "thread"}
    assert editable == set(), editable
    assert 'name="messages-0-role"' not in page
    assert 'name="messages-0-DELETE"' not in page
    assert not inline.has_add_permission


def test_run_page_is_read_only_and_shows_last_error(
    console: Client, alice: User, assistant: Assistant, thread: Thread
) -> None:
    run = run_create(thread=thread, assistant=assistant, created_by=alice)
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.FAILED,
        last_error={"code": "server_error", "message": "Ollama is unreachable at 127.0.0.1"},
    )
    response = console.get(f"/admin/entities/run/{run.id}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ollama is unreachable at 127.0.0.1" in page
    assert response.context["adminform"].form.fields == {}
    assert console.get("/admin/entities/run/add/").status_code == 403
    listing = console.get("/admin/entities/run/").content.decode()
    assert "Ollama is unreachable at 127.0.0.1" in listing


# --- users and keys ----------------------------------------------------------------------------


def test_adding_a_user_with_a_login_lets_them_log_in(console: Client) -> None:
    response = console.post(
        "/admin/entities/user/add/",
        {
            "name": "Carol",
            "email": "carol@example.org",
            "is_admin": "on",
            "username": "carol",
            "password": "a-long-passphrase",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert response.status_code == 200
    user = User.objects.get(name="Carol")
    assert user.email == "carol@example.org"
    assert user.is_admin
    assert user.account is not None and user.account.get_username() == "carol"
    browser = Client()
    assert browser.login(username="carol", password="a-long-passphrase")
    assert browser.get("/admin/").status_code == 200


def test_adding_a_user_whose_login_is_taken_is_refused_on_the_form(console: Client) -> None:
    response = console.post(
        "/admin/entities/user/add/",
        {
            "name": "Impostor",
            "username": "operator",
            "password": "another-passphrase",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    assert "operator" in form_errors(response)
    assert "taken" in form_errors(response)
    assert not User.objects.filter(name="Impostor").exists()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"username": "carol"}, "A login needs a password."),
        ({"password": "a-long-passphrase"}, "Give a login for this password"),
        ({"username": "carol", "password": "short"}, "This password is too short."),
        ({"username": "carol smith", "password": "a-long-passphrase"}, "Enter a valid username."),
    ],
)
def test_an_unusable_login_is_refused_on_the_form(
    console: Client, fields: dict[str, str], expected: str
) -> None:
    response = console.post(
        "/admin/entities/user/add/",
        {"name": "Carol", "api_keys-TOTAL_FORMS": "0", "api_keys-INITIAL_FORMS": "0", **fields},
    )
    assert expected in form_errors(response)
    assert not User.objects.filter(name="Carol").exists()
    assert not get_user_model().objects.filter(username="carol").exists()


def test_deleting_a_user_also_removes_their_login(console: Client) -> None:
    carol = user_create(name="Carol", username="carol", password="a-long-passphrase")
    dave = user_create(name="Dave", username="dave", password="a-long-passphrase")
    # One from its page, one with the list's bulk action: both ask first, then delete.
    assert console.get(f"/admin/entities/user/{carol.id}/delete/").status_code == 200
    response = console.post(f"/admin/entities/user/{carol.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    bulk = {"action": "delete_selected", "_selected_action": [dave.id]}
    assert console.post("/admin/entities/user/", bulk).status_code == 200
    response = console.post("/admin/entities/user/", {**bulk, "post": "yes"})
    assert response.status_code == 302
    assert not Client().login(username="carol", password="a-long-passphrase")
    assert not User.objects.filter(name__in=["Carol", "Dave"]).exists()
    assert not Client().login(username="dave", password="a-long-passphrase")
    assert not get_user_model().objects.filter(username__in=["carol", "dave"]).exists()


def test_an_admin_cannot_delete_their_own_user(console: Client, operator: User) -> None:
    response = console.post(
        f"/admin/entities/user/{operator.id}/delete/", {"post": "yes"}, follow=True
    )
    assert ("error", "You cannot delete your own user: another admin can.") in messages_of(response)
    bulk = {"action": "delete_selected", "_selected_action": [operator.id], "post": "yes"}
    response = console.post("/admin/entities/user/", bulk, follow=True)
    assert response.status_code == 200
    assert ("error", "You cannot delete your own user: another admin can.") in messages_of(response)
    assert User.objects.filter(pk=operator.pk).exists()
    assert Client().login(username="operator", password="s3cret-pass")


def test_the_last_admin_is_not_demoted_from_the_console(console: Client, operator: User) -> None:
    """The operator's login is the only way in: unticking is_admin would close it for good."""
    response = console.post(
        f"/admin/entities/user/{operator.id}/change/",
        {
            "name": "operator",
            "email": "",
            "account": operator.account_id,
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert any(
        "no admin with a usable API key or login" in text for _, text in messages_of(response)
    )
    operator.refresh_from_db()
    assert operator.is_admin
    assert console.get("/admin/").status_code == 200


def test_demoting_an_admin_in_the_console_closes_their_login(console: Client) -> None:
    fay = user_create(name="fay", is_admin=True, username="fay", password="a-long-passphrase")
    response = console.post(
        f"/admin/entities/user/{fay.id}/change/",
        {
            "name": "fay",
            "email": "",
            "account": fay.account_id,
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    browser = Client()
    browser.login(username="fay", password="a-long-passphrase")
    assert browser.get("/admin/").status_code == 302


def test_the_last_admins_login_is_kept_on_djangos_login_pages(
    console: Client, operator: User
) -> None:
    """The operator's login is the only way in (no admin has a key): it stays usable."""
    account = f"/admin/auth/user/{operator.account_id}"
    own = console.post(f"{account}/delete/", {"post": "yes"}, follow=True)
    assert ("error", "You cannot delete your own login: another admin can.") in messages_of(own)

    sam = staff_member("auth.view_user", "auth.change_user", "auth.delete_user")
    refused = sam.post(f"{account}/delete/", {"post": "yes"}, follow=True)
    assert any("no admin with a usable API key or login" in t for _, t in messages_of(refused))
    joined = timezone.localtime(get_user_model().objects.get(username="operator").date_joined)
    unticked = {
        "username": "operator",
        "email": "",
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
    }
    refused = sam.post(f"{account}/change/", unticked, follow=True)
    assert any("no admin with a usable API key or login" in t for _, t in messages_of(refused))
    assert Client().login(username="operator", password="s3cret-pass")
    assert console.get("/admin/").status_code == 200

    _, raw = api_key_create(user=operator)  # now a second way in: the login may go
    assert sam.post(f"{account}/change/", unticked).status_code == 302
    assert not get_user_model().objects.get(username="operator").is_superuser
    assert whoami(raw).status_code == 200


def test_the_create_key_action_shows_a_key_once_that_works(console: Client, alice: User) -> None:
    response = console.post(
        "/admin/entities/user/",
        {"action": "create_api_key", "_selected_action": [alice.id]},
        follow=True,
    )
    assert response.status_code == 200
    raw = shown_key(response)
    me = whoami(raw)
    assert me.status_code == 200
    assert me.json()["id"] == alice.id
    # Shown once: the key's own page and the user's page only show its prefix.
    key = alice.api_keys.get()
    assert raw not in console.get(f"/admin/entities/apikey/{key.id}/change/").content.decode()
    assert raw not in console.get(f"/admin/entities/user/{alice.id}/change/").content.decode()


def test_adding_a_key_in_the_key_form_shows_it_once_and_it_works(
    console: Client, bob: User
) -> None:
    response = console.post(
        "/admin/entities/apikey/add/", {"user": bob.id, "name": "ci"}, follow=True
    )
    assert response.status_code == 200
    raw = shown_key(response)
    key = ApiKey.objects.get(user=bob)
    assert key.name == "ci"
    assert raw.startswith(key.prefix)
    assert whoami(raw).json()["id"] == bob.id
    assert raw not in console.get(f"/admin/entities/apikey/{key.id}/change/").content.decode()


def test_a_key_cannot_be_moved_to_another_user(console: Client, alice: User, bob: User) -> None:
    key, raw = api_key_create(user=alice, name="laptop")
    response = console.post(
        f"/admin/entities/apikey/{key.id}/change/", {"user": bob.id, "name": "renamed"}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.user_id, key.name) == (alice.id, "renamed")
    assert whoami(raw).json()["id"] == alice.id


def test_a_key_that_would_expire_in_the_past_is_refused_on_the_form(
    console: Client, bob: User
) -> None:
    past = timezone.now() - timedelta(days=1)
    response = console.post(
        "/admin/entities/apikey/add/",
        {
            "user": bob.id,
            "name": "stale",
            "expires_at_0": past.strftime("%Y-%m-%d"),
            "expires_at_1": past.strftime("%H:%M:%S"),
        },
    )
    assert "future" in form_errors(response)
    assert not ApiKey.objects.filter(user=bob).exists()


def test_the_revoke_action_makes_a_key_stop_working(console: Client, alice: User) -> None:
    key, raw = api_key_create(user=alice)
    _, other_raw = api_key_create(user=alice)
    assert whoami(raw).status_code == 200
    response = console.post(
        "/admin/entities/apikey/", {"action": "revoke", "_selected_action": [key.id]}, follow=True
    )
    assert ("success", "Revoked 1 key(s).") in messages_of(response)
    refused = whoami(raw)
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    assert whoami(other_raw).status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None


# --- Ollama hosts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://[::1", "This is not a URL."),
        ("ftp://gpu1:11434", "An Ollama URL starts with http:// or https://."),
        ("http://", "The URL names no host."),
        ("http://gpu 1:11434", "The URL has a space or a control character."),
        ("http://ops:pw@gpu1:abc", "The port must be a number from 0 to 65535."),
        ("http://gpu1:99999", "The port must be a number from 0 to 65535."),
        ("gpu1.example.org/" + "a" * 235, "An Ollama URL has at most 255 characters."),
    ],
)
def test_an_ollama_host_that_is_not_a_url_is_refused_on_the_form(
    console: Client, url: str, expected: str
) -> None:
    response = console.post("/admin/inference/ollamahost/add/", {"url": url, "enabled": "on"})
    assert expected in form_errors(response)
    assert not OllamaHost.objects.filter(source=OllamaHost.Source.ADMIN).exists()
    assert console.get("/admin/console/models/").status_code == 200


# --- assistants and function definitions ------------------------------------------------------


def assistant_form(owner: User, **fields: str) -> dict[str, str]:
    return {
        "owner": owner.id,
        "name": "Checker",
        "model": "llama3.1",
        "tools": "[]",
        "tool_resources": "{}",
        "response_format": '"auto"',
        "metadata": "{}",
        **fields,
    }


def test_an_assistant_with_valid_tools_is_saved(console: Client, alice: User) -> None:
    tools = '[{"type": "function", "function": {"name": "get_weather"}}]'
    response = console.post("/admin/entities/assistant/add/", assistant_form(alice, tools=tools))
    assert response.status_code == 302
    saved = Assistant.objects.get(name="Checker")
    assert saved.tools == [{"type": "function", "function": {"name": "get_weather"}}]
    assert saved.owner == alice


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        (
            '[{"type": "function", "function": {"name": "bad name"}}]',
            "tools[0].function.name must be 1-64 characters",
        ),
        ("[{not json", "Enter a valid JSON."),
        ('[{"type": "file_search"}]', "file_search tool is not supported"),
        ('{"type": "code_interpreter"}', "tools must be a list"),
    ],
)
def test_an_assistant_with_invalid_tools_is_refused_with_a_readable_error(
    console: Client, alice: User, tools: str, expected: str
) -> None:
    response = console.post("/admin/entities/assistant/add/", assistant_form(alice, tools=tools))
    assert expected in form_errors(response)
    assert expected in response.content.decode().replace("&#x27;", "'")
    assert not Assistant.objects.exists()


def test_clearing_an_assistants_json_fields_keeps_their_empty_defaults(
    console: Client, alice: User
) -> None:
    response = console.post(
        "/admin/entities/assistant/add/",
        assistant_form(alice, tools="", tool_resources="", metadata="", response_format=""),
    )
    assert response.status_code == 302
    saved = Assistant.objects.get(name="Checker")
    assert saved.tools == []
    assert saved.tool_resources == {}
    assert saved.metadata == {}
    assert saved.response_format == "auto"


def test_a_function_definition_with_an_invalid_schema_is_refused(console: Client) -> None:
    response = console.post(
        "/admin/entities/functiondefinition/add/",
        {"name": "lookup", "description": "", "parameters": '{"type": 5}'},
    )
    errors = form_errors(response)
    assert "parameters" in errors
    assert "is not a valid JSON Schema" in errors
    assert not FunctionDefinition.objects.exists()


def test_a_function_definition_with_a_bad_name_is_refused(console: Client) -> None:
    response = console.post(
        "/admin/entities/functiondefinition/add/",
        {"name": "look up", "description": "", "parameters": "{}"},
    )
    assert "1-64 characters" in form_errors(response)
    assert not FunctionDefinition.objects.exists()


def test_a_function_definition_with_an_empty_schema_box_gets_an_empty_schema(
    console: Client,
) -> None:
    response = console.post(
        "/admin/entities/functiondefinition/add/",
        {"name": "ping", "description": "", "parameters": ""},
    )
    assert response.status_code == 302
    assert FunctionDefinition.objects.get(name="ping").parameters == {}


def test_a_valid_function_definition_is_saved(console: Client) -> None:
    schema = '{"type": "object", "properties": {"city": {"type": "string"}}}'
    response = console.post(
        "/admin/entities/functiondefinition/add/",
        {"name": "get_weather", "description": "Weather now", "parameters": schema},
    )
    assert response.status_code == 302
    saved = FunctionDefinition.objects.get(name="get_weather")
    assert saved.parameters["properties"] == {"city": {"type": "string"}}


# --- runs --------------------------------------------------------------------------------------


@pytest.fixture
def runs(alice: User, bob: User) -> dict[str, Run]:
    """A queued run of alice's llama assistant and a completed one of bob's qwen assistant."""
    llama = assistant_create(owner=alice, model="llama3.1", name="Llama helper")
    qwen = assistant_create(owner=bob, model="qwen3", name="Qwen helper")
    queued = run_create(thread=thread_create(creator=alice), assistant=llama, created_by=alice)
    done = run_create(thread=thread_create(creator=bob), assistant=qwen, created_by=bob)
    Run.objects.filter(pk=done.pk).update(status=Run.Status.COMPLETED, completed_at=timezone.now())
    done.refresh_from_db()
    return {"queued": queued, "done": done}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status__exact=queued", "queued"),
        ("status__exact=completed", "done"),
        ("model=llama3.1", "queued"),
        ("model=qwen3", "done"),
    ],
)
def test_the_run_list_filters_by_status_and_model(
    console: Client, runs: dict[str, Run], query: str, expected: str
) -> None:
    response = console.get(f"/admin/entities/run/?{query}")
    assert response.status_code == 200
    shown = {run.id for run in response.context["cl"].result_list}
    assert shown == {runs[expected].id}


def test_the_run_list_filters_by_assistant(console: Client, runs: dict[str, Run]) -> None:
    assistant = runs["done"].assistant
    assert assistant is not None
    response = console.get(f"/admin/entities/run/?assistant__id__exact={assistant.id}")
    assert response.status_code == 200
    assert {run.id for run in response.context["cl"].result_list} == {runs["done"].id}
    page = console.get("/admin/entities/run/").content.decode()
    assert "Qwen helper" in page and "qwen3" in page


def test_cancelling_runs_cancels_queued_ones_and_warns_for_finished_ones(
    console: Client, runs: dict[str, Run]
) -> None:
    queued, done = runs["queued"], runs["done"]
    response = console.post(
        "/admin/entities/run/",
        {"action": "cancel", "_selected_action": [queued.id, done.id]},
        follow=True,
    )
    assert response.status_code == 200
    queued.refresh_from_db()
    done.refresh_from_db()
    assert queued.status == Run.Status.CANCELLED
    assert queued.cancelled_at is not None
    assert done.status == Run.Status.COMPLETED
    shown = messages_of(response)
    assert ("success", f"{queued.id}: cancelled.") in shown
    assert ("warning", f"{done.id}: Cannot cancel run with status 'completed'.") in shown


def test_cancelling_a_run_a_worker_holds_asks_the_worker(
    console: Client, runs: dict[str, Run]
) -> None:
    running = runs["queued"]
    Run.objects.filter(pk=running.pk).update(status=Run.Status.IN_PROGRESS)
    response = console.post(
        "/admin/entities/run/", {"action": "cancel", "_selected_action": [running.id]}, follow=True
    )
    running.refresh_from_db()
    assert running.status == Run.Status.CANCELLING
    (shown,) = messages_of(response)
    assert shown[0] == "success"
    assert shown[1].startswith(f"{running.id}: cancel requested")


def staff_member(*codenames: str) -> Client:
    """sam: staff, not a superuser, with only the given permissions (``app.codename``)."""
    user_create(name="sam", username="sam", password="sam-passphrase")
    account = get_user_model().objects.get(username="sam")
    account.is_staff = True
    account.save()
    for dotted in codenames:
        app_label, codename = dotted.split(".")
        account.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    browser = Client()
    assert browser.login(username="sam", password="sam-passphrase")
    return browser


def offered_actions(response: "Response") -> set[str]:
    form = response.context["action_form"]  # none when no action is offered
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


def test_staff_who_may_view_runs_cannot_cancel_anyones(runs: dict[str, Run]) -> None:
    sam = staff_member("entities.view_run")
    listed = sam.get("/admin/entities/run/")
    assert listed.status_code == 200
    assert "cancel" not in offered_actions(listed)
    sam.post("/admin/entities/run/", {"action": "cancel", "_selected_action": [runs["queued"].id]})
    runs["queued"].refresh_from_db()
    assert runs["queued"].status == Run.Status.QUEUED


def test_the_console_permission_to_cancel_runs_opens_the_cancel_action(
    runs: dict[str, Run],
) -> None:
    sam = staff_member("entities.view_run", "entities.cancel_runs")
    assert "cancel" in offered_actions(sam.get("/admin/entities/run/"))
    sam.post("/admin/entities/run/", {"action": "cancel", "_selected_action": [runs["queued"].id]})
    runs["queued"].refresh_from_db()
    assert runs["queued"].status == Run.Status.CANCELLED


def test_staff_who_may_view_users_cannot_make_keys_that_act_as_them(
    operator: User, alice: User
) -> None:
    sam = staff_member("entities.view_user")
    listed = sam.get("/admin/entities/user/")
    assert listed.status_code == 200
    assert "create_api_key" not in offered_actions(listed)
    sam.post(
        "/admin/entities/user/", {"action": "create_api_key", "_selected_action": [operator.id]}
    )
    assert not operator.api_keys.exists()


# --- who may enter -----------------------------------------------------------------------------


def test_a_login_without_staff_rights_is_sent_to_the_login_page(db: None) -> None:
    get_user_model().objects.create_user(username="dave", password="dave-passphrase")
    browser = Client()
    assert browser.login(username="dave", password="dave-passphrase")
    for url in ["/admin/", "/admin/entities/apikey/", "/admin/entities/user/add/"]:
        response = browser.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url
