"""``/metrics``: Prometheus text format, computed from the database at each scrape.

The figures are the database's, not the answering process's, so every web process gives the
same answer and a scrape through the load balancer is as good as one of each process. What
happens in short-lived worker processes (sandbox executions) is counted in the database too
(``MetricCounter``). Counters and histograms never go down: what a run added to them is kept
in ``MetricCounter`` when the run is deleted (with its thread), and still counted.

- ``entities_runs{status}``: runs by status (``queued`` ones wait for a worker).
- ``entities_task_queue_depth``: tasks waiting in the broker.
- ``entities_workers``: worker processes in the clusters whose heartbeat is there.
- ``entities_tokens_total{kind}``: prompt and completion tokens of every run.
- ``entities_run_time_to_first_token_seconds``: from a run's creation (so with its wait in
  the queue) to its first answer token; a histogram.
- ``entities_run_duration_seconds``: from a run's start in a worker to its end; a histogram.
- ``entities_sandbox_executions_total{outcome}``: code interpreter executions.
- ``entities_ollama_host_up{host}``, ``entities_ollama_host_runs_in_progress{host}``.
"""

import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django_q.brokers import get_broker
from django_q.status import Stat
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from entities.models import Message, Run

from .hosts import host_states, public_url
from .models import MetricCounter

log = logging.getLogger(__name__)

TTFT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0)
SANDBOX_EXECUTIONS = "sandbox_executions"
# What deleted runs had added to the counters and histograms, kept under these names.
DELETED_TOKENS = "deleted_run_tokens"
DELETED_TTFT = "deleted_run_ttft"
DELETED_DURATION = "deleted_run_duration"
ENDED = (Run.Status.COMPLETED, Run.Status.INCOMPLETE, Run.Status.FAILED, Run.Status.CANCELLED)


def count_sandbox_execution(outcome: str = "ok") -> None:
    """Count one code interpreter execution (``ok``, ``error``, ``timeout``, ...)."""
    _increment(SANDBOX_EXECUTIONS, outcome)


def _increment(name: str, label: str, by: int = 1) -> None:
    counter = MetricCounter.objects.filter(name=name, label=label)
    if counter.update(value=F("value") + by):
        return
    try:
        with transaction.atomic():
            MetricCounter.objects.create(name=name, label=label, value=by)
    except IntegrityError:  # another process made the row first
        counter.update(value=F("value") + by)


def _seconds(value: timedelta | float | None) -> float:
    if value is None:
        return 0.0
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _retired(name: str) -> dict[str, int]:
    return dict(MetricCounter.objects.filter(name=name).values_list("label", "value"))


def _histogram(
    name: str,
    documentation: str,
    runs: QuerySet[Run],
    field: str,
    buckets: Iterable[float],
    deleted: str,
) -> HistogramMetricFamily:
    """A histogram of a duration annotated on the runs, counted by the database, plus what
    deleted runs had added (``deleted``: their count per bucket, ``sum_us``)."""
    bounds = list(buckets)
    counts: dict[str, Any] = {
        f"le{i}": Count("pk", filter=Q(**{f"{field}__lte": timedelta(seconds=bound)}))
        for i, bound in enumerate(bounds)
    }
    figures = runs.aggregate(count=Count("pk"), total=Sum(field), **counts)
    retired = _retired(deleted)
    cumulative, below = [], 0
    for i, bound in enumerate(bounds):
        below += retired.get(f"le{i}", 0)
        cumulative.append((str(bound), figures[f"le{i}"] + below))
    count = figures["count"] + below + retired.get("inf", 0)
    total = _seconds(figures["total"]) + retired.get("sum_us", 0) / 1e6
    return HistogramMetricFamily(
        name, documentation, buckets=[*cumulative, ("+Inf", count)], sum_value=total
    )


def _with_ttft(runs: QuerySet[Run]) -> QuerySet[Run]:
    # The answer's message is made when its first token arrives (inference.engine).
    answers = Message.objects.filter(run=OuterRef("pk"), role=Message.Role.ASSISTANT)
    first_token = answers.order_by("created_at").values("created_at")[:1]
    return (
        runs.order_by()
        .annotate(first_token=Subquery(first_token))
        .filter(first_token__isnull=False)
        .annotate(
            ttft=ExpressionWrapper(F("first_token") - F("created_at"), output_field=DurationField())
        )
    )


def _with_duration(runs: QuerySet[Run]) -> QuerySet[Run]:
    return (
        runs.order_by()
        .filter(status__in=ENDED, started_at__isnull=False)
        .annotate(ended=Coalesce("completed_at", "failed_at", "cancelled_at"))
        .filter(ended__isnull=False)
        .annotate(
            duration=ExpressionWrapper(F("ended") - F("started_at"), output_field=DurationField())
        )
    )


