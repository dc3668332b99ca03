"""``/health``: can this process serve, and how are the things it depends on?

``status`` is ``ok`` (200) when the database, the task broker and the channel layer answer,
else ``error`` (503): that is what a load balancer should route by. The workers seen recently
(django-q2 cluster heartbeats) and each Ollama host are reported beside, without changing the
status: without them this process still serves; runs wait, or fail with a clear error.

Anyone may ask, so a failure is named by its kind; the log has its details (a driver's message
can carry a host name and a user).
"""

import asyncio
import contextlib
import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, JsonResponse
from django_q.brokers import get_broker
from django_q.status import Stat

from inference.hosts import host_states

logger = logging.getLogger(__name__)

LAYER_TIMEOUT_SECONDS = 2.0


def _failed(what: str, exc: BaseException) -> dict[str, Any]:
    logger.error("Health check: %s failed: %s", what, exc)
    return {"status": "error", "error": type(exc).__name__}


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return _failed("the database", exc)
    return {"status": "ok", "vendor": connection.vendor}


def _broker() -> dict[str, Any]:
    try:
        broker = get_broker()
        broker.ping()
        return {
            "status": "ok",
            "kind": broker.info().split()[0],
            "queued_tasks": broker.queue_size(),
        }
    except Exception as exc:  # Redis or the database: whatever the broker's client raises
        return _failed("the task broker", exc)


def _workers() -> dict[str, Any]:
    """Worker clusters whose heartbeat (every half second, kept 3 s) is there."""
    try:
        clusters = Stat.get_all()
    except Exception as exc:
        return _failed("reading the workers' heartbeats", exc)
    processes = sum(len(stat.workers) for stat in clusters)
    return {
        "status": "ok" if clusters else "none",
        "clusters": len(clusters),
        "workers": processes,
    }


def _ollama() -> dict[str, Any]:
    try:
        states = [state.as_json(details=False) for state in host_states(refresh_due=True)]
    except Exception as exc:
        return _failed("reading the Ollama hosts", exc)
    up = any(state["state"] == "up" for state in states)
    return {"status": "ok" if up else "error", "hosts": states}


async def _channel_layer() -> dict[str, Any]:
    """A message sent to this process through the layer comes back (Redis, or in memory)."""
    layer = get_channel_layer()
    if layer is None:
        return {"status": "error", "error": "NotConfigured"}
    try:
        channel = await layer.new_channel("health.")
        try:
            await layer.send(channel, {"type": "health.check"})
            await asyncio.wait_for(layer.receive(channel), LAYER_TIMEOUT_SECONDS)
        finally:
            # A receive that is cancelled lets go of its channel (there is no delete_channel).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(layer.receive(channel), 0.01)
    except Exception as exc:
        return _failed("the channel layer", exc)
    return {"status": "ok", "kind": type(layer).__name__}


def _checks() -> dict[str, Any]:
    return {
        "database": _database(),
        "broker": _broker(),
        "workers": _workers(),
        "ollama": _ollama(),
    }


async def health_view(request: HttpRequest) -> JsonResponse:
    report = await sync_to_async(_checks)()
    report["channel_layer"] = await _channel_layer()
    ok = all(report[part]["status"] == "ok" for part in ("database", "broker", "channel_layer"))
    return JsonResponse({"status": "ok" if ok else "error", **report}, status=200 if ok else 503)
