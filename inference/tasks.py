"""django-q2 tasks: just another interface to the engine. They take an id and reload the row."""

from django.conf import settings
from django_q.tasks import async_task


def enqueue_run(run_id: str) -> None:
    async_task(
        "inference.tasks.execute_run",
        run_id,
        task_name=f"run {run_id}",
        q_options={"timeout": settings.RUN_TIMEOUT_SECONDS, "ack_failure": True},
    )


def execute_run(run_id: str) -> None:
    from .engine import execute_run as execute

    execute(run_id)
