"""Work each web process does beside serving: reaping lost runs, and listening for live events."""

import logging
import threading
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections

from .channel_layer import EmbeddedChannelLayer

log = logging.getLogger(__name__)

_started = False
_lock = threading.Lock()


def _reaper_loop() -> None:
    from .reaper import reap

    stop = threading.Event()
    while not stop.wait(settings.REAPER_INTERVAL_SECONDS):
        try:
            reap()
        except Exception:  # a failed pass (database away) is tried again next time
            log.exception("Reaper pass failed")
        finally:
            close_old_connections()


def start_reaper() -> None:
    global _started
    with _lock:
        if _started:
            return
        _started = True
    threading.Thread(target=_reaper_loop, name="entities-reaper", daemon=True).start()


class LiveEventsMiddleware:
    """ASGI wrapper: makes sure the embedded layer listens for workers from the first request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        layer = get_channel_layer()
        if isinstance(layer, EmbeddedChannelLayer):
            await layer.ensure_listening()
        return await self.app(scope, receive, send)
