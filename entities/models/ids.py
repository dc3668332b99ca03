"""Public ids: a prefix, a time-ordered part, then randomness (``msg_0644a1b2c3d4e5f6a7b8c9d0``).

Ids sort in creation order, so every list is keyset-paginated on ``id`` alone and a thread's
history is ``ORDER BY id``. Within one process the time part never repeats or goes back.
"""

import secrets
import threading
import time

from django.db import models
from django.utils.deconstruct import deconstructible

_lock = threading.Lock()
_last_micros = 0


def _monotonic_micros() -> int:
    global _last_micros
    with _lock:
        now = time.time_ns() // 1000
        _last_micros = now if now > _last_micros else _last_micros + 1
        return _last_micros


def new_id(prefix: str) -> str:
    return f"{prefix}_{_monotonic_micros():013x}{secrets.token_hex(6)}"


def auto() -> str:
    """The ``"auto"`` default of response_format and tool_choice, as a callable."""
    return "auto"


@deconstructible
class PrefixedId:
    """A field default making ids with a prefix (deconstructible, so migrations can name it)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self) -> str:
        return new_id(self.prefix)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrefixedId) and other.prefix == self.prefix

    def __hash__(self) -> int:
        return hash(self.prefix)


def public_id_field(prefix: str) -> models.CharField:
    return models.CharField(
        primary_key=True, max_length=40, default=PrefixedId(prefix), editable=False
    )
