"""Runs: creating, cancelling, taking tool outputs. Executing them is the run engine's work."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from entities.api.wire import ThreadSerializer
from entities.errors import Conflict, InvalidRequest
from entities.models import Assistant, Run, RunStep, Thread, User
from entities.services.rows import locked, save_fields
from inference.events import record_events, run_event, step_event
from inference.live import publish, thread_group
from inference.tasks import enqueue_run
from tools.calls import forced_tool
from tools.functions import with_server_schema

from .threads import message_create

DEFAULT_TRUNCATION = {"type": "auto", "last_messages": None}


def _active_run(thread: Thread) -> Run | None:
    return thread.runs.filter(status__in=Run.ACTIVE_STATUSES).first()


def _conflict(run: Run | None, thread: Thread) -> Conflict:
    detail = f" {run.id} is {run.status}" if run else ""
    return Conflict(
        f"Thread {thread.id} already has an active run;{detail}. Wait for it to end or cancel it.",
        code="thread_run_active",
    )


def _check_tool_choice(tool_choice: Any, tools: list[dict[str, Any]]) -> None:
    named = forced_tool(tool_choice)
    if named is None:
        return
    names = {t["function"]["name"] if t.get("type") == "function" else t.get("type") for t in tools}
    if named not in names:
        kind = "the tool" if named == "code_interpreter" else "the function"
        raise InvalidRequest(
            f"tool_choice names {kind} '{named}', which this run's tools do not include.",
            param="tool_choice",
        )


@transaction.atomic
def run_create(
    *,
    thread: Thread,
    assistant: Assistant,
    created_by: User,
    additional_messages: list[dict[str, Any]] | None = None,
    new_thread: bool = False,
    **overrides: Any,
) -> Run:
    """A queued run with the assistant's settings, overridden by those given for this run.

    ``new_thread``: the thread was made with the run (create thread and run); the run's events
    then start with ``thread.created``, as OpenAI's stream does.
    """
    if (active := _active_run(thread)) is not None:
        raise _conflict(active, thread)
    for index, message in enumerate(additional_messages or []):
        message_create(
            thread=thread,
            author=created_by,
            param_prefix=f"additional_messages[{index}].",
            **message,
        )

    def pick(name: str, default: Any) -> Any:
        value = overrides.get(name)
        return default if value is None else value

    now = timezone.now()
    run = Run(
        thread=thread,
        assistant=assistant,
        created_by=created_by,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.RUN_EXPIRES_SECONDS),
        model=pick("model", assistant.model),
        instructions=pick("instructions", assistant.instructions or ""),
        additional_instructions=overrides.get("additional_instructions"),
        tools=[with_server_schema(t) for t in pick("tools", assistant.all_tools())],
        metadata=pick("metadata", {}),
        temperature=pick("temperature", assistant.temperature),
        top_p=pick("top_p", assistant.top_p),
        max_prompt_tokens=overrides.get("max_prompt_tokens"),
        max_completion_tokens=overrides.get("max_completion_tokens"),
        truncation_strategy=pick("truncation_strategy", DEFAULT_TRUNCATION),
        response_format=pick("response_format", assistant.response_format),
        tool_choice=pick("tool_choice", "auto"),
        parallel_tool_calls=pick("parallel_tool_calls", True),
    )
    _check_tool_choice(run.tool_choice, run.tools)
    try:
        with transaction.atomic():
            run.save(force_insert=True)
    except IntegrityError:
        # Another request started a run on this thread between our check and our insert.
        raise _conflict(_active_run(thread), thread) from None
    created = run_event(run)
    events = [("thread.run.created", created[1]), created]
    if new_thread:
        events.insert(0, ("thread.created", dict(ThreadSerializer(thread).data)))
    record_events(run, events, after=0)  # a new run
    transaction.on_commit(lambda: enqueue_run(run.id))
    # Participants with the thread open (entities.chat.consumers) follow the new run live.
    notice = {"type": "thread.run", "run_id": run.id, "origin": None}
    transaction.on_commit(lambda: publish(thread_group(thread.id), notice))
    return run


def run_update(*, run: Run, metadata: dict[str, str]) -> Run:
    run.metadata = metadata
    save_fields(run, "run", ["metadata"])
    return run


@transaction.atomic
def run_cancel(*, run: Run) -> Run:
    """Cancel at once when no worker holds the run; otherwise ask the worker (``cancelling``)."""
    run = locked(Run.objects.all(), "run", run.pk)
    if run.status in (Run.Status.QUEUED, Run.Status.REQUIRES_ACTION):
        # No worker holds the run: it ends here, and its events are ours to write.
        now = timezone.now()
        run.status = Run.Status.CANCELLED
        run.cancelled_at = now
        run.required_action = None
        run.save(update_fields=["status", "cancelled_at", "required_action"])
        events = []
        for step in run.steps.filter(status=RunStep.Status.IN_PROGRESS):
            step.status = RunStep.Status.CANCELLED
            step.cancelled_at = now
            step.save(update_fields=["status", "cancelled_at"])
            events.append(step_event(step, "cancelled"))
        record_events(run, [*events, run_event(run)])
    elif run.status == Run.Status.IN_PROGRESS:
        run.status = Run.Status.CANCELLING
        run.save(update_fields=["status"])
    elif run.status != Run.Status.CANCELLING:
        raise InvalidRequest(
            f"Cannot cancel run with status '{run.status}'.", code="run_not_active"
        )
    return run


@transaction.atomic
def run_submit_tool_outputs(*, run: Run, tool_outputs: list[dict[str, str]]) -> Run:
    """Record the outputs of every pending tool call on its step and queue the run again."""
    run = locked(Run.objects.all(), "run", run.pk)
    if run.status != Run.Status.REQUIRES_ACTION or not run.required_action:
        raise InvalidRequest(
            f"Runs in status '{run.status}' do not accept tool outputs.", code="run_not_waiting"
        )
    if run.expires_at is not None and run.expires_at <= timezone.now():
        # Past its deadline the run is as good as expired (the reaper has yet to mark it).
        raise InvalidRequest(
            f"Run {run.id} expired at {run.expires_at.isoformat()}; it no longer accepts tool "
            "outputs.",
            code="run_expired",
        )
    pending = [c["id"] for c in run.required_action["submit_tool_outputs"]["tool_calls"]]
    given: dict[str, str] = {}
    for index, item in enumerate(tool_outputs):
        call_id = item["tool_call_id"]
        if call_id not in pending:
            raise InvalidRequest(
                f"No tool call with id '{call_id}' is waiting for output in this run.",
                param=f"tool_outputs[{index}].tool_call_id",
            )
        if call_id in given:
            raise InvalidRequest(
                f"The output of tool call '{call_id}' is given twice.",
                param=f"tool_outputs[{index}].tool_call_id",
            )
        given[call_id] = item.get("output") or ""
    missing = [call_id for call_id in pending if call_id not in given]
    if missing:
        raise InvalidRequest(
            f"Outputs are missing for tool call(s): {', '.join(missing)}.", param="tool_outputs"
        )
    events = []
    step = run.steps.filter(type=RunStep.Type.TOOL_CALLS, status=RunStep.Status.IN_PROGRESS).last()
    if step is not None:
        for call in step.step_details.get("tool_calls", []):
            if call["id"] in given:
                call["function"]["output"] = given[call["id"]]
        step.status = RunStep.Status.COMPLETED
        step.completed_at = timezone.now()
        step.save(update_fields=["step_details", "status", "completed_at"])
        events.append(step_event(step, "completed"))
    run.required_action = None
    run.status = Run.Status.QUEUED
    run.attempts = 0  # a fresh claim: the reaper may retry it once again
    run.save(update_fields=["required_action", "status", "attempts"])
    record_events(run, [*events, run_event(run)])
    transaction.on_commit(lambda: enqueue_run(run.id))
    return run
