"""When the database is away: which errors say so, and doing a unit of work again on a new
connection.

PostgreSQL ends connections under a run (a failover, ``pg_terminate_backend``, a PgBouncer
restart) and SQLite refuses writes (a read-only or full disk): the driver raises
``OperationalError`` or ``InterfaceError``. Neither is a bug of the request or the run, and
either is gone once the database (or a new connection to it) answers again.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection, transaction

log = logging.getLogger(__name__)

UNAVAILABLE = (OperationalError, InterfaceError)
# Between two attempts of a unit of work.
RETRY_PAUSE_SECONDS = 0.5

T = TypeVar("T")


def again_on_new_connection(
    work: Callable[[], T],
    *,
    patience: float,
    what: str,
    undo: Callable[[], None] | None = None,
    writes: bool = True,
) -> T:
    """``work`` (a read, or writes in one transaction), done again on a new connection while
    the database answers with an ``UNAVAILABLE`` error, for up to ``patience`` seconds; then
    the last error is raised.

    A failed transaction committed nothing, so doing it again is safe once ``undo`` has put
    back what the attempt changed in memory. Inside a caller's transaction ``work`` is done
    once: the caller's transaction is the unit to do again. A read (``writes=False``) takes
    no transaction: under SQLite one would take the write lock.
    """
    if connection.in_atomic_block:
        return work()
    deadline = time.monotonic() + patience
    while True:
        try:
            if not writes:
                return work()
            with transaction.atomic():
                return work()
        except UNAVAILABLE as exc:
            if undo is not None:
                undo()
            connection.close()  # the next attempt opens a new one
            if time.monotonic() >= deadline:
                raise
            log.warning("%s failed on the database (%s); trying again", what, exc)
            time.sleep(RETRY_PAUSE_SECONDS)
