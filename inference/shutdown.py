"""A worker process told to stop (SIGTERM) hands its run back at once, then exits.

django-q2 stops a cluster gracefully when its main process gets SIGTERM (systemd's
``KillMode=mixed``): it takes no more tasks and waits for its worker processes to finish the
runs they execute. A worker process itself, though, dies on SIGTERM (the signal's default), as
each does when the whole process group is signalled (honcho under ``make run``, a container
runtime, systemd's default ``KillMode``): its run stayed ``in_progress`` until the reaper,
``RUN_STALE_SECONDS`` later, blamed a crash. Each worker process (``post_spawn``) takes SIGTERM
here instead:

- idle, it exits;
- in a task, the task's work stops where it is (``WorkerStopping``, raised in the main thread
  like django-q2's own timeout), and the run is handed back as the reaper would, but at once
  and saying why: queued again if nothing was said yet, else ``failed``, its message kept as it
  was shown (every delta a client saw is stored: ``inference.events``); a run it had not
  claimed yet is enqueued again. Then the process exits, and its cluster starts another if it
  goes on.
"""

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from django.db import close_old_connections, connection

from entities.models import Run

from . import live

log = logging.getLogger(__name__)

# How long handing the run back may take before the process exits anyway (the reaper then).
HAND_BACK_SECONDS = 10.0

WORKER_STOPPED = (
    "The worker running this run was told to stop (SIGTERM) before it finished, as when the "
    "server shuts down or restarts. Start the run again."
)


class WorkerStopping(BaseException):
    """Raised in a worker's main thread by SIGTERM: not an ``Exception``, so that nothing on
    the way (the engine's own error handling) takes it for the run's failure."""


_stopping = False
_task: str | None = None  # the run of the task under way
_claimed: str | None = None  # the run this process claimed in that task


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _stopping
    if _stopping:
        return  # already on the way out
    _stopping = True
    if _task is None:
        raise SystemExit(0)
    raise WorkerStopping


def on_worker_spawn(**kwargs: Any) -> None:
    """django-q2's ``post_spawn``, in each new worker process (its main thread)."""
    signal.signal(signal.SIGTERM, _on_sigterm)


def executing(run_id: str) -> None:
    """The engine claimed ``run_id``: a stop from now on hands it back."""
    global _claimed
    if run_id == _task:
        _claimed = run_id


@contextmanager
def task(run_id: str) -> Iterator[None]:
    """Around a task for ``run_id``: if the worker is told to stop meanwhile, the run is handed
    back and the process exits (``SystemExit``)."""
    global _task, _claimed
    try:
        _task, _claimed = run_id, None
        yield
    except WorkerStopping:
        claimed = _claimed == run_id
        _task = None
        _hand_back(run_id, claimed=claimed)
        raise SystemExit(0) from None
    finally:
        _task = None


def _hand_back(run_id: str, *, claimed: bool) -> None:
    """End or requeue the run, from a thread of its own: the main thread's database connection
    may have been stopped in the middle of a transaction."""

    def work() -> None:
        from .reaper import release
        from .tasks import enqueue_run

        try:
            close_old_connections()
            if claimed:
                outcome = release(run_id, why=WORKER_STOPPED)
                log.warning("Run %s: its worker was stopped (SIGTERM): %s", run_id, outcome)
            # Its task was this one, which ends here. Not held any more (a heartbeat while
            # it waited for the model would make the next delivery leave it to us).
            elif Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(heartbeat_at=None):
                enqueue_run(run_id)
                log.warning("Run %s: its worker was stopped before it began: requeued", run_id)
        except Exception:
            log.exception("Run %s: could not hand it back; the reaper will", run_id)
        finally:
            connection.close()
            live.wait_sent(HAND_BACK_SECONDS)  # its events reach the clients before we exit

    thread = threading.Thread(target=work, name=f"hand-back-{run_id}", daemon=True)
    thread.start()
    thread.join(HAND_BACK_SECONDS)
