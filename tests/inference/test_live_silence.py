"""Streams that go silent: the unmodified ``openai`` SDK sits through a long pause.

A stream is silent while a model stalls mid-answer (the double's ``Reply.pause_after``) or a
run waits for a worker; the server keeps sending keep-alives, which no SSE client may take for
an event. The silence is the test's stimulus: it is released once the clients have sat
through ``SILENCE`` seconds of it, or the test fails at once if a client dies in it.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest

from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import Stack

pytestmark = pytest.mark.usefixtures("fresh_double")

# Three keep-alive intervals: well past the 10 s after which the SDK used to die.
SILENCE = 30.0
STREAMS = 50


@dataclass
class Reader:
    """One SDK client streaming one run, in its own thread."""

    client: openai.OpenAI
    thread_id: str
    assistant_id: str
    progress: threading.Condition
    texts: list[str] = field(default_factory=list)
    events: int = 0
    status: str = ""
    error: BaseException | None = None
    ended: bool = False

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def read(self) -> None:
        try:
            with self.client.beta.threads.runs.stream(
                thread_id=self.thread_id, assistant_id=self.assistant_id
            ) as stream:
                for event in stream:
                    if event.event == "thread.message.delta":
                        for part in event.data.delta.content or []:
                            if part.type == "text" and part.text is not None:
                                self.texts.append(part.text.value or "")
                    with self.progress:
                        self.events += 1
                        self.progress.notify_all()
                self.status = stream.get_final_run().status
        except Exception as exc:  # the test reports it
            self.error = exc
        finally:
            with self.progress:
                self.ended = True
                self.progress.notify_all()


def start(readers: list[Reader]) -> list[threading.Thread]:
    threads = [threading.Thread(target=reader.read, daemon=True) for reader in readers]
    for thread in threads:
        thread.start()
    return threads


def sit_through_silence(progress: threading.Condition, readers: list[Reader]) -> None:
    """Wait ``SILENCE`` seconds, failing as soon as a client's stream ends in the silence."""
    with progress:
        progress.wait_for(lambda: any(r.ended for r in readers), timeout=SILENCE)
    dead = [r for r in readers if r.ended]
    assert not dead, (
        f"{len(dead)} of {len(readers)} SDK streams ended in a silence: "
        f"{dead[0].error!r} after {dead[0].events} events"
    )


def wait_to_end(progress: threading.Condition, readers: list[Reader], timeout: float) -> None:
    with progress:
        progress.wait_for(lambda: all(r.ended for r in readers), timeout=timeout)


@pytest.fixture
def sdk_clients(stack: Stack, key: str) -> Iterator[list[openai.OpenAI]]:
    clients = [
        openai.OpenAI(base_url=f"{stack.url}/v1", api_key=key, max_retries=0)
        for _ in range(STREAMS)
    ]
    yield clients
    for client in clients:
        client.close()


def test_the_sdk_sits_through_a_long_silence_in_the_middle_of_an_answer(
    client: openai.OpenAI, double: OllamaDouble, assistant_id: str
) -> None:
    resume = threading.Event()
    answer = "The first half of the answer, then a long pause, then the rest of it."
    double.enqueue(Reply(content=answer, pause_after=4, resume=resume))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Take your time."}])
    progress = threading.Condition()
    reader = Reader(client, thread.id, assistant_id, progress)
    (worker,) = start([reader])
    double.wait_for_paused(1, timeout=120)
    before = "The first half of "  # the four tokens sent before the pause
    with progress:  # the client has every delta sent before the pause
        assert progress.wait_for(lambda: reader.text == before or reader.ended, timeout=120)

    sit_through_silence(progress, [reader])
    resume.set()
    wait_to_end(progress, [reader], timeout=120)
    worker.join(timeout=10)

    assert reader.error is None, repr(reader.error)
    assert reader.status == "completed"
    assert reader.text == answer


def test_fifty_sdk_streams_sit_through_a_silence_mid_answer_and_in_the_queue(
    client: openai.OpenAI,
    sdk_clients: list[openai.OpenAI],
    stack: Stack,
    double: OllamaDouble,
    assistant_id: str,
) -> None:
    """Every worker's answer stalls mid-stream while the other runs wait queued, all silent;
    then the model goes on and each client gets its whole answer."""
    resume = threading.Event()

    def answer(n: object) -> str:
        return f"Answer {n}: said in parts, with a pause."

    def model(body: dict[str, Any]) -> Reply:
        n = str(body["messages"][-1]["content"]).split()[-1]
        return Reply(content=answer(n), pause_after=3, resume=resume)

    double.responder = model
    progress = threading.Condition()
    readers = [
        Reader(
            sdk,
            client.beta.threads.create(messages=[{"role": "user", "content": f"run {n}"}]).id,
            assistant_id,
            progress,
        )
        for n, sdk in enumerate(sdk_clients)
    ]
    workers = start(readers)
    double.wait_for_paused(int(stack.env["WORKERS"]), timeout=120)
    with progress:  # every run is created and its client is reading its stream
        assert progress.wait_for(lambda: all(r.events or r.ended for r in readers), timeout=120)

    sit_through_silence(progress, readers)
    resume.set()
    wait_to_end(progress, readers, timeout=600)
    for worker in workers:
        worker.join(timeout=10)

    failed = [(n, r.error, r.status) for n, r in enumerate(readers) if r.status != "completed"]
    assert not failed, f"{len(failed)} of {STREAMS} SDK streams failed, first: {failed[0]!r}"
    assert [r.text for r in readers] == [answer(n) for n in range(STREAMS)]
