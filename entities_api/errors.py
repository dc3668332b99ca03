"""Exceptions of the SDK. An error answer of the server becomes an :class:`APIError` subclass
chosen by its status, carrying the server's ``message``, ``type``, ``param`` and ``code``."""

from typing import Any

import httpx


class EntitiesError(Exception):
    """Base of every exception the SDK raises."""


class APIConnectionError(EntitiesError):
    """The server could not be reached, or the connection broke."""


class APITimeoutError(APIConnectionError):
    """The server did not answer in time."""


class APIError(EntitiesError):
    """The server answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.type = type
        self.param = param
        self.code = code
        self.body = body

    def __str__(self) -> str:
        where = f" (param: {self.param})" if self.param else ""
        return f"{self.status_code} {self.code or self.type or 'error'}: {self.message}{where}"


class BadRequestError(APIError):
    """400: a malformed body, a wrong type, an unknown field or a bad value (see ``param``)."""


class AuthenticationError(APIError):
    """401: no API key, or an unknown, revoked or expired one."""


class PermissionDeniedError(APIError):
    """403: an action only admins may take."""


class NotFoundError(APIError):
    """404: an unknown id, or another user's object."""


class ConflictError(APIError):
    """409: e.g. a second active run on a thread."""


class RequestTooLargeError(APIError):
    """413: a body over the server's limit."""


class RateLimitError(APIError):
    """429."""


class InternalServerError(APIError):
    """5xx."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    429: RateLimitError,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error answer; its body is OpenAI's ``{"error": {...}}``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    fields: dict[str, Any] = {}
    if isinstance(error, dict):
        message = str(error.get("message") or response.reason_phrase)
        fields = {k: error.get(k) for k in ("type", "param", "code")}
    else:
        message = response.text.strip()[:500] or response.reason_phrase
    status = response.status_code
    cls = _BY_STATUS.get(status, InternalServerError if status >= 500 else APIError)
    return cls(message, status_code=status, body=body, **fields)


class RunError(EntitiesError):
    """A run followed by the conversation runner ended ``failed`` or ``expired``."""

    def __init__(self, message: str, *, run_id: str, status: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.run_id = run_id
        self.status = status
        self.code = code


class MissingFunctionError(EntitiesError):
    """The run asked for a client function that ``available_functions`` does not have.

    The runner cancels the run first, so the thread is free for the next one.
    """

    def __init__(self, name: str, *, run_id: str, available: list[str]) -> None:
        offered = ", ".join(sorted(available)) or "none"
        super().__init__(
            f"Run {run_id} called the function '{name}', which is not in available_functions "
            f"(given: {offered}). The run was cancelled."
        )
        self.name = name
        self.run_id = run_id
        self.available = available
