"""Runs whose task died with a killed worker (it held them, had not started them) come back."""

import importlib
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.test import override_settings
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule

from entities.models import Run, RunEvent
from inference.engine import execute_run
from inference.redelivery import SCHEDULE_NAME, redeliver_lost_runs
from inference.testing.ollama_double import OllamaDouble


@pytest.fixture
def broker() -> Iterator[Any]:
    """The broker with no task waiting (under make test-team, Redis outlives a test)."""
    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


def queued_since(run: Run, seconds: float) -> None:
    then = timezone.now() - timedelta(seconds=seconds)
    Run.objects.filter(pk=run.pk).update(created_at=then)
    RunEvent.objects.filter(run=run).update(created_at=then)


@override_settings(RUN_REDELIVER_SECONDS=60)
def test_a_run_queued_too_long_with_no_task_waiting_is_enqueued_again(
    make_run: Any, broker: Any
) -> None:
    lost = make_run()  # in a test transaction, its task never reaches the broker: lost
    queued_since(lost, 90)

    assert redeliver_lost_runs() == 1
    assert broker.queue_size() == 1
    # Its task now waits in the broker: nothing more is sent until the queue drains.
    assert redeliver_lost_runs() == 0


@override_settings(RUN_REDELIVER_SECONDS=60)
def test_runs_queued_a_short_while_or_running_are_left_alone(make_run: Any, broker: Any) -> None:
    recent = make_run()
    queued_since(recent, 10)
    assert redeliver_lost_runs() == 0
    Run.objects.filter(pk=recent.pk).update(status=Run.Status.IN_PROGRESS)
    queued_since(recent, 90)
    assert redeliver_lost_runs() == 0
    assert broker.queue_size() == 0


@pytest.mark.django_db(transaction=True)  # the run's watch beats it from its own thread
@override_settings(
    RUN_REDELIVER_SECONDS=2,
    RUN_HEARTBEAT_SECONDS=0.5,
    OLLAMA_LOOKUP_TIMEOUT_SECONDS=6,
    OLLAMA_TIMEOUT_SECONDS=6,
)
def test_a_run_whose_worker_waits_on_a_hung_ollama_is_held_not_enqueued_again(
    ollama: OllamaDouble, make_run: Any, broker: Any
) -> None:
    # An Ollama that takes connections and never answers: the worker waits on the model's
    # lookup before it can claim the run, which stays queued all that time.
    ollama.hang()
    run = make_run()
    broker.purge_queue()  # its task is the worker's below
    worker = threading.Thread(target=execute_run, args=(run.id,))
    worker.start()
    ollama.wait_for_requests(1, "/api/show", timeout=30)
    held = Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED, heartbeat_at__isnull=False)
    while not held.exists():
        worker.join(0.05)  # its watch's first beat: held from now on
        assert worker.is_alive(), "the run was never held while its worker waited"
    last_event = run.events.order_by("-seq").values_list("created_at", flat=True)[0]
    overdue = 0  # looks while it was queued past RUN_REDELIVER_SECONDS
    while worker.is_alive():
        assert redeliver_lost_runs() == 0
        overdue += timezone.now() - last_event > timedelta(seconds=2)
        # Another delivery of its task meanwhile leaves it to its holder at once.
        execute_run(run.id)
        worker.join(0.5)
    assert overdue >= 1 and broker.queue_size() == 0
    assert len(ollama.requests_to("/api/show")) == 1  # one worker ever waited on it
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.last_error["message"] == (
        f"Ollama at {ollama.host} did not answer the model lookup (/api/show of 'llama3.1') "
        "within 6s (OLLAMA_LOOKUP_TIMEOUT_SECONDS)."
    )
    # Its worker gone, its heartbeat goes stale: a run held by nobody is found again.
    Run.objects.filter(pk=run.pk).update(status=Run.Status.QUEUED)
    queued_since(run, 90)
    with override_settings(RUN_STALE_SECONDS=0):
        assert redeliver_lost_runs() == 1


def test_a_migration_has_the_workers_look_for_lost_runs_every_minute(db: None) -> None:
    # Run again here: a transactional test elsewhere may have flushed what migrations made.
    migration = importlib.import_module("inference.migrations.0002_redelivery_schedule")
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)  # and again, as a re-run migration would

    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert schedule.func == "inference.redelivery.redeliver_lost_runs"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 1, -1)
