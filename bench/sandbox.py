"""Sandbox benchmark: what bubblewrap and the runner add to starting Python, measured in-process.

N times each (30; ``--runs``), alternating so load changes hit every kind alike, and after a
few warm-up runs:

1. **plain**: ``python -c "print(1)"`` with the sandbox Python, through ``subprocess.run``;
2. **runner**: the same Python running our runner (limits, ``<code>``, status pipe) on
   ``print(1)``, without bubblewrap: what the runner costs;
3. **sandboxed**: ``tools.sandbox.execute("print(1)")``, everything included: bubblewrap's
   namespaces and mounts, the workdir listing before and after, waiting for the namespace to
   empty.

Prints the median and p90 of each and the sandbox's median overhead over plain (target: at most
60 ms on 2 cores). ``--imports`` also times ``import numpy, pandas, matplotlib.pyplot`` inside.
A missed target is reported, not an error; exits 1 only if the sandbox does not work.

    python -m bench.sandbox [--runs 30] [--imports]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.test import override_settings  # noqa: E402

from tools.sandbox import Limits, execute, workdir_for  # noqa: E402
from tools.sandbox.bubblewrap import interpreter, runner_command, sandbox_env  # noqa: E402

TARGET_OVERHEAD_MS = 60.0
WARMUP = 3


def timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[max(0, round(0.9 * len(ordered)) - 1)]
    return f"  {name:<10} median {statistics.median(samples):7.1f} ms   p90 {p90:7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--imports", action="store_true", help="also time the data stack import")
    args = parser.parse_args(argv)

    python = str(settings.SANDBOX_PYTHON)
    limits = Limits.from_settings()
    data_dir = Path(tempfile.mkdtemp(prefix="entities-bench-sandbox-"))
    data_dir.chmod(0o711)
    try:
        with override_settings(DATA_DIR=data_dir):
            workdir = workdir_for("thread_bench")
            check = execute("print(1)", workdir=workdir, limits=limits)
            if check.stdout != "1\n" or not check.sandboxed:
                print(f"the sandbox does not work: {check}", file=sys.stderr)
                return 1

            status_r, status_w = os.pipe()
            runner = runner_command(
                interpreter(python), status_fd=status_w, data_dir=str(workdir), limits=limits
            )

            def plain() -> None:
                subprocess.run([python, "-c", "print(1)"], capture_output=True, check=True)

            def unsandboxed_runner() -> None:
                subprocess.run(
                    runner,
                    input=b"print(1)",
                    capture_output=True,
                    check=True,
                    pass_fds=(status_w,),
                    env=sandbox_env(interpreter(python)),
                )
                os.read(status_r, 4096)

            def sandboxed() -> None:
                execute("print(1)", workdir=workdir, limits=limits)

            kinds: dict[str, Callable[[], None]] = {
                "plain": plain,
                "runner": unsandboxed_runner,
                "sandboxed": sandboxed,
            }
            samples: dict[str, list[float]] = {name: [] for name in kinds}
            for round_ in range(WARMUP + args.runs):
                for name, action in kinds.items():
                    elapsed = timed(action)
                    if round_ >= WARMUP:
                        samples[name].append(elapsed)

            imports = None
            if args.imports:
                code = "import numpy, pandas, matplotlib.pyplot"

                def data_stack() -> None:
                    execute(code, workdir=workdir, limits=limits)

                imports = [timed(data_stack) for _ in range(5)]
            os.close(status_r)
            os.close(status_w)
    finally:
        shutil.rmtree(data_dir)

    overhead = statistics.median(samples["sandboxed"]) - statistics.median(samples["plain"])
    print(f"Sandbox start-up, {args.runs} runs each ({platform.node()}, {os.cpu_count()} CPUs)")
    print(f"  interpreter {python}")
    for name, values in samples.items():
        print(summary(name, values))
    runner_cost = statistics.median(samples["runner"]) - statistics.median(samples["plain"])
    rest = overhead - runner_cost
    print(f"  the runner adds {runner_cost:.1f} ms; bubblewrap and the rest {rest:.1f} ms")
    verdict = "met" if overhead <= TARGET_OVERHEAD_MS else "MISSED"
    target = f"target <= {TARGET_OVERHEAD_MS:.0f} ms: {verdict}"
    print(f"  overhead (sandboxed - plain): {overhead:.1f} ms, {target}")
    if imports:
        print(summary("imports", imports) + "   (import numpy, pandas, matplotlib.pyplot; 5 runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
