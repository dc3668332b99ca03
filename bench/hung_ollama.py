"""When a run fails against an Ollama that stops answering, phase by phase (docs/runs.md).

Three real stacks (daphne web + qcluster worker, ``tests/stack.py``, the default deadlines
unless ``--env`` sets others) run at once, each on an Ollama double of its own that:

- takes connections and answers nothing (``hang()``): the run waits on the model's lookup;
- answers everything but ``/api/chat``: the run waits on its chat's first byte;
- sends a first token after ``--first-token`` seconds (200) and nothing after it: the run
  waits on the next line.

For each it prints the seconds from the run's POST to its end (as a client polling it every
0.2 s sees it), its status and ``last_error``, and how many ``/api/show`` and ``/api/chat``
requests the double received (one each: a deadline passed is not tried again).

    python -m bench.hung_ollama [--first-token 200] [--env KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from inference.testing.ollama_double import OllamaDouble, Reply
from tests.stack import Stack


def measure(
    setup: Callable[[OllamaDouble], None], env: dict[str, str], into: dict[str, Any], name: str
) -> None:
    with OllamaDouble() as double:
        data_dir = Path(tempfile.mkdtemp(prefix="bench-hung-"))
        stack = Stack(data_dir, double.host, **env)
        try:
            stack.start()
            headers = {"Authorization": f"Bearer {stack.api_key('alice')}"}
            with httpx.Client(base_url=f"{stack.url}/v1", headers=headers, timeout=30) as http:
                assistant = http.post("/assistants", json={"model": "llama3.1"}).json()
                first = [{"role": "user", "content": "go"}]
                thread = http.post("/threads", json={"messages": first}).json()
                setup(double)
                started = time.monotonic()
                path = f"/threads/{thread['id']}/runs"
                run = http.post(path, json={"assistant_id": assistant["id"]}).json()
                while (run := http.get(f"{path}/{run['id']}").json())["status"] in (
                    "queued",
                    "in_progress",
                ):
                    time.sleep(0.2)
                into[name] = {
                    "seconds": round(time.monotonic() - started, 1),
                    "status": run["status"],
                    "last_error": (run["last_error"] or {}).get("message"),
                    "/api/show": len(double.requests_to("/api/show")),
                    "/api/chat": len(double.requests_to("/api/chat")),
                }
            double.answer()
        except Exception as exc:
            into[name] = {"error": repr(exc), "worker.log": stack.log("worker.log")}
        finally:
            stack.stop()
            shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first-token", type=float, default=200.0)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    stall = Reply(tokens=["first ", "never"], tokens_per_second=1 / args.first_token)
    cases: dict[str, Callable[[OllamaDouble], None]] = {
        "no answer at all (the lookup)": lambda double: double.hang(),
        "no answer to /api/chat (the first byte)": lambda double: double.hang("/api/chat"),
        f"a first token at {args.first_token:g}s, then nothing": lambda double: double.enqueue(
            stall
        ),
    }
    results: dict[str, Any] = {}
    threads = [
        threading.Thread(target=measure, args=(setup, env, results, name))
        for name, setup in cases.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in cases:
        print(f"{name}: {results.get(name)}")
    return 1 if any("error" in result for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
