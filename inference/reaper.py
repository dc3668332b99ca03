"""Runs nobody is working on any more: their worker died, or they waited past ``expires_at``.

Called every few seconds by each web process (``inference.background``); every change is a
conditional update on the run's row, so several reapers at once do each thing once.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from entities.database import UNAVAILABLE
from entities.models import Message, Run, RunStep

from . import events as ev

log = logging.getLogger(__name__)

WORKER_LOST = (
    "The worker running this run stopped before it finished (killed or crashed). "
    "Start the run again; if this repeats, check the worker's logs and memory."
)


# When a pass of this process's reaper last failed on the database (monotonic seconds). Its
# workers could not beat either: a run is judged lost again only RUN_STALE_SECONDS after.
_database_failed_at: float | None = None


def release(run_id: str, *, why: str) -> str | None:
    """End (or requeue) a running run its worker gives up as it stops, as the reaper would,
    at once and with ``why`` as its ``last_error``; the outcome."""
    return _reap_one(run_id, why=why, stale_only=False)


def _reap_one(run_id: str, *, why: str = WORKER_LOST, stale_only: bool = True) -> str | None:
    from .tasks import enqueue_run

    now = timezone.now()
    stale = now - timedelta(seconds=settings.RUN_STALE_SECONDS)
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status not in (Run.Status.IN_PROGRESS, Run.Status.CANCELLING):
            return None
        if stale_only and run.heartbeat_at is not None and run.heartbeat_at >= stale:
            return None  # it came back to life meanwhile
        # "Nothing streamed": no message was opened (the first token opens it, in the commit
        # that stores it, before any client sees it).
        streamed = (
            run.messages.filter(role=Message.Role.ASSISTANT).exists()
            or run.events.filter(event="thread.message.created").exists()
        )
        events = []
        open_messages = run.messages.filter(status=Message.Status.IN_PROGRESS)
        open_steps = run.steps.filter(status=RunStep.Status.IN_PROGRESS)
        if run.status == Run.Status.CANCELLING:
            outcome, reason = Run.Status.CANCELLED, "run_cancelled"
            run.cancelled_at = now
        elif not streamed and run.attempts < 2:
            outcome, reason = Run.Status.QUEUED, None
        else:
            outcome, reason = Run.Status.FAILED, "run_failed"
            run.failed_at = now
            run.last_error = {"code": "server_error", "message": why}
        for message in open_messages:
            if reason is None:
                message.delete()  # nothing was said; the retry starts a fresh message
                continue
            message.status = Message.Status.INCOMPLETE
            message.incomplete_at = now
            message.incomplete_details = {"reason": reason}
            message.save()
            events.append(ev.message_event(message, "incomplete"))
        step_status = (
            RunStep.Status.CANCELLED if outcome == Run.Status.CANCELLED else RunStep.Status.FAILED
        )
        for step in open_steps:
            if reason is None:
                step.delete()
                continue
            step.status = step_status
            setattr(step, f"{step_status}_at", now)
            step.save()
            events.append(ev.step_event(step, step_status))
        run.status = outcome
        run.heartbeat_at = None
        run.save()
        events.append(ev.run_event(run))
        ev.record_events(run, events)
        if outcome == Run.Status.QUEUED:
            transaction.on_commit(lambda: enqueue_run(run_id))
    return outcome


def _expire_one(run_id: str) -> bool:
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        waiting = (Run.Status.QUEUED, Run.Status.REQUIRES_ACTION)
        if run is None or run.status not in waiting or not run.expires_at or run.expires_at > now:
            return False
        run.status = Run.Status.EXPIRED
        run.required_action = None
        run.save(update_fields=["status", "required_action"])
        events = []
        for step in run.steps.filter(status=RunStep.Status.IN_PROGRESS):
            step.status = RunStep.Status.EXPIRED
            step.expired_at = now
            step.save(update_fields=["status", "expired_at"])
            events.append(ev.step_event(step, "expired"))
        events.append(ev.run_event(run))
        ev.record_events(run, events)
    return True


def reap() -> dict[str, int]:
    """One pass; returns how many runs it requeued, failed, cancelled and expired."""
    global _database_failed_at
    try:
        return _reap()
    except UNAVAILABLE:
        _database_failed_at = time.monotonic()
        raise


def _reap() -> dict[str, int]:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.RUN_STALE_SECONDS)
    counts = {"queued": 0, "failed": 0, "cancelled": 0, "expired": 0}
    lost = Run.objects.filter(status__in=(Run.Status.IN_PROGRESS, Run.Status.CANCELLING)).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale)
    )
    # A heartbeat missed while the database was away says nothing of the worker, which stores
    # the run's end itself once the database is back (``engine.Turn.fail``). Until the
    # database has taken writes for RUN_STALE_SECONDS (their heartbeats again), the pass
    # only writes to learn whether it can: a write that fails moves that window on.
    recovering = (
        _database_failed_at is not None
        and time.monotonic() - _database_failed_at < settings.RUN_STALE_SECONDS
    )
    if recovering:
        lost.update(heartbeat_at=F("heartbeat_at"))
    for run_id in () if recovering else lost.values_list("id", flat=True):
        if outcome := _reap_one(run_id):
            counts[outcome] += 1
            log.warning("Reaped run %s: %s", run_id, outcome)
    overdue = Run.objects.filter(
        status__in=(Run.Status.QUEUED, Run.Status.REQUIRES_ACTION), expires_at__lte=now
    )
    for run_id in overdue.values_list("id", flat=True):
        if _expire_one(run_id):
            counts["expired"] += 1
    return counts
