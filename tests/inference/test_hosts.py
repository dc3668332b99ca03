"""Several Ollama hosts: which one a run goes to, and what happens when one goes away.

Two Ollama doubles on loopback stand for two GPU servers; "east" and "west" below.
"""

import contextlib
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from entities.models import Message, Run, User
from entities.services.assistants import assistant_create
from entities.services.runs import run_create
from entities.services.threads import thread_create
from inference import hosts
from inference.engine import execute_run
from inference.models import OllamaHost
from inference.providers import ChatRequest, ProviderError, resolve
from inference.providers.ollama import OllamaProvider
from inference.testing.ollama_double import OllamaDouble, Reply

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def both(east: OllamaDouble, west: OllamaDouble, db: None) -> Iterator[None]:
    with override_settings(OLLAMA_HOSTS=[east.host, west.host], OLLAMA_TIMEOUT_SECONDS=10.0):
        yield


@pytest.fixture
def new_run(alice: User) -> Any:
    """A queued run on a thread of its own (a thread has one active run at most)."""
    assistant = assistant_create(owner=alice, model="llama3.1")

    def make() -> Run:
        hi = [{"type": "text", "text": {"value": "hi", "annotations": []}}]
        thread = thread_create(creator=alice, messages=[{"role": "user", "content": hi}])
        return run_create(thread=thread, assistant=assistant, created_by=alice)

    return make


def chat_text(provider: Any, model: str) -> str:
    return "".join(c.content for c in provider.chat(ChatRequest(model=model, messages=USER)))


def test_a_run_goes_to_the_host_that_has_its_model(
    both: None, east: OllamaDouble, west: OllamaDouble, new_run: Any
) -> None:
    east.remove_model("llama3.1")
    run = new_run()

    provider, _ = resolve("llama3.1", run=run)

    assert isinstance(provider, OllamaProvider) and provider.host == west.host
    assert run.ollama_host == west.host  # for the engine to store when it claims the run
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert run.ollama_host == west.host  # recorded, to count the host's load
    assert len(west.requests_to("/api/chat")) == 1 and not east.requests_to("/api/chat")


def test_the_least_busy_host_is_preferred(
    both: None, east: OllamaDouble, west: OllamaDouble, new_run: Any
) -> None:
    runs = [new_run() for _ in range(3)]
    Run.objects.filter(pk__in=[r.pk for r in runs[:2]]).update(
        status=Run.Status.IN_PROGRESS, ollama_host=east.host
    )

    chosen = [hosts.choose("llama3.1") for _ in range(5)]

    assert chosen == [west.host] * 5
    Run.objects.filter(pk=runs[0].pk).update(ollama_host=west.host)
    Run.objects.filter(pk=runs[2].pk).update(status=Run.Status.IN_PROGRESS, ollama_host=west.host)
    assert hosts.choose("llama3.1") == east.host  # now east has one, west two


def test_a_host_that_stops_answering_is_taken_out_and_asked_again_later(
    both: None, east: OllamaDouble, west: OllamaDouble
) -> None:
    east.stop()

    assert {hosts.choose("llama3.1") for _ in range(5)} == {west.host}
    row = OllamaHost.objects.get(url=east.host)
    assert row.state == OllamaHost.State.DOWN
    assert "ConnectError" in row.last_error

    east.start()  # back, on the same port
    with override_settings(OLLAMA_HOST_RETRY_SECONDS=60.0):
        hosts.choose("llama3.1")
        assert OllamaHost.objects.get(url=east.host).state == OllamaHost.State.DOWN  # not yet
    with override_settings(OLLAMA_HOST_RETRY_SECONDS=0.0):
        hosts.choose("llama3.1")
    row.refresh_from_db()
    assert (row.state, row.last_error) == (OllamaHost.State.UP, "")
    assert "llama3.1:latest" in row.model_names


def test_a_run_whose_host_went_away_before_it_streamed_goes_to_another(
    both: None, east: OllamaDouble, west: OllamaDouble, new_run: Any
) -> None:
    hosts.choose("llama3.1")  # both known to be up, for the next ten seconds
    run = new_run()
    # Claimed, as the engine's runs are by the time a host fails them mid-call (before the
    # claim, the claim stores where the run went).
    Run.objects.filter(pk=run.pk).update(status=Run.Status.IN_PROGRESS)
    run.status = Run.Status.IN_PROGRESS
    provider, model = resolve("llama3.1", run=run)
    assert isinstance(provider, OllamaProvider)
    gone, other = (east, west) if provider.host == east.host else (west, east)
    other.enqueue(Reply(content="From the other host."))
    gone.stop()

    info = provider.model_info(model)
    text = chat_text(provider, model)

    assert info.context_length
    assert text == "From the other host."
    assert provider.host == other.host
    assert run.ollama_host == other.host
    run.refresh_from_db()
    assert run.ollama_host == other.host
    assert OllamaHost.objects.get(url=gone.host).state == OllamaHost.State.DOWN


