"""Scale benchmark: sustained runs per second and time-to-first-token with 1, 2 and 4 workers.

A team stack in real processes (``tests/team/stack.py``): two daphne web processes and N
qcluster workers (each of ``--processes`` worker processes) on PostgreSQL and Redis, with two
Ollama doubles in this process as the Ollama hosts. Each reply is ``--tokens`` numbered tokens
at ``--rate`` tokens/s, so a run keeps a worker process busy for about tokens / rate seconds.

For each N, two loads, each for ``--seconds`` after a warm-up:

- **saturated**: twice as many clients as worker processes, each starting a streamed run
  (``POST /v1/threads/{id}/runs`` with ``"stream": true``) as soon as its last one ended.
  Runs wait in the queue: the runs per second are the most N workers sustain.
- **matched**: as many clients as worker processes. Nothing waits: time-to-first-token is
  what Entities adds to a free worker (the doubles answer at once).

Time-to-first-token is measured at the client, from sending the POST to the first
``thread.message.delta``. Every run is checked: completed, every token once and in order.
Figures depend on the machine: the Ollama doubles stand in for GPUs, so this measures
Entities' own capacity, which a team compares with its GPUs' (runs/s ≈ concurrent generations
/ seconds per answer).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        python -m bench.scale [--workers 1,2,4] [--processes 4] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from inference.testing.ollama_double import JSON, OllamaDouble, Reply
from tests.team.stack import TeamStack

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Outcome:
    ttft: list[float] = field(default_factory=list)
    ended_at: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def numbered(tokens: int, rate: float) -> Callable[[JSON], Reply]:
    def reply(body: JSON) -> Reply:
        n = str(body["messages"][-1]["content"]).split()[-1]
        return Reply(content=" ".join(f"{n}.{k}" for k in range(tokens)), tokens_per_second=rate)

    return reply


def one_run(http: httpx.Client, assistant_id: str, n: int, tokens: int, outcome: Outcome) -> None:
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": f"run {n}"}]})
    body = {"assistant_id": assistant_id, "stream": True}
    started = time.monotonic()
    first: float | None = None
    text, last = [], ""
    with http.stream("POST", f"/threads/{thread.json()['id']}/runs", json=body) as response:
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == "thread.message.delta":
                first = first or time.monotonic()
                text.append(json.loads(line[6:])["delta"]["content"][0]["text"]["value"])
            elif line.startswith("data: ") and name.startswith("thread.run."):
                last = name
    expected = [f"{n}.{k}" for k in range(tokens)]
    if last != "thread.run.completed" or "".join(text).split() != expected or first is None:
        outcome.errors.append(f"run {n}: {last}, {len(text)} deltas")
        return
    outcome.ttft.append(first - started)
    outcome.ended_at.append(time.monotonic())


def load(
    stack: TeamStack,
    key: str,
    assistant_id: str,
    *,
    clients: int,
    seconds: float,
    warmup: float,
    tokens: int,
) -> tuple[float, Outcome]:
    """Runs per second over the measured window, and the runs started in it."""
    outcome, counter, lock = Outcome(), [0], threading.Lock()
    begin = time.monotonic()
    window = (begin + warmup, begin + warmup + seconds)

    def client(index: int) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        url = f"{stack.urls[index % len(stack.urls)]}/v1"
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            while time.monotonic() < window[1]:
                with lock:
                    counter[0] += 1
                    n = counter[0]
                measured = Outcome()
                in_window = time.monotonic() >= window[0]
                try:
                    one_run(http, assistant_id, n, tokens, measured)
                except httpx.HTTPError as exc:
                    measured.errors.append(f"run {n}: {exc!r}")
                with lock:
                    if in_window:
                        outcome.ttft += measured.ttft
                    outcome.errors += measured.errors
                    outcome.ended_at += measured.ended_at

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    done = [t for t in outcome.ended_at if window[0] <= t <= window[1]]
    return len(done) / seconds, outcome


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def measure(args: argparse.Namespace, workers: int) -> dict[str, object]:
    doubles = [OllamaDouble(), OllamaDouble()]
    for double in doubles:
        double.responder = numbered(args.tokens, args.rate)
        double.start()
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-scale-{workers}-"))
    stack = TeamStack(
        data_dir,
        database_url=args.database_url,
        redis_url=args.redis_url,
        OLLAMA_HOSTS=",".join(double.host for double in doubles),
        WORKERS=str(args.processes),
        LOG_LEVEL="WARNING",
    )
    try:
        stack.start(web=2, workers=workers)
        key = stack.api_key("bench")
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"{stack.urls[0]}/v1", headers=headers) as http:
            assistant_id = http.post("/assistants", json={"model": "llama3.1"}).json()["id"]
        processes = workers * args.processes
        row: dict[str, object] = {"workers": workers, "processes": processes}
        for name, clients in (("saturated", 2 * processes), ("matched", processes)):
            rate, outcome = load(
                stack,
                key,
                assistant_id,
                clients=clients,
                seconds=args.seconds,
                warmup=args.warmup,
                tokens=args.tokens,
            )
            row[f"{name}_runs_per_second"] = rate
            row[f"{name}_ttft_p50"] = p(outcome.ttft, 50)
            row[f"{name}_ttft_p95"] = p(outcome.ttft, 95)
            row[f"{name}_errors"] = outcome.errors
        return row
    finally:
        stack.stop()
        for double in doubles:
            double.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--workers", default="1,2,4", help="worker clusters to try: %(default)s")
    parser.add_argument("--processes", type=int, default=4, help="WORKERS of each: %(default)s")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured: %(default)s")
    parser.add_argument("--warmup", type=float, default=3.0, help="not measured: %(default)s")
    parser.add_argument("--tokens", type=int, default=50, help="tokens a reply: %(default)s")
    parser.add_argument("--rate", type=float, default=100.0, help="tokens/s: %(default)s")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL)
    args = parser.parse_args(argv)

    print(
        f"# bench.scale on {platform.node()}: {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; 2 web processes, replies of {args.tokens} tokens at "
        f"{args.rate:g} tok/s ({args.tokens / args.rate:.2f} s a run), {args.seconds:g} s measured"
    )
    rows = [measure(args, int(n)) for n in args.workers.split(",")]
    print()
    print(
        "| workers | worker processes | saturated runs/s | saturated TTFT p50 / p95 "
        "| matched runs/s | matched TTFT p50 / p95 | errors |"
    )
    print("|---|---|---|---|---|---|---|")
    failed = False
    for row in rows:
        errors = len(row["saturated_errors"]) + len(row["matched_errors"])  # type: ignore[arg-type]
        failed = failed or errors > 0
        print(
            f"| {row['workers']} | {row['processes']} "
            f"| {row['saturated_runs_per_second']:.1f} "
            f"| {row['saturated_ttft_p50']:.3f} / {row['saturated_ttft_p95']:.3f} s "
            f"| {row['matched_runs_per_second']:.1f} "
            f"| {row['matched_ttft_p50']:.3f} / {row['matched_ttft_p95']:.3f} s | {errors} |"
        )
    for row in rows:
        for error in [*row["saturated_errors"], *row["matched_errors"]][:5]:  # type: ignore[misc]
            print(f"error with {row['workers']} workers: {error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
