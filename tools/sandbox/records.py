"""Keeping executions for the admin."""

from tools.models import SandboxExecution

from .execution import Execution

# Enough of the output to see what happened; the model got the whole (capped) output already.
EXCERPT_CHARS = 10_000
CODE_CHARS = 100_000


def _excerpt(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… {len(text) - limit} more characters not kept]"


def record_execution(
    *, execution: Execution, code: str, run_id: str = "", thread_id: str = ""
) -> SandboxExecution:
    return SandboxExecution.objects.create(
        run_id=run_id,
        thread_id=thread_id,
        code=_excerpt(code, CODE_CHARS),
        stdout=_excerpt(execution.stdout, EXCERPT_CHARS),
        stderr=_excerpt(execution.stderr, EXCERPT_CHARS),
        exit_code=execution.exit_code,
        duration_seconds=execution.duration_seconds,
        limit_hit=execution.limit_hit,
        files=[f.path for f in execution.files],
        skipped=list(execution.skipped),
        sandboxed=execution.sandboxed,
    )