def test_a_run_streaming_from_a_host_that_dies_fails_clearly(
    both: None, east: OllamaDouble, west: OllamaDouble, new_run: Any
) -> None:
    east.enqueue(Reply(content="one two three four five six", drop_after=2))
    west.enqueue(Reply(content="one two three four five six", drop_after=2))
    provider, model = resolve("llama3.1", run=new_run())

    with pytest.raises(ProviderError) as failed:
        chat_text(provider, model)

    assert "dropped mid-answer" in failed.value.message
    # Nothing was sent elsewhere: the answer had begun on the host that died.
    assert len(east.requests_to("/api/chat")) + len(west.requests_to("/api/chat")) == 1
    # The host is taken out: the next runs go to the other one until it answers again.
    assert isinstance(provider, OllamaProvider)
    row = OllamaHost.objects.get(url=provider.host)
    assert row.state == OllamaHost.State.DOWN and "dropped mid-answer" in row.last_error


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A host whose port takes no connection (its backlog is full): connecting hangs."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        waiting = []
        for _ in range(3):  # fill the backlog; the connects beyond it time out
            sock = socket.socket()
            sock.settimeout(0.2)
            with contextlib.suppress(OSError):
                sock.connect(server.getsockname())
            waiting.append(sock)
        yield url
        for sock in waiting:
            sock.close()


# The run's watch beats it while the worker waits for a connection, from its own thread and
# connection: inside a test-wide transaction it would wait on SQLite's lock and outlive the test.
@pytest.mark.django_db(transaction=True)
def test_a_host_that_takes_no_connection_is_left_after_the_probe_timeout(
    black_hole: str, west: OllamaDouble, new_run: Any
) -> None:
    west.enqueue(Reply(content="From the host that answers."))
    settings = {
        "OLLAMA_HOSTS": [black_hole, west.host],
        "OLLAMA_TIMEOUT_SECONDS": 60.0,
        "OLLAMA_PROBE_TIMEOUT_SECONDS": 0.5,
    }
    with override_settings(**settings):
        hosts.choose("llama3.1")  # both listed the model a moment ago, as far as we know:
        OllamaHost.objects.filter(url=black_hole).update(
            state=OllamaHost.State.UP, model_names=["llama3.1:latest"], last_error=""
        )
        OllamaHost.objects.filter(url=west.host).update(model_names=[])
        run = new_run()

        started = time.monotonic()
        execute_run(run.id)

    # Well within the 60 s a slow answer is allowed: the connection itself is not waited for.
    assert time.monotonic() - started < 30
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert Message.objects.get(run=run).text == "From the host that answers."
    assert run.ollama_host == west.host
    row = OllamaHost.objects.get(url=black_hole)
    assert row.state == OllamaHost.State.DOWN and "ConnectTimeout" in row.last_error


def test_when_no_host_answers_the_run_fails_saying_so(
    both: None, east: OllamaDouble, west: OllamaDouble, new_run: Any
) -> None:
    east.stop()
    west.stop()
    provider, model = resolve("llama3.1", run=new_run())

    with pytest.raises(ProviderError) as failed:
        provider.model_info(model)

    assert "not reachable" in failed.value.message


