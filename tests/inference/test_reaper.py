"""The reaper ends runs nobody works on any more, and expires runs that waited too long."""

from datetime import timedelta
from typing import Any

from django.utils import timezone

from entities.models import Message, Run, RunStep
from inference.reaper import WORKER_LOST, reap


def silent_for(run: Run, seconds: float) -> None:
    Run.objects.filter(pk=run.pk).update(
        status="in_progress",
        started_at=timezone.now() - timedelta(seconds=seconds),
        heartbeat_at=timezone.now() - timedelta(seconds=seconds),
        attempts=1,
    )


def test_a_silent_run_that_streamed_fails_with_its_partial_message(make_run: Any) -> None:
    run = make_run()
    silent_for(run, 120)
    message = Message.objects.create(
        thread=run.thread, role="assistant", run=run, status="in_progress", content=[]
    )
    RunStep.objects.create(run=run, type="message_creation", step_details={})
    run.events.create(seq=99, event="thread.message.delta", data="{}")
    assert reap()["failed"] == 1
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.last_error == {"code": "server_error", "message": WORKER_LOST}
    message.refresh_from_db()
    assert (message.status, message.incomplete_details) == ("incomplete", {"reason": "run_failed"})
    assert run.steps.get().status == "failed"
    assert run.events.order_by("-seq").first().event == "thread.run.failed"
    assert reap()["failed"] == 0  # done once


def test_a_silent_run_that_said_nothing_is_queued_again_once(make_run: Any) -> None:
    run = make_run()
    silent_for(run, 120)
    assert reap()["queued"] == 1
    run.refresh_from_db()
    assert run.status == "queued"
    # the second time it is lost, it fails
    silent_for(run, 120)
    Run.objects.filter(pk=run.pk).update(attempts=2)
    assert reap()["failed"] == 1


def test_a_run_whose_deltas_were_sent_but_not_yet_stored_is_not_repeated(make_run: Any) -> None:
    # The first token opened the answer and went out live; the worker died before the batch
    # of deltas was written. Running it again would say that text twice.
    run = make_run()
    silent_for(run, 120)
    message = Message.objects.create(
        thread=run.thread, role="assistant", run=run, status="in_progress", content=[]
    )
    assert not run.events.filter(event="thread.message.delta").exists()
    assert reap()["failed"] == 1
    run.refresh_from_db()
    assert run.status == "failed"
    message.refresh_from_db()
    assert message.status == "incomplete"


def test_a_run_whose_message_creation_was_announced_is_not_repeated(make_run: Any) -> None:
    run = make_run()
    silent_for(run, 120)
    run.events.create(seq=7, event="thread.message.created", data="{}")
    assert reap()["failed"] == 1


def test_a_live_run_is_left_alone(make_run: Any) -> None:
    run = make_run()
    silent_for(run, 1)
    assert reap() == {"queued": 0, "failed": 0, "cancelled": 0, "expired": 0}
    run.refresh_from_db()
    assert run.status == "in_progress"


def test_a_lost_run_being_cancelled_ends_cancelled(make_run: Any) -> None:
    run = make_run()
    silent_for(run, 120)
    Run.objects.filter(pk=run.pk).update(status="cancelling")
    assert reap()["cancelled"] == 1
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_runs_waiting_past_expires_at_expire(make_run: Any) -> None:
    run = make_run()
    Run.objects.filter(pk=run.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert reap()["expired"] == 1
    run.refresh_from_db()
    assert run.status == "expired"
    assert run.events.order_by("-seq").first().event == "thread.run.expired"
