"""Which Ollama host a run goes to, and what each host's state is.

The hosts are the URLs of ``OLLAMA_HOSTS`` (else the one ``OLLAMA_HOST``) and those an operator
added in the admin; a host disabled in the admin is out either way. A run goes to a host that
is up and whose ``/api/tags`` lists the run's model (the list is kept for
``OLLAMA_TAGS_TTL_SECONDS``), the one with the fewest runs in progress. A host that does not
answer is marked down and asked again after ``OLLAMA_HOST_RETRY_SECONDS``; a run that finds its
host gone before it streamed anything is sent to another one (``reroute``). Runs already
streaming from a host that dies fail with the provider's error.

Everything learned is kept in ``inference.models.OllamaHost``, so every web and worker process
shares it, and the admin, ``/health`` and ``/metrics`` show it (``host_states``).
"""

import logging
import random
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from entities.models import Run

from .models import OllamaHost
from .providers.base import public_url, shared_ssl_context

log = logging.getLogger(__name__)

UP, DOWN = OllamaHost.State.UP, OllamaHost.State.DOWN
BUSY_STATUSES = (Run.Status.IN_PROGRESS, Run.Status.CANCELLING)


def normalize_url(url: str) -> str:
    """``gpu1:11434`` and ``http://gpu1:11434/`` are the same host: ``http://gpu1:11434``."""
    url = url.strip().rstrip("/")
    return url if "://" in url else f"http://{url}"


def configured_urls() -> list[str]:
    """The hosts the environment names: ``OLLAMA_HOSTS``, else ``OLLAMA_HOST``."""
    listed = settings.OLLAMA_HOSTS or [settings.OLLAMA_HOST]
    return list(dict.fromkeys(normalize_url(url) for url in listed if url.strip()))


def routing_applies(run: Run | None) -> bool:
    """Runs are always routed; a bare model lookup only once ``OLLAMA_HOSTS`` names several
    hosts (a single ``OLLAMA_HOST`` needs no choice, and no database)."""
    return run is not None or bool(settings.OLLAMA_HOSTS)


def model_key(name: str) -> str:
    """How Ollama matches names: case-insensitive, ``:latest`` when no tag is given."""
    name = name.strip().lower()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _hosts() -> list[OllamaHost]:
    """The rows of every configured host (rows for the environment's are made on first use)."""
    configured = configured_urls()
    rows = list(OllamaHost.objects.all())
    missing = [url for url in configured if url not in {row.url for row in rows}]
    if missing:
        OllamaHost.objects.bulk_create(
            [OllamaHost(url=url, source=OllamaHost.Source.ENVIRONMENT) for url in missing],
            ignore_conflicts=True,  # another process made it at the same moment
        )
        rows = list(OllamaHost.objects.all())
    return [row for row in rows if row.url in configured or row.source == OllamaHost.Source.ADMIN]


def _ask(url: str) -> tuple[list[str] | None, str]:
    """The models a host's ``/api/tags`` lists, or None and why it did not answer."""
    try:
        response = httpx.get(
            f"{url}/api/tags",
            timeout=settings.OLLAMA_PROBE_TIMEOUT_SECONDS,
            verify=shared_ssl_context(),
        )
        response.raise_for_status()
        listed = response.json()["models"] or []
        return sorted({m.get("model") or m["name"] for m in listed}), ""
    except httpx.HTTPStatusError as exc:
        return None, f"/api/tags answered {exc.response.status_code}"
    except httpx.HTTPError as exc:
        return None, f"{exc.__class__.__name__}: {exc}"
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"/api/tags answered something that is not Ollama's ({exc!r})"


def _save(host: OllamaHost, **fields: Any) -> None:
    # An update of these fields only, so an operator's edit of ``enabled`` is never undone.
    OllamaHost.objects.filter(pk=host.pk).update(**fields)
    for name, value in fields.items():
        setattr(host, name, value)


def _record(host: OllamaHost, names: list[str] | None, error: str) -> None:
    now = timezone.now()
    if names is None:
        if host.state != DOWN:
            log.warning("Ollama host %s is down: %s", public_url(host.url), error)
        _save(host, state=DOWN, checked_at=now, last_error=error)
        return
    if host.state == DOWN:
        log.info("Ollama host %s answers again", public_url(host.url))
    _save(host, state=UP, model_names=names, checked_at=now, last_seen=now, last_error="")


def _due(host: OllamaHost, now: datetime) -> bool:
    if host.checked_at is None:
        return True
    wait = (
        settings.OLLAMA_HOST_RETRY_SECONDS
        if host.state == DOWN
        else settings.OLLAMA_TAGS_TTL_SECONDS
    )
    return (now - host.checked_at).total_seconds() >= wait