def test_hosts_added_in_the_admin_take_runs_too(
    east: OllamaDouble, west: OllamaDouble, operator: User, new_run: Any
) -> None:
    console = Client()
    assert console.login(username="operator", password="s3cret-pass")
    east.remove_model("llama3.1")
    with override_settings(OLLAMA_HOST=east.host):
        response = console.post(
            "/admin/inference/ollamahost/add/",
            {"url": f" {west.host.removeprefix('http://')}/ ", "enabled": "on"},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        provider, _ = resolve("llama3.1", run=new_run())

    assert isinstance(provider, OllamaProvider)
    assert provider.host == west.host  # normalized as it was added: http://…, no slash
    assert OllamaHost.objects.get(url=west.host).source == OllamaHost.Source.ADMIN


def test_a_host_disabled_in_the_admin_gets_no_runs(
    both: None, east: OllamaDouble, west: OllamaDouble, operator: User
) -> None:
    hosts.choose("llama3.1")
    east_row = OllamaHost.objects.get(url=east.host)
    console = Client()
    assert console.login(username="operator", password="s3cret-pass")

    response = console.post(f"/admin/inference/ollamahost/{east_row.pk}/change/", {})

    assert response.status_code == 302
    assert OllamaHost.objects.get(pk=east_row.pk).enabled is False
    assert {hosts.choose("llama3.1") for _ in range(5)} == {west.host}
    # A host from OLLAMA_HOSTS can be disabled, not deleted: it would only come back.
    delete = console.get(f"/admin/inference/ollamahost/{east_row.pk}/delete/")
    assert delete.status_code == 403


def test_the_console_sees_each_hosts_state(
    both: None, east: OllamaDouble, west: OllamaDouble, new_run: Any
) -> None:
    west.stop()
    Run.objects.filter(pk=new_run().pk).update(status=Run.Status.IN_PROGRESS, ollama_host=east.host)

    states = {state.url: state for state in hosts.host_states(refresh_due=True)}

    assert states[east.host].state == "up" and states[east.host].busy == 1
    assert "llama3.1:latest" in states[east.host].models
    assert states[west.host].state == "down" and "ConnectError" in states[west.host].last_error
    last_seen = states[east.host].last_seen
    assert last_seen is not None and last_seen > timezone.now() - timedelta(seconds=30)


def test_a_model_pulled_since_the_last_look_is_found(
    both: None, east: OllamaDouble, west: OllamaDouble
) -> None:
    east.remove_model("llama3.1")
    west.remove_model("llama3.1")
    hosts.choose("phi3")  # both looked at: neither has llama3.1
    east.add_model("llama3.1")

    assert hosts.choose("llama3.1") == east.host


def test_passwords_in_host_urls_are_not_shown_to_anyone() -> None:
    assert hosts.public_url("http://ops:s3cret@gpu1:11434") == "http://gpu1:11434"
    assert hosts.normalize_url(" gpu1:11434/ ") == "http://gpu1:11434"


def test_the_model_list_has_every_up_hosts_models_and_the_endpoints(
    both: None, east: OllamaDouble, west: OllamaDouble, as_alice: Any
) -> None:
    east.remove_model("phi3")
    west.remove_model("qwen3")
    west.add_model("mistral")
    endpoint = {"base_url": west.openai_base_url}

    with override_settings(INFERENCE_ENDPOINTS={"gpu": endpoint}):
        listed = as_alice.get("/v1/models").json()["data"]

    owners = {m["id"]: m["owned_by"] for m in listed}
    assert {"llama3.1:latest", "qwen3:latest", "phi3:latest", "mistral:latest"} <= set(owners)
    assert [m["id"] for m in listed].count("llama3.1:latest") == 1  # on both hosts, listed once
    assert owners["llama3.1:latest"] == "ollama"
    assert owners["gpu/mistral:latest"] == "gpu"

    west.stop()  # a host that is down leaves its models out, not the list
    hosts.refresh(list(OllamaHost.objects.all()), force=True)
    ids = {m["id"] for m in as_alice.get("/v1/models").json()["data"]}
    assert "qwen3:latest" in ids and "mistral:latest" not in ids

    east.stop()
    hosts.refresh(list(OllamaHost.objects.all()), force=True)
    response = as_alice.get("/v1/models")
    assert response.status_code == 502
    assert "not reachable" in response.json()["error"]["message"]


def test_with_one_host_a_run_goes_there_without_asking_it_first(
    east: OllamaDouble, new_run: Any
) -> None:
    with override_settings(OLLAMA_HOST=east.host, OLLAMA_HOSTS=[]):
        run = new_run()
        provider, _ = resolve("llama3.1", run=run)
        assert isinstance(provider, OllamaProvider) and provider.host == east.host
        execute_run(run.id)

    assert east.requests_to("/api/tags") == []  # nothing to choose: no probe before the answer
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.ollama_host == east.host


def test_a_slow_host_fails_the_run_but_stays_in_routing(
    both: None, east: OllamaDouble, west: OllamaDouble, new_run: Any
) -> None:
    for double in (east, west):
        double.enqueue(Reply(content="late", delay_before_first_token=3.0))
    with override_settings(OLLAMA_TIMEOUT_SECONDS=0.5):
        provider, model = resolve("llama3.1", run=new_run())
        with pytest.raises(ProviderError) as failed:
            chat_text(provider, model)

    assert "did not begin its answer (/api/chat) within 0.5s" in failed.value.message
    assert isinstance(provider, OllamaProvider)
    # Slow (a cold load, a long prompt) is not down: the host keeps its place in routing.
    assert OllamaHost.objects.get(url=provider.host).state == OllamaHost.State.UP


def test_errors_never_show_a_hosts_password(east: OllamaDouble, db: None) -> None:
    port = east.host.rsplit(":", 1)[1]
    with_password = f"http://ops:hunter2@127.0.0.1:{port}"
    with socket.socket() as free:  # a port nothing listens on once closed
        free.bind(("127.0.0.1", 0))
        dead = f"http://ops:hunter2@127.0.0.1:{free.getsockname()[1]}"

    with pytest.raises(ProviderError) as missing:
        OllamaProvider(with_password).model_info("no-such-model")
    with pytest.raises(ProviderError) as unreachable:
        OllamaProvider(dead).model_info("llama3.1")

    assert f"not available on http://127.0.0.1:{port}" in missing.value.message
    assert "not reachable at http://127.0.0.1:" in unreachable.value.message
    for error in (missing.value, unreachable.value):
        assert "hunter2" not in error.message and "ops:" not in error.message
