"""HTTP to the server: authentication, errors as exceptions, and server-sent events."""

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from . import __version__
from .errors import APIConnectionError, APITimeoutError, error_from_response

# A followed run may be quiet for a while; the server sends a keep-alive every 10 s.
STREAM_READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class ServerSentEvent:
    """One event of a run's stream: its number (``id:``), name and JSON payload."""

    id: int | None
    event: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(lines: Iterator[str]) -> Iterator[ServerSentEvent]:
    """Events from the lines of a ``text/event-stream`` body (comments are skipped)."""
    seq: int | None = None
    name = ""
    data: list[str] = []
    for line in lines:
        if not line:
            if name or data:
                yield ServerSentEvent(seq, name or "message", "\n".join(data))
            seq, name, data = None, "", []
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "id":
                seq = int(value) if value.isdigit() else None
            elif key == "event":
                name = value
            elif key == "data":
                data.append(value)
    if name or data:
        yield ServerSentEvent(seq, name or "message", "\n".join(data))


def _lines(response: httpx.Response, base_url: str) -> Iterator[str]:
    """The body's lines; a connection that breaks mid-stream raises ``APIConnectionError``."""
    try:
        yield from response.iter_lines()
    except httpx.TimeoutException as exc:
        raise APITimeoutError(f"the stream from {base_url} went silent ({exc})") from exc
    except httpx.HTTPError as exc:
        raise APIConnectionError(
            f"the stream from {base_url} broke ({type(exc).__name__}: {exc})"
        ) from exc


def compact(**fields: Any) -> dict[str, Any]:
    """A request body of the fields that were given (``None`` means not given)."""
    return {k: v for k, v in fields.items() if v is not None}


class Transport:
    """An ``httpx.Client`` on the server's ``/v1``, sending the API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": f"entities-api-python/{__version__}",
        }
        if http_client is None:
            http_client = httpx.Client(timeout=timeout)
        http_client.headers.update(headers)
        self.http = http_client

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        try:
            response = self.http.request(
                method,
                self.url(path),
                json=json,
                params=compact(**params) if params else None,
                data=data,
                files=files,
            )
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"{method} {path}: the server did not answer ({exc})") from exc
        except httpx.HTTPError as exc:
            raise APIConnectionError(
                f"{method} {path}: cannot reach {self.base_url} ({type(exc).__name__}: {exc})"
            ) from exc
        if response.is_error:
            raise error_from_response(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=body or {}).json()

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path).json()

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Iterator[ServerSentEvent]]:
        """The server-sent events of a request; an error status raises before any event."""
        timeout = httpx.Timeout(self.http.timeout.connect, read=STREAM_READ_TIMEOUT)
        request = self.http.build_request(
            method, self.url(path), json=json, headers=headers, timeout=timeout
        )
        try:
            response = self.http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"{method} {path}: the server did not answer ({exc})") from exc
        except httpx.HTTPError as exc:
            raise APIConnectionError(
                f"{method} {path}: cannot reach {self.base_url} ({type(exc).__name__}: {exc})"
            ) from exc
        try:
            if response.is_error:
                response.read()
                raise error_from_response(response)
            yield parse_sse(_lines(response, self.base_url))
        finally:
            response.close()

    def close(self) -> None:
        self.http.close()
