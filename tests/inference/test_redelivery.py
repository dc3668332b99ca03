"""Runs whose task died with a killed worker (it held them, had not started them) come back."""

import importlib
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
from inference.redelivery import SCHEDULE_NAME, redeliver_lost_runs


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


def test_a_migration_has_the_workers_look_for_lost_runs_every_minute(db: None) -> None:
    # Run again here: a transactional test elsewhere may have flushed what migrations made.
    migration = importlib.import_module("inference.migrations.0002_redelivery_schedule")
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)  # and again, as a re-run migration would

    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert schedule.func == "inference.redelivery.redeliver_lost_runs"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 1, -1)