def refresh(hosts: list[OllamaHost], *, force: bool = False) -> None:
    """Ask the hosts whose state is older than its time to live (all, with ``force``)."""
    now = timezone.now()
    due = [host for host in hosts if force or _due(host, now)]
    if not due:
        return
    if len(due) == 1:
        answers = [_ask(due[0].url)]
    else:  # at once: a host that does not answer must not hold up the others
        with ThreadPoolExecutor(max_workers=len(due)) as pool:
            answers = list(pool.map(_ask, [host.url for host in due]))
    for host, (names, error) in zip(due, answers, strict=True):
        _record(host, names, error)


def _busy(urls: Collection[str]) -> dict[str, int]:
    """Runs in progress per host."""
    counts = (
        Run.objects.filter(status__in=BUSY_STATUSES, ollama_host__in=urls)
        .order_by()
        .values("ollama_host")
        .annotate(n=Count("id"))
    )
    return {str(row["ollama_host"]): row["n"] for row in counts}


def choose(
    model: str,
    *,
    run: Run | None = None,
    exclude: Collection[str] = (),
    require_up: bool = False,
    record: bool = True,
) -> str | None:
    """The host to run ``model`` on, recorded on the run if one is given (on its row too,
    unless not ``record``: the engine stores its first choice with the run's claim).

    Preferred: up hosts that list the model, the least busy first. If no up host lists it
    (pulled since the last look?) their lists are read again; if still none does, an up host
    is chosen and answers that the model is missing. If no host is up, the one asked longest
    ago is tried (unless ``require_up``). None when no host is left to choose. With one
    host only there is nothing to choose: it is taken without asking it or counting its runs.
    """
    hosts = [host for host in _hosts() if host.enabled and host.url not in exclude]
    if not hosts:
        return None
    chosen = hosts[0].url if len(hosts) == 1 and not require_up else _pick(hosts, model, require_up)
    if chosen is not None and run is not None:
        # On the row for the other processes, on the object for its next save.
        run.ollama_host = chosen
        if record:
            Run.objects.filter(pk=run.pk).update(ollama_host=chosen)
    return chosen


def _pick(hosts: list[OllamaHost], model: str, require_up: bool) -> str | None:
    refresh(hosts)
    key = model_key(model)

    def having(candidates: list[OllamaHost]) -> list[OllamaHost]:
        return [h for h in candidates if key in {model_key(n) for n in h.model_names}]

    up = [host for host in hosts if host.state == UP]
    pool = having(up)
    if up and not pool:
        refresh(up, force=True)
        up = [host for host in up if host.state == UP]
        pool = having(up)
    if not pool:
        pool = up
    if not pool:
        if require_up:
            return None
        pool = sorted(hosts, key=lambda h: h.checked_at or timezone.now())[:1]
    busy = _busy([host.url for host in pool])
    return min(pool, key=lambda h: (busy.get(h.url, 0), random.random())).url


def mark_down(url: str, error: str) -> None:
    """Take a host out until it answers again (asked after ``OLLAMA_HOST_RETRY_SECONDS``)."""
    for host in OllamaHost.objects.filter(url=url):
        _record(host, None, error)


def reroute(
    model: str, failed: str, error: str, *, tried: Collection[str], run: Run | None = None
) -> str | None:
    """After ``failed`` would not take a connection: mark it down, and the next up host."""
    mark_down(failed, error)
    # A run not claimed yet (its first call starts before the claim) has it stored by the claim.
    record = run is not None and run.status != Run.Status.QUEUED
    chosen = choose(model, run=run, exclude={failed, *tried}, require_up=True, record=record)
    if chosen is not None:
        log.warning(
            "Ollama host %s does not answer; run %s goes to %s instead",
            public_url(failed),
            run.pk if run is not None else "(none)",
            public_url(chosen),
        )
    return chosen


@dataclass(frozen=True)
class HostState:
    """What the operator console and ``/health`` show of a host."""

    url: str
    source: str
    enabled: bool
    state: str
    models: list[str]
    busy: int
    last_seen: datetime | None
    checked_at: datetime | None
    last_error: str

    def as_json(self, *, details: bool = True) -> dict[str, Any]:
        """Its state as JSON; without ``details``, the error is named by its kind only."""
        error = self.last_error if details else self.last_error.split(":", 1)[0]
        return {
            "url": public_url(self.url),
            "source": self.source,
            "enabled": self.enabled,
            "state": self.state if self.enabled else "disabled",
            "models": self.models,
            "runs_in_progress": self.busy,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "last_error": error,
        }


def host_states(*, refresh_due: bool = False) -> list[HostState]:
    """Every configured host with its state; with ``refresh_due``, stale states are re-read
    from the hosts first (within their time to live, what is stored is shown)."""
    hosts = _hosts()
    if refresh_due:
        refresh([host for host in hosts if host.enabled])
    busy = _busy([host.url for host in hosts])
    return [
        HostState(
            url=host.url,
            source=host.source,
            enabled=host.enabled,
            state=host.state,
            models=list(host.model_names),
            busy=busy.get(host.url, 0),
            last_seen=host.last_seen,
            checked_at=host.checked_at,
            last_error=host.last_error,
        )
        for host in hosts
    ]
