"""Queued runs whose task was lost with the worker that held it.

django-q2's Redis broker gives a task to a cluster when the cluster's pusher takes it off the
list; a cluster killed with tasks in hand (``kill -9``, out of memory, power) loses them, and
their runs would wait, queued, until they expire. Its running runs are the reaper's; the ones
it only held are found here: queued for longer than ``RUN_REDELIVER_SECONDS`` while the broker's
queue is empty, and not held: a worker asking the model before its claim keeps the queued
run's heartbeat fresh (``inference.watch``), however long the model takes to answer. Each is
enqueued again. If its task was only waiting in a busy cluster after all, the copy is
harmless: the engine claims a run once, and a delivery of a held run leaves it to its holder.

A django-q2 schedule (migration ``inference/0002``) calls ``redeliver_lost_runs`` every minute.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone
from django_q.brokers import get_broker

from entities.models import Run

from .tasks import enqueue_run
from .watch import stale_before

log = logging.getLogger(__name__)

SCHEDULE_NAME = "Entities: requeue runs whose worker was lost"


def lost_runs() -> list[str]:
    """Runs queued too long (since their last event), held by no worker, while no task waits
    in the broker."""
    if get_broker().queue_size():
        return []  # their task may be in that queue; once it drains we look again
    cutoff = timezone.now() - timedelta(seconds=settings.RUN_REDELIVER_SECONDS)
    waiting = (
        Run.objects.filter(status=Run.Status.QUEUED)
        .annotate(since=Max("events__created_at"))
        .filter(Q(since__lt=cutoff) | Q(since__isnull=True, created_at__lt=cutoff))
        .exclude(heartbeat_at__gte=stale_before())
    )
    return list(waiting.values_list("id", flat=True))


def redeliver_lost_runs() -> int:
    """Enqueue every lost run again; how many."""
    runs = lost_runs()
    for run_id in runs:
        log.warning("Run %s waited queued with no task left in the broker: enqueued again", run_id)
        enqueue_run(run_id)
    return len(runs)
