"""What an SSE client sees while a stream is silent: the keep-alive bytes and their interval.

One stack (daphne + qcluster, ``tests/stack.py``, embedded mode) against the Ollama double in
this process. A streamed run's answer stalls after three tokens (``Reply.pause_after``) for
``--seconds`` (default 35); two clients read the same run through the silence:

- plain httpx on ``GET /v1/threads/{t}/runs/{r}/events``, raw bytes with their arrival times:
  every chunk that arrives in the silence is printed as sent, with the seconds since the last
  event, then the intervals between keep-alives;
- the unmodified ``openai`` SDK on the ``POST .../runs`` stream (``runs.stream``), which must
  get the whole answer.

Exits 1 if the SDK fails or the answer is incomplete.

    python -m bench.silence [--seconds 35]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
import warnings
from itertools import pairwise
from pathlib import Path

import httpx
import openai

from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import Stack

ANSWER = "Three tokens, then the model stalls, then the rest of the answer."


def measure(stack: Stack, double: OllamaDouble, seconds: float) -> int:
    key = stack.api_key("bench")
    resume = threading.Event()
    double.enqueue(Reply(content=ANSWER, pause_after=3, resume=resume))
    sdk = openai.OpenAI(base_url=f"{stack.url}/v1", api_key=key, max_retries=0)
    assistant = sdk.beta.assistants.create(model="llama3.1")
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    outcome: dict[str, object] = {}
    run_id = threading.Event()

    def read_with_sdk() -> None:
        try:
            with sdk.beta.threads.runs.stream(
                thread_id=thread.id, assistant_id=assistant.id
            ) as stream:
                for event in stream:
                    if event.event == "thread.run.created":
                        outcome["run"] = event.data.id
                        run_id.set()
                outcome["text"] = "".join(
                    part.text.value
                    for message in stream.get_final_messages()
                    for part in message.content
                    if part.type == "text"
                )
                outcome["status"] = stream.get_final_run().status
        except Exception as exc:  # reported below
            outcome["error"] = repr(exc)
            run_id.set()

    reader = threading.Thread(target=read_with_sdk, daemon=True)
    reader.start()
    run_id.wait(120)
    double.wait_for_paused(1, timeout=120)
    chunks: list[tuple[float, bytes]] = []

    def release() -> None:
        time.sleep(seconds)  # the silence under measurement
        resume.set()

    threading.Thread(target=release, daemon=True).start()
    url = f"{stack.url}/v1/threads/{thread.id}/runs/{outcome.get('run')}/events"
    timeout = httpx.Timeout(30, read=seconds + 60)
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout) as r:
        for chunk in r.iter_raw():
            chunks.append((time.monotonic(), chunk))
    reader.join(120)

    # The silence on this connection starts with the backlog (the events before the pause).
    first_quiet = next(i for i, (_, chunk) in enumerate(chunks) if b"event: " not in chunk)
    base = chunks[first_quiet - 1][0]
    keepalives: list[float] = []
    print(f"a silence of {seconds:.0f} s mid-answer; GET .../events, raw, after the backlog:")
    for arrived, chunk in chunks[first_quiet:]:
        print(f"  +{arrived - base:6.2f} s  {chunk[:60]!r}")
        if b"event: " in chunk:
            break
        keepalives.append(arrived)
    intervals = [b - a for a, b in pairwise(keepalives)]
    if intervals:
        print(
            f"keep-alives: {len(keepalives)}, interval mean {statistics.mean(intervals):.2f} s "
            f"(min {min(intervals):.2f}, max {max(intervals):.2f})"
        )
    print(f"openai {openai.__version__} SDK: {outcome}")
    ok = outcome.get("status") == "completed" and outcome.get("text") == ANSWER
    sdk.close()
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=35.0)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", "The Assistants API is deprecated", DeprecationWarning)
    warnings.filterwarnings("ignore", "deprecated", DeprecationWarning)
    data_dir = Path(tempfile.mkdtemp(prefix="entities-bench-silence-"))
    try:
        with OllamaDouble() as double:
            stack = Stack(data_dir, double.host)
            try:
                return measure(stack.start(), double, args.seconds)
            finally:
                stack.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
