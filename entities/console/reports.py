"""What the console shows about runs: the active ones, recent failures, usage over a period."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, IntegerField, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from entities.models import Run, RunEvent
from inference.hosts import public_url


def _who(run: Run) -> str:
    return run.created_by.name if run.created_by else "(deleted user)"


def active_runs() -> list[dict[str, Any]]:
    """Runs not yet ended, oldest first, with how many tokens they have streamed so far.

    Tokens so far are the stored deltas (one per token from Ollama, written every 100 ms);
    ``usage`` only arrives when a round of the model ends.
    """
    runs = list(
        Run.objects.filter(status__in=Run.ACTIVE_STATUSES)
        .select_related("assistant", "created_by")
        .order_by("created_at")
    )
    deltas = dict(
        RunEvent.objects.filter(run__in=[r.id for r in runs], event="thread.message.delta")
        .values("run")
        .annotate(n=Count("id"))
        .values_list("run", "n")
    )
    now = timezone.now()
    return [
        {
            "id": run.id,
            "thread_id": run.thread_id,
            "status": run.status,
            "model": run.model,
            "ollama_host": public_url(run.ollama_host) if run.ollama_host else "",
            "assistant": str(run.assistant) if run.assistant else "",
            "user": _who(run),
            "tokens": max(deltas.get(run.id, 0), (run.usage or {}).get("completion_tokens", 0)),
            "elapsed_seconds": round((now - (run.started_at or run.created_at)).total_seconds()),
            "started": run.started_at is not None,
        }
        for run in runs
    ]


def recent_failures(limit: int = 50) -> QuerySet[Run]:
    return (
        Run.objects.filter(status=Run.Status.FAILED)
        .select_related("assistant", "created_by")
        .order_by("-failed_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class UsageRow:
    name: str
    detail: str
    runs: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _tokens(key: str) -> Coalesce:
    return Coalesce(Sum(Cast(KeyTextTransform(key, "usage"), IntegerField())), 0)


def usage(since: datetime | None, until: datetime | None) -> dict[str, list[UsageRow]]:
    """Runs and tokens (from each run's ``usage``) per user and per assistant, runs created
    in ``[since, until)``; most tokens first."""
    runs = Run.objects.all()
    if since is not None:
        runs = runs.filter(created_at__gte=since)
    if until is not None:
        runs = runs.filter(created_at__lt=until)

    def grouped(*fields: str) -> list[dict[str, Any]]:
        rows = runs.values(*fields).annotate(
            n=Count("id"), prompt=_tokens("prompt_tokens"), completion=_tokens("completion_tokens")
        )
        return sorted(rows, key=lambda r: (-(r["prompt"] + r["completion"]), -r["n"]))

    by_user = [
        UsageRow(
            name=r["created_by__name"] or "(deleted user)",
            detail=r["created_by"] or "",
            runs=r["n"],
            prompt_tokens=r["prompt"],
            completion_tokens=r["completion"],
        )
        for r in grouped("created_by", "created_by__name")
    ]
    by_assistant = [
        UsageRow(
            name=r["assistant__name"] or r["assistant"] or "(deleted assistant)",
            detail=r["assistant__model"] or "",
            runs=r["n"],
            prompt_tokens=r["prompt"],
            completion_tokens=r["completion"],
        )
        for r in grouped("assistant", "assistant__name", "assistant__model")
    ]
    return {"users": by_user, "assistants": by_assistant}
