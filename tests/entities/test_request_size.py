"""Bodies over the limit, sent to a real daphne: refused with 413 before they are kept.

daphne reads a whole request body before Django sees any of it, so only a limit inside daphne's
request keeps a huge body out of the web process's memory (docs/api.md, "Limits").
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inference.testing.ollama_double import OllamaDouble
from tests.stack import Stack, running_stack

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    limits = {"MAX_REQUEST_BYTES": str(MIB), "MAX_UPLOAD_BYTES": str(MIB)}
    with (
        OllamaDouble() as double,
        running_stack(double.host, prefix="entities-size-", **limits) as stack,
    ):
        yield stack


@pytest.fixture(scope="module")
def key(stack: Stack) -> str:
    return stack.api_key("alice")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def chunks(total: int) -> Iterator[bytes]:
    """``total`` bytes of a JSON string, a MiB at a time, with no length known in advance."""
    piece = b"x" * MIB
    yield b'{"metadata": {"k": "'
    for _ in range(total // MIB):
        yield piece
    yield b'"}}'


def post(stack: Stack, body: object, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{stack.url}/v1/threads",
        content=body,  # type: ignore[arg-type]
        headers={"Content-Type": "application/json", **headers},
        timeout=300,
    )


def test_a_gib_chunked_body_is_refused_without_being_kept(stack: Stack, key: str) -> None:
    assert stack.web is not None
    before = rss_bytes(stack.web.pid)
    for headers in ({}, {"Authorization": f"Bearer {key}"}):
        answer = post(stack, chunks(1024 * MIB), **headers)
        assert answer.status_code == 413, answer.text
        assert answer.json()["error"]["code"] == "request_too_large"
        assert "limit is 1048576 bytes" in answer.json()["error"]["message"]
        grown = rss_bytes(stack.web.pid) - before
        assert grown < 200 * MIB, f"the web process grew by {grown // MIB} MiB"


def test_a_declared_length_over_the_limit_is_refused(stack: Stack, key: str) -> None:
    body = b'{"metadata": {"k": "' + b"x" * (2 * MIB) + b'"}}'
    for headers in ({}, {"Authorization": f"Bearer {key}"}):
        answer = post(stack, body, **headers)
        assert answer.status_code == 413, answer.text
        assert answer.json()["error"]["type"] == "invalid_request_error"
    upload = httpx.post(
        f"{stack.url}/v1/files",
        files={"file": ("big.bin", b"x" * (2 * MIB))},
        data={"purpose": "assistants"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert upload.status_code == 413, upload.text


def test_the_connection_goes_on_after_a_413(stack: Stack, key: str) -> None:
    with httpx.Client(base_url=stack.url, timeout=60) as client:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        refused = client.post("/v1/threads", content=chunks(4 * MIB), headers=headers)
        assert refused.status_code == 413
        made = client.post("/v1/threads", content=b"{}", headers=headers)
        assert made.status_code == 200, made.text
        small = client.post("/v1/threads", content=iter([b"{", b"}"]), headers=headers)
        assert small.status_code == 200, small.text
