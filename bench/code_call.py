"""Code-call benchmark: from the model's code_interpreter call to its output at an SSE client.

One real stack (daphne web + qcluster worker in subprocesses, ``tests/stack.py``, default
settings) is pointed at the Ollama double running in this process, with an assistant whose
tools are ``[{"type": "code_interpreter"}]``. For N runs (20; ``--runs``), after 2 warm-ups,
each on its own thread, the double's first reply is a ``code_interpreter`` call of
``print(1)`` and its second, once the tool output is in the prompt, a short text answer; both
with no prompt delay and no token pacing. The run is POSTed with ``"stream": true`` and the
client notes when each of these arrives:

- ``thread.run.step.created`` of the ``tool_calls`` step (the first event that reveals the call);
- the ``thread.run.step.delta`` carrying the code (``code_interpreter.input``);
- the ``thread.run.step.delta`` carrying the logs (``code_interpreter.outputs``), then the
  step's ``thread.run.step.completed``;
- the final answer's first ``thread.message.delta``.

The double has no hook for when it writes a line; the time its responder hands out the call
(the tool-call line follows within microseconds, the same clock as the client's) stands for
"the model's code call". Each run is followed by a sandboxed ``print(1)`` run in this process
with ``tools.sandbox.execute`` (what ``bench.sandbox`` times), so the sandbox's own share is
measured under the same load. Prints p50/p95 of each part; exits 1 if a run misbehaves (the
stack's logs are printed).

    python -m bench.code_call [--runs 20] [--keep-logs DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
import httpx

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.test import override_settings  # noqa: E402

from bench.streaming import (  # noqa: E402
    MODEL,
    STREAM_TIMEOUT,
    Api,
    BenchError,
    _interrupted,
    _with_stack,
    machine,
    ms,
    p50,
    p95,
    run_events,
    say,
)
from inference.testing.ollama_double import JSON, OllamaDouble, Reply  # noqa: E402
from tests.stack import Stack  # noqa: E402
from tools.sandbox import Limits, execute, workdir_for  # noqa: E402

CODE = "print(1)"
ANSWER = "The code printed 1."
WARMUP_RUNS = 2

# (label, from, to): the parts of the way from the call to the answer, by the marks of CodeCall.
PARTS = [
    ("code call (double) -> tool step created", "called", "step_created"),
    ("step created -> code delta", "step_created", "code"),
    ("code delta -> logs delta (runs the code)", "code", "logs"),
    ("logs delta -> step completed", "logs", "step_completed"),
    ("logs delta -> answer's first text delta", "logs", "text"),
]
TOTALS = [
    ("code call (double) -> logs at the client", "called", "logs"),
    ("tool step created -> logs at the client", "step_created", "logs"),
    ("POST -> tool step created", "started", "step_created"),
]


class CodeCaller:
    """The double's replies: a code call of ``print(1)``, then, after its output, an answer.
    Notes when it hands out each call (perf_counter, the clock the client uses)."""

    def __init__(self) -> None:
        self.called_at: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, body: JSON) -> Reply:
        messages = body.get("messages") or []
        if messages and messages[-1].get("role") == "tool":
            return Reply(content=ANSWER, delay_before_first_token=0)
        with self._lock:
            self.called_at.append(time.perf_counter())
        call = {"name": "code_interpreter", "arguments": {"code": CODE}}
        return Reply(tool_calls=[call], tool_calls_at=0, delay_before_first_token=0)


@dataclass
class CodeCall:
    """What a client saw of one streamed run with a code call, perf_counter() timestamps."""

    started: float
    marks: dict[str, float] = field(default_factory=dict)
    logs: str = ""
    text: str = ""
    names: list[str] = field(default_factory=list)

    def mark(self, name: str, at: float) -> None:
        self.marks.setdefault(name, at)

    def check(self) -> None:
        expected = ("step_created", "code", "logs", "step_completed", "text")
        missing = [m for m in expected if m not in self.marks]
        problems = [f"no {', '.join(missing)}"] if missing else []
        if self.logs != "1\n":
            problems.append(f"logs {self.logs!r}, expected '1\\n'")
        if self.text != ANSWER:
            problems.append(f"answer {self.text!r}")
        if self.names[-2:] != ["thread.run.completed", "done"]:
            problems.append(f"ended with {self.names[-2:]}")
        if problems:
            raise BenchError("; ".join(problems))


def _code_call_parts(payload: JSON) -> list[JSON]:
    details = payload.get("delta", {}).get("step_details", {})
    if details.get("type") != "tool_calls":
        return []
    return [c.get("code_interpreter") or {} for c in details.get("tool_calls") or []]


def stream_code_call(http: httpx.Client, thread_id: str, assistant_id: str) -> CodeCall:
    """POST a streamed run and read its SSE to the end, marking the code call's events."""
    run = CodeCall(started=time.perf_counter())
    deadline = run.started + STREAM_TIMEOUT
    try:
        for _, name, data, now in run_events(http, thread_id, assistant_id, deadline, "a run"):
            run.names.append(name)
            payload: Any = json.loads(data) if data.startswith("{") else {}
            is_tool_step = payload.get("step_details", {}).get("type") == "tool_calls"
            if name == "thread.run.step.created" and is_tool_step:
                run.mark("step_created", now)
            elif name == "thread.run.step.completed" and is_tool_step:
                run.mark("step_completed", now)
            elif name == "thread.run.step.delta":
                for part in _code_call_parts(payload):
                    if part.get("input"):
                        run.mark("code", now)
                    for output in part.get("outputs") or []:
                        if output.get("type") == "logs":
                            run.mark("logs", now)
                            run.logs += output["logs"]
            elif name == "thread.message.delta":
                run.mark("text", now)
                run.text += payload["delta"]["content"][0]["text"]["value"]
    except (BenchError, httpx.HTTPError) as exc:
        last = run.names[-1] if run.names else "none"
        raise BenchError(f"{thread_id}: {exc} [{len(run.names)} events, last {last}]") from exc
    run.check()
    return run


