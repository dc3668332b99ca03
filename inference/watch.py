"""A thread beside each executing run: its heartbeat, and its ear for a cancel.

It starts before the run is claimed, while the worker asks the model (docs/runs.md): a run
still ``queued`` whose heartbeat is fresh is held by a live worker, and is neither enqueued
again (``inference.redelivery``) nor taken by another delivery of its task.
"""

import logging
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from entities.models import Run
from tools.sandbox.supervise import Cancellation

from . import shutdown
from .providers import ChatStream

log = logging.getLogger(__name__)


def stale_before() -> datetime:
    """A heartbeat older than this is a lost worker's; a newer one is a live worker's."""
    return timezone.now() - timedelta(seconds=settings.RUN_STALE_SECONDS)


BEATING = (Run.Status.IN_PROGRESS, Run.Status.CANCELLING)


class RunWatch(threading.Thread):
    """Beats the run's heart and notices a cancel while the worker waits on the model.

    On a cancel it closes the model's stream, which ends the worker's read of it at once.
    """

    def __init__(self, run_id: str) -> None:
        super().__init__(name=f"watch-{run_id}", daemon=True)
        self.run_id = run_id
        self.cancelled = threading.Event()
        self._stream: ChatStream | None = None
        self._code: Cancellation | None = None
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._claimed = False
        # Until the claim the first beat waits RUN_HEARTBEAT_SECONDS: a run claimed sooner (as
        # nearly all are, in milliseconds) costs no write, and is not watched for a cancel
        # (a queued run's cancel ends it at once).
        self._last_beat = time.monotonic()

    def claimed(self) -> None:
        """The run is this worker's now (in progress; its claim wrote a heartbeat): beat it
        as such, and look for a cancel. Until then only a queued run is beaten (held), never
        one another delivery took or that ended."""
        self._last_beat = time.monotonic()
        self._claimed = True
        shutdown.executing(self.run_id)  # the run is this worker's: a SIGTERM hands it back

    def attach(self, stream: ChatStream) -> None:
        with self._lock:
            self._stream = stream
            if self.cancelled.is_set():
                stream.close()

    def attach_code(self, cancel: Cancellation | None) -> None:
        """The code interpreter's execution under way (None when it ended)."""
        with self._lock:
            self._code = cancel
            if cancel is not None and self.cancelled.is_set():
                cancel.set()

    def run(self) -> None:
        try:
            while not self._halt.wait(settings.RUN_CANCEL_CHECK_SECONDS):
                now = time.monotonic()
                query = Run.objects.filter(pk=self.run_id)
                claimed = self._claimed
                try:
                    if now - self._last_beat >= settings.RUN_HEARTBEAT_SECONDS:
                        # Once it waits (requires_action) it is no longer this worker's.
                        held = BEATING if claimed else (Run.Status.QUEUED,)
                        query.filter(status__in=held).update(heartbeat_at=timezone.now())
                        self._last_beat = now
                    cancelling = claimed and query.filter(status=Run.Status.CANCELLING).exists()
                except DatabaseError:
                    # A passing database error must not end the heartbeat (the reaper would
                    # take a live run for a lost one): try again at the next tick.
                    log.warning(
                        "Run %s: heartbeat or cancel check failed", self.run_id, exc_info=True
                    )
                    close_old_connections()
                    continue
                if cancelling:
                    with self._lock:
                        self.cancelled.set()
                        if self._stream is not None:
                            self._stream.close()
                        if self._code is not None:
                            self._code.set()
                    return
        finally:
            connection.close()  # this thread's own: workers keep connections, threads do not

    def stop(self) -> None:
        """Stop watching, and wait for the thread (it must not outlive the run's work)."""
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)
