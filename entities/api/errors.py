"""Every API error as OpenAI's body: ``{"error": {"message", "type", "param", "code"}}``."""

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response

from entities.database import UNAVAILABLE
from entities.errors import EntitiesError

log = logging.getLogger(__name__)

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


# What a client is told to wait before it tries again while the database is away.
RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = (
    "The server's database is not available (it cannot be reached or written); "
    "nothing was changed. Try again shortly."
)


def error_body(
    message: str, *, status_code: int, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    error_type = _TYPES.get(
        status_code, "server_error" if status_code >= 500 else "invalid_request_error"
    )
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_response(
    message: str, *, status_code: int, param: str | None = None, code: str | None = None
) -> Response:
    return Response(
        error_body(message, status_code=status_code, param=param, code=code), status=status_code
    )


def database_unavailable_body() -> dict[str, Any]:
    return error_body(DATABASE_UNAVAILABLE, status_code=503, code="database_unavailable")


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: OpenAI's error body under /v1, a page a person can read elsewhere
    (admin, console, chat). Rendered without the database: no context processors."""
    if request.path.startswith("/v1/"):
        response: HttpResponse = JsonResponse(database_unavailable_body(), status=503)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _first_error(detail: Any, path: str = "") -> tuple[str, Any]:
    """The path (``messages[1].content``) and the first error detail of a DRF validation error."""
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        if key in ("non_field_errors", "__all__"):
            return _first_error(value, path)
        if isinstance(key, int) or str(key).isdigit():
            return _first_error(value, f"{path}[{key}]")
        return _first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(detail, list):
        for index, item in enumerate(detail):
            if item:  # a list of per-item errors holds empty dicts for the items that were valid
                if isinstance(item, dict | list):
                    return _first_error(item, f"{path}[{index}]")
                return path, item
    return path, detail


def _validation_response(exc: exceptions.ValidationError) -> Response:
    param, detail = _first_error(exc.detail)
    code = getattr(detail, "code", None)
    if code == "required":
        return error_response(
            f"Missing required parameter: '{param}'.",
            status_code=400,
            param=param,
            code="missing_required_parameter",
        )
    message = str(detail)
    if code == "unknown_parameter":
        return error_response(message, status_code=400, param=param, code=code)
    if param and not message.startswith(param.split("[")[0]):
        message = f"Invalid '{param}': {message}"
    return error_response(message, status_code=400, param=param or None, code="invalid_value")


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, UNAVAILABLE):
        log.warning("The database is not available in %s: %s", context.get("view"), exc)
        response = Response(database_unavailable_body(), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, EntitiesError):
        return error_response(
            exc.message, status_code=exc.status_code, param=exc.param, code=exc.code
        )
    if isinstance(exc, exceptions.ValidationError):
        return _validation_response(exc)
    if isinstance(exc, exceptions.ParseError):
        return error_response(
            "We could not parse the JSON body of your request: " + str(exc.detail),
            status_code=400,
            code="invalid_json",
        )
    if isinstance(exc, exceptions.NotAuthenticated):
        response = error_response(
            "You didn't provide an API key. Send 'Authorization: Bearer <API key>'.",
            status_code=401,
            code="missing_api_key",
        )
    elif isinstance(exc, exceptions.AuthenticationFailed):
        response = error_response(str(exc.detail), status_code=401, code="invalid_api_key")
    elif isinstance(exc, Http404):
        return error_response(str(exc) or "Not found.", status_code=404)
    elif isinstance(exc, exceptions.APIException):
        response = error_response(
            str(exc.detail), status_code=exc.status_code, code=exc.default_code
        )
    else:
        log.exception("Unhandled error in %s", context.get("view"))
        return error_response(
            "The server had an error while processing your request.",
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            code="server_error",
        )
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response["WWW-Authenticate"] = 'Bearer realm="entities"'
    return response


def not_found_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for an unknown URL: the API's error body under /v1, Django's page elsewhere."""
    if not request.path.startswith("/v1/"):
        return defaults.page_not_found(request, exception)
    body = error_body(
        f"Invalid URL ({request.method} {request.path}).", status_code=404, code="unknown_url"
    )
    return JsonResponse(body, status=404)


def server_error_view(request: HttpRequest) -> JsonResponse:
    body = error_body(
        "The server had an error while processing your request.",
        status_code=500,
        code="server_error",
    )
    return JsonResponse(body, status=500)