@dataclass
class Result:
    runs: list[CodeCall] = field(default_factory=list)
    sandboxed: list[float] = field(default_factory=list)  # seconds, tools.sandbox.execute
    load_avg: list[float] = field(default_factory=list)  # 1-minute, at start and at end

    def span(self, start: str, end: str) -> list[float]:
        return [r.marks[end] - r.marks[start] for r in self.runs]


def bench_code_calls(stack: Stack, caller: CodeCaller, runs: int, result: Result) -> None:
    api = Api(stack)
    try:
        tools = [{"type": "code_interpreter"}]
        api.assistant_id = api.post("/assistants", {"model": MODEL, "tools": tools})["id"]
        threads = [api.thread("Print 1 with Python.") for _ in range(WARMUP_RUNS + runs)]
        limits = Limits.from_settings()
        with override_settings(DATA_DIR=stack.data_dir):
            workdir = workdir_for("thread_bench")
            for index, thread_id in enumerate(threads):
                calls = len(caller.called_at)
                run = stream_code_call(api.http, thread_id, api.assistant_id)
                if len(caller.called_at) != calls + 1:
                    raise BenchError(f"{thread_id}: the double handed out no single code call")
                run.marks["called"] = caller.called_at[-1]
                run.marks["started"] = run.started
                began = time.perf_counter()
                check = execute(CODE, workdir=workdir, limits=limits)
                sandboxed = time.perf_counter() - began
                if check.stdout != "1\n" or not check.sandboxed:
                    raise BenchError(f"the sandbox does not work here: {check}")
                if index >= WARMUP_RUNS:
                    result.runs.append(run)
                    result.sandboxed.append(sandboxed)
    finally:
        api.close()


def table_rows(result: Result) -> list[tuple[str, str]]:
    def cell(values: list[float]) -> str:
        return f"{ms(p50(values)):.1f} / {ms(p95(values)):.1f}"

    n = len(result.runs)
    rows = [(f"{label} (ms)", cell(result.span(a, b))) for label, a, b in TOTALS]
    rows += [(f"   {label} (ms)", cell(result.span(a, b))) for label, a, b in PARTS]
    rows.append(("sandboxed print(1), tools.sandbox.execute (ms)", cell(result.sandboxed)))
    rows.append(
        ("load average (1 min) start / end", " / ".join(f"{v:.2f}" for v in result.load_avg))
    )
    return [(f"p50 / p95, n={n}", ""), *rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.code_call",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=20, help="measured runs (after 2 warm-ups)")
    parser.add_argument(
        "--keep-logs", type=Path, metavar="DIR", help="copy the stack's web/worker log here"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # django.setup() made it log requests

    say("Entities code-call benchmark")
    for line in machine({}):
        if line.split(":", 1)[0] in ("date", "machine", "python", "packages"):
            say(line)
    say(f"command:  python -m bench.code_call {' '.join(sys.argv[1:])}".rstrip())
    say(
        f"settings: WORKERS={os.environ.get('WORKERS', '4 (default)')}, "
        f"Q_POLL_SECONDS={os.environ.get('Q_POLL_SECONDS', '0.01 (default)')}, sandbox limits "
        "from the settings"
    )

    result = Result(load_avg=[os.getloadavg()[0]])
    caller = CodeCaller()
    # Not under a 0700 temporary directory: the sandbox's unprivileged uid must reach DATA_DIR.
    tmp = Path(tempfile.mkdtemp(prefix="entities-bench-code-call-"))
    tmp.chmod(0o711)
    error = None
    try:
        with OllamaDouble(responder=caller) as double:
            say(f"starting a stack; {args.runs} runs (+{WARMUP_RUNS}) of a code call of {CODE}")
            _with_stack(
                tmp / "stack",
                double,
                {},
                lambda stack: bench_code_calls(stack, caller, args.runs, result),
                args.keep_logs,
            )
    except BenchError as exc:
        error = str(exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.load_avg.append(os.getloadavg()[0])
    if error:
        say(f"=== FAILED ===\n{error}")
        return 1
    say("")
    rows = table_rows(result)
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        say((label.ljust(width) + value).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
