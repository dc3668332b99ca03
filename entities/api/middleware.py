"""Refuse oversized request bodies with 413 before anything reads them; answer 503 while the
database is away.

Under daphne the body limit is held earlier still, while the body arrives
(config/body_limit.py); this middleware holds it under any other server, with the same limits
and the same answer.
"""

import logging
import os
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from entities.database import UNAVAILABLE

from .errors import database_unavailable_response, error_body

log = logging.getLogger(__name__)


def body_limit(content_type: str) -> int | None:
    """``MAX_UPLOAD_BYTES`` for multipart file uploads, ``MAX_REQUEST_BYTES`` for the rest."""
    if content_type.startswith("multipart/form-data"):
        return settings.MAX_UPLOAD_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_body(length: int, limit: int) -> dict[str, Any]:
    return error_body(
        f"The request body is {length} bytes; the limit is {limit} bytes.",
        status_code=413,
        code="request_too_large",
    )


def _body_size(request: HttpRequest) -> int:
    """The larger of the declared length and, under ASGI, the length actually received.

    A chunked body has no Content-Length, and one may understate it; Django's ASGI handler has
    spooled the whole body to a seekable file by now, which DRF would read to its end. (Under
    WSGI a read stops at the declared length, so that is all there is.)
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    stream = getattr(request, "_stream", None)
    if stream is None or not stream.seekable():
        return declared
    received = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    return max(declared, received)


class RequestSizeLimitMiddleware:
    """DRF parses JSON from the raw stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check,
    so the limit is held here."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit(request.META.get("CONTENT_TYPE", ""))
        if limit is not None and (length := _body_size(request)) > limit:
            return JsonResponse(too_large_body(length, limit), status=413)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A view outside DRF (admin, console, chat) that fails on the database answers 503 with
    Retry-After, not a 500: the API's views get the same from ``errors.exception_handler``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE):
            return None
        log.warning("The database is not available for %s: %s", request.path, exception)
        return database_unavailable_response(request)
