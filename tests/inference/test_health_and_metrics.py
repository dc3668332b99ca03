"""What an operator watches: /health (dependencies, workers, each Ollama host) and /metrics."""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client, override_settings
from django_q.brokers import get_broker
from prometheus_client.parser import text_string_to_metric_families

from entities.models import Run
from entities.services.threads import thread_delete
from inference.engine import execute_run
from inference.metrics import count_sandbox_execution
from inference.tasks import enqueue_run
from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import Stack


def health() -> tuple[int, dict[str, Any]]:
    response = Client().get("/health")
    return response.status_code, response.json()


def metrics() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of /metrics by name and labels, parsed as Prometheus parses it."""
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


# --- /health -----------------------------------------------------------------------------------


def test_health_reports_broker_channel_layer_workers_and_each_ollama_host(
    db: None,
    ollama: OllamaDouble,
) -> None:
    status, body = health()

    assert status == 200 and body["status"] == "ok"
    assert body["broker"]["status"] == "ok"
    assert body["broker"]["kind"] in {"ORM", "Redis"}
    assert body["channel_layer"]["status"] == "ok"
    assert body["workers"] == {"status": "none", "clusters": 0, "workers": 0}  # none here
    (host,) = body["ollama"]["hosts"]
    assert (host["url"], host["state"], body["ollama"]["status"]) == (ollama.host, "up", "ok")
    assert "llama3.1:latest" in host["models"]


def test_health_names_an_ollama_host_that_is_down_without_failing(db: None) -> None:
    with OllamaDouble() as gone:
        url = gone.host
    with override_settings(OLLAMA_HOST=url):
        status, body = health()

    assert status == 200  # this process still serves; runs fail with a clear error
    (host,) = body["ollama"]["hosts"]
    assert (host["state"], host["last_error"], body["ollama"]["status"]) == (
        "down",
        "ConnectError",  # its kind only: anyone may ask
        "error",
    )


def test_health_is_an_error_when_the_channel_layer_is_unreachable(db: None) -> None:
    layer = {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"}
    layer["CONFIG"] = {"hosts": ["redis://127.0.0.1:1/0"]}  # type: ignore[assignment]
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        status, body = health()

    assert status == 503 and body["status"] == "error"
    assert body["channel_layer"]["status"] == "error"
    assert body["database"]["status"] == "ok"


# --- /metrics ----------------------------------------------------------------------------------


@pytest.fixture
def empty_broker() -> Iterator[None]:
    """No task waiting in the broker (under make test-team, Redis outlives a test)."""
    get_broker().purge_queue()
    yield
    get_broker().purge_queue()


def test_metrics_count_runs_tokens_and_time_to_first_token(
    db: None,
    ollama: OllamaDouble,
    make_run: Any,
) -> None:
    ollama.enqueue(Reply(content="One two three.", prompt_eval_count=11, eval_count=3))
    ollama.enqueue(Reply(content="Four five.", prompt_eval_count=13, eval_count=2))
    for text in ("first", "second"):
        run = make_run(text)
        execute_run(run.id)
        assert Run.objects.get(pk=run.pk).status == Run.Status.COMPLETED
    make_run("third")  # queued

    figures = metrics()

    assert figures["entities_runs"][(("status", "completed"),)] == 2
    assert figures["entities_runs"][(("status", "queued"),)] == 1
    assert figures["entities_tokens_total"][(("kind", "prompt"),)] == 24
    assert figures["entities_tokens_total"][(("kind", "completion"),)] == 5
    ttft = figures["entities_run_time_to_first_token_seconds_bucket"]
    assert ttft[(("le", "+Inf"),)] == 2
    assert ttft[(("le", "30.0"),)] == 2  # in-process against the double: well under 30 s
    assert ttft[(("le", "0.1"),)] <= ttft[(("le", "1.0"),)] <= 2
    assert figures["entities_run_time_to_first_token_seconds_sum"][()] > 0
    duration = figures["entities_run_duration_seconds_count"][()]
    assert duration == 2


def test_deleting_a_thread_takes_nothing_back_from_the_counters(
    db: None,
    ollama: OllamaDouble,
    make_run: Any,
    thread: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Prometheus reads any decrease of a counter as a restart and miscounts the rate.
    ollama.enqueue(Reply(content="One two three.", prompt_eval_count=11, eval_count=3))
    execute_run(make_run("first").id)
    before = metrics()

    with django_capture_on_commit_callbacks(execute=True):  # as when the delete commits
        thread_delete(thread=thread)
    after = metrics()

    assert not Run.objects.exists()
    for name in (
        "entities_tokens_total",
        "entities_run_time_to_first_token_seconds_bucket",
        "entities_run_time_to_first_token_seconds_count",
        "entities_run_time_to_first_token_seconds_sum",
        "entities_run_duration_seconds_bucket",
        "entities_run_duration_seconds_count",
        "entities_run_duration_seconds_sum",
    ):
        assert after[name] == pytest.approx(before[name]), name
    assert after["entities_tokens_total"][(("kind", "prompt"),)] == 11
    assert after["entities_run_duration_seconds_count"][()] == 1
    assert after["entities_runs"][(("status", "completed"),)] == 0  # a gauge: it follows the runs


def test_metrics_count_sandbox_executions_and_the_broker_queue(
    db: None, empty_broker: None
) -> None:
    count_sandbox_execution()
    count_sandbox_execution()
    count_sandbox_execution("timeout")
    enqueue_run("run_that_waits")

    figures = metrics()

    executions = figures["entities_sandbox_executions_total"]
    assert executions == {(("outcome", "ok"),): 2, (("outcome", "timeout"),): 1}
    assert figures["entities_task_queue_depth"][()] == 1
    assert figures["entities_workers"][()] == 0


def test_a_running_server_sees_its_worker_and_its_ollama(
    stack: Stack, double: OllamaDouble
) -> None:
    """Embedded mode too: the worker's heartbeat reaches the web process (through DATA_DIR)."""
    deadline = time.monotonic() + 30
    seen = {"status": "ok", "clusters": 1, "workers": 2}
    # A cluster's first heartbeat may come before its worker processes are counted in it.
    while (body := httpx.get(f"{stack.url}/health", timeout=10).json())["workers"] != seen:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)

    assert body["workers"] == {"status": "ok", "clusters": 1, "workers": 2}
    assert (body["broker"]["kind"], body["channel_layer"]["kind"]) == (
        "ORM",
        "EmbeddedChannelLayer",
    )
    (host,) = body["ollama"]["hosts"]
    assert (host["url"], host["state"]) == (double.host, "up")
