"""Refuse oversized request bodies with 413 before anything reads them."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .errors import error_body


class RequestSizeLimitMiddleware:
    """DRF parses JSON from the raw stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check.

    So the limit is held here, on the declared length: ``MAX_REQUEST_BYTES`` for bodies,
    ``MAX_UPLOAD_BYTES`` for multipart file uploads.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data")
        limit = settings.MAX_UPLOAD_BYTES if multipart else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            body = error_body(
                f"The request body is {length} bytes; the limit is {limit} bytes.",
                status_code=413,
                code="request_too_large",
            )
            return JsonResponse(body, status=413)
        return self.get_response(request)
