"""django-q2 tasks: just another interface to the engine. They take an id and reload the row."""

from functools import cache

from django.conf import settings
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task


@cache
def _broker() -> Broker:
    # django-q2 builds a broker (with a new Redis connection) for every task unless it is
    # given one: ~4 ms of every run's time to first token. redis-py's pool is thread-safe
    # and reconnects after a fork; the ORM broker keeps no connection of its own.
    return get_broker()


def enqueue_run(run_id: str) -> None:
    async_task(
        "inference.tasks.execute_run",
        run_id,
        task_name=f"run {run_id}",
        q_options={
            "timeout": settings.RUN_TIMEOUT_SECONDS,
            "ack_failure": True,
            "broker": _broker(),
        },
    )


def execute_run(run_id: str) -> None:
    from . import shutdown
    from .engine import execute_run as execute

    with shutdown.task(run_id):
        execute(run_id)