def _time_to_first_token() -> HistogramMetricFamily:
    return _histogram(
        "entities_run_time_to_first_token_seconds",
        "From a run's creation (queue wait included) to its first answer token.",
        _with_ttft(Run.objects.all()),
        "ttft",
        TTFT_BUCKETS,
        DELETED_TTFT,
    )


def _run_duration() -> HistogramMetricFamily:
    return _histogram(
        "entities_run_duration_seconds",
        "From a run's start in a worker to its end.",
        _with_duration(Run.objects.all()),
        "duration",
        DURATION_BUCKETS,
        DELETED_DURATION,
    )


def _histogram_counts(
    name: str, value: timedelta, buckets: Iterable[float]
) -> list[tuple[str, str, int]]:
    seconds = value.total_seconds()
    bucket = next((f"le{i}" for i, bound in enumerate(buckets) if seconds <= bound), "inf")
    return [(name, bucket, 1), (name, "sum_us", max(round(seconds * 1e6), 0))]


@receiver(pre_delete, sender=Run, dispatch_uid="metrics_keep_deleted_run")
def keep_deleted_run(sender: type[Run], instance: Run, **kwargs: Any) -> None:
    """Add what a run being deleted counted to the kept figures (read before its messages go,
    added once the delete commits: not holding the shared counter rows in its transaction)."""
    usage = instance.usage or {}
    counts = [
        (DELETED_TOKENS, kind, int(usage[f"{kind}_tokens"]))
        for kind in ("prompt", "completion")
        if usage.get(f"{kind}_tokens")
    ]
    this = Run.objects.filter(pk=instance.pk)
    for runs, field, name, buckets in (
        (_with_ttft(this), "ttft", DELETED_TTFT, TTFT_BUCKETS),
        (_with_duration(this), "duration", DELETED_DURATION, DURATION_BUCKETS),
    ):
        value = runs.values_list(field, flat=True).first()
        if value is not None:
            counts += _histogram_counts(name, value, buckets)

    def add() -> None:
        for name, label, by in counts:
            _increment(name, label, by)

    transaction.on_commit(add)


def _runs_by_status() -> GaugeMetricFamily:
    counts = dict.fromkeys(Run.Status.values, 0)
    for row in Run.objects.order_by().values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    family = GaugeMetricFamily("entities_runs", "Runs by status.", labels=["status"])
    for status, n in counts.items():
        family.add_metric([status], n)
    return family


def _tokens() -> CounterMetricFamily:
    figures = Run.objects.order_by().aggregate(
        prompt=Sum(Cast(KT("usage__prompt_tokens"), BigIntegerField())),
        completion=Sum(Cast(KT("usage__completion_tokens"), BigIntegerField())),
    )
    deleted = _retired(DELETED_TOKENS)
    family = CounterMetricFamily(
        "entities_tokens", "Tokens of every run, by kind.", labels=["kind"]
    )
    for kind in ("prompt", "completion"):
        family.add_metric([kind], (figures[kind] or 0) + deleted.get(kind, 0))
    return family


def _sandbox_executions() -> CounterMetricFamily:
    family = CounterMetricFamily(
        "entities_sandbox_executions", "Code interpreter executions.", labels=["outcome"]
    )
    for counter in MetricCounter.objects.filter(name=SANDBOX_EXECUTIONS).order_by("label"):
        family.add_metric([counter.label], counter.value)
    return family


def _broker_and_workers() -> Iterator[Metric]:
    depth = GaugeMetricFamily("entities_task_queue_depth", "Tasks waiting in the broker.")
    depth.add_metric([], get_broker().queue_size() or 0)
    yield depth
    workers = GaugeMetricFamily(
        "entities_workers", "Worker processes of the clusters whose heartbeat is there."
    )
    workers.add_metric([], sum(len(stat.workers) for stat in Stat.get_all()))
    yield workers


def _ollama_hosts() -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "entities_ollama_host_up", "1 when the Ollama host answered.", labels=["host"]
    )
    busy = GaugeMetricFamily(
        "entities_ollama_host_runs_in_progress", "Runs streaming from the host.", labels=["host"]
    )
    for state in host_states(refresh_due=True):
        if state.enabled:
            up.add_metric([public_url(state.url)], 1 if state.state == "up" else 0)
            busy.add_metric([public_url(state.url)], state.busy)
    yield up
    yield busy


class EntitiesCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield _runs_by_status()
        yield from _broker_and_workers()
        yield _tokens()
        yield _time_to_first_token()
        yield _run_duration()
        yield _sandbox_executions()
        yield from _ollama_hosts()


def metrics_view(request: HttpRequest) -> HttpResponse:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EntitiesCollector())
    # The text format Prometheus asks for (0.0.4, or OpenMetrics) in its Accept header.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(registry), content_type=content_type)
