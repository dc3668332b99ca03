"""The run engine: one run, from queued to an end, on whatever provider its model names.

``execute_run`` is called by the django-q2 task with a run id. It claims the run (so each run
executes once however often the task is delivered), builds the prompt, streams the answer
into an assistant message, and ends the run in exactly one terminal status with its events.
A watcher thread keeps the run's heartbeat (for the reaper) and closes the model's stream
within a moment of a cancel.
"""

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from entities.models import Message, Run, RunStep

from . import events as ev
from .prompt import PromptTooLong, build_prompt
from .providers import ChatRequest, ChatStream, ProviderError, resolve

log = logging.getLogger(__name__)

# Once per run, a transient provider error before any output is tried again after this pause.
RETRY_PAUSE_SECONDS = 1.0


class RunWatch(threading.Thread):
    """Beats the run's heart and notices a cancel while the worker waits on the model."""

    def __init__(self, run_id: str) -> None:
        super().__init__(name=f"watch-{run_id}", daemon=True)
        self.run_id = run_id
        self.cancelled = threading.Event()
        self.stream: ChatStream | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        last_beat = 0.0
        try:
            while not self._halt.wait(settings.RUN_CANCEL_CHECK_SECONDS):
                now = time.monotonic()
                query = Run.objects.filter(pk=self.run_id)
                if now - last_beat >= settings.RUN_HEARTBEAT_SECONDS:
                    query.update(heartbeat_at=timezone.now())
                    last_beat = now
                if query.filter(status=Run.Status.CANCELLING).exists():
                    self.cancelled.set()
                    if self.stream is not None:
                        self.stream.close()
                    return
        finally:
            close_old_connections()

    def stop(self) -> None:
        self._halt.set()


def _claim(run_id: str) -> Run | None:
    """Move the run from queued to in_progress; None when it is not queued (taken, ended)."""
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != Run.Status.QUEUED:
            return None
        if run.expires_at is not None and run.expires_at <= now:
            run.status = Run.Status.EXPIRED
            run.save(update_fields=["status"])
            ev.record_events(run, [ev.run_event(run)])
            return None
        run.status = Run.Status.IN_PROGRESS
        run.started_at = run.started_at or now
        run.heartbeat_at = now
        run.attempts += 1
        run.save(update_fields=["status", "started_at", "heartbeat_at", "attempts"])
    return run


class Turn:
    """One pass of the model over the thread, streaming into a new assistant message."""

    def __init__(self, run: Run, recorder: ev.EventRecorder, watch: RunWatch) -> None:
        self.run = run
        self.recorder = recorder
        self.watch = watch
        self.message: Message | None = None
        self.step: RunStep | None = None
        self.text: list[str] = []
        self.thinking: list[str] = []
        self._saved_len = 0
        recorder.on_flush = self._save_progress

    def _save_progress(self) -> None:
        """Keep the stored message as far along as the stream (REST readers see it grow)."""
        if self.message is not None and len(self.text) != self._saved_len:
            self._saved_len = len(self.text)
            Message.objects.filter(pk=self.message.pk).update(
                content=_text_content("".join(self.text)), thinking="".join(self.thinking)
            )

    def _start_output(self) -> None:
        run = self.run
        self.message = Message.objects.create(
            thread_id=run.thread_id,
            role=Message.Role.ASSISTANT,
            content=[],
            assistant_id=run.assistant_id,
            run=run,
            status=Message.Status.IN_PROGRESS,
        )
        self.step = RunStep.objects.create(
            run=run,
            type=RunStep.Type.MESSAGE_CREATION,
            step_details={
                "type": "message_creation",
                "message_creation": {"message_id": self.message.id},
            },
        )
        self.step.run = run
        emit = self.recorder.emit
        emit(*ev.step_event(self.step, "created"))
        emit(*ev.step_event(self.step, "in_progress"))
        emit(*ev.message_event(self.message, "created"))
        emit(*ev.message_event(self.message, "in_progress"))

    def execute(self) -> None:
        run = self.run
        provider, model = resolve(run.model)
        info = provider.model_info(model)
        context = settings.OLLAMA_NUM_CTX or info.context_length
        try:
            prompt = build_prompt(run, context_window=context)
        except PromptTooLong as exc:
            _finish(run, self.recorder, Run.Status.INCOMPLETE, incomplete="max_prompt_tokens")
            log.info("Run %s: %s", run.id, exc)
            return
        request = ChatRequest(
            model=model,
            messages=prompt.messages,
            temperature=run.temperature,
            top_p=run.top_p,
            max_tokens=run.max_completion_tokens,
            context_length=settings.OLLAMA_NUM_CTX,
            response_format=run.response_format,
            think="thinking" in info.capabilities,
        )
        self._start_output()
        assert self.message is not None
        done_reason = None
        usage: dict[str, int] = {}
        for attempt in (1, 2):
            stream = provider.chat(request)
            self.watch.stream = stream
            if self.watch.cancelled.is_set():
                break
            try:
                for chunk in stream:
                    if chunk.thinking:
                        self.thinking.append(chunk.thinking)
                    if chunk.content:
                        self.text.append(chunk.content)
                        self.recorder.emit(
                            "thread.message.delta",
                            ev.text_delta(self.message.id, chunk.content),
                            flush=False,
                        )
                    if chunk.done:
                        done_reason = chunk.done_reason
                        usage = {
                            "prompt_tokens": chunk.prompt_tokens or 0,
                            "completion_tokens": chunk.completion_tokens or 0,
                        }
                break
            except ProviderError as exc:
                if exc.permanent or self.text or self.thinking or attempt == 2:
                    raise
                if self.watch.cancelled.wait(RETRY_PAUSE_SECONDS):
                    break
                log.warning("Run %s: retrying once after: %s", run.id, exc.message)
        if usage:
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            run.usage = usage
        if self.watch.cancelled.is_set():
            self.end(Run.Status.CANCELLED, message_incomplete="run_cancelled")
        elif done_reason == "length":
            self.end(
                Run.Status.INCOMPLETE,
                message_incomplete="max_tokens",
                incomplete="max_completion_tokens",
            )
        else:
            self.end(Run.Status.COMPLETED)

    def end(
        self,
        status: str,
        *,
        message_incomplete: str | None = None,
        incomplete: str | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        """Close the message and step as the run ends, then end the run."""
        now = timezone.now()
        emit = self.recorder.emit
        if self.message is not None:
            message = self.message
            message.content = _text_content("".join(self.text)) if self.text else []
            message.thinking = "".join(self.thinking)
            if message_incomplete:
                message.status = Message.Status.INCOMPLETE
                message.incomplete_at = now
                message.incomplete_details = {"reason": message_incomplete}
            else:
                message.status = Message.Status.COMPLETED
                message.completed_at = now
            message.save()
            self._saved_len = len(self.text)
            emit(*ev.message_event(message, "incomplete" if message_incomplete else "completed"))
        if self.step is not None:
            step = self.step
            step_status = RunStep.Status.COMPLETED
            if status == Run.Status.CANCELLED:
                step_status = RunStep.Status.CANCELLED
            elif status == Run.Status.FAILED:
                step_status = RunStep.Status.FAILED
            step.status = step_status
            setattr(step, f"{step_status}_at", now)
            step.last_error = error
            step.usage = self.run.usage
            step.save()
            emit(*ev.step_event(step, step_status))
        _finish(self.run, self.recorder, status, incomplete=incomplete, error=error)


def _text_content(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"value": text, "annotations": []}}]


def _finish(
    run: Run,
    recorder: ev.EventRecorder,
    status: str,
    *,
    incomplete: str | None = None,
    error: dict[str, str] | None = None,
) -> None:
    now = timezone.now()
    run.status = status
    run.required_action = None
    if status == Run.Status.COMPLETED:
        run.completed_at = now
    elif status == Run.Status.CANCELLED:
        run.cancelled_at = now
    elif status == Run.Status.FAILED:
        run.failed_at = now
        run.last_error = error
    elif status == Run.Status.INCOMPLETE:
        run.incomplete_details = {"reason": incomplete}
        run.completed_at = now
    run.save()
    recorder.emit(*ev.run_event(run))
    recorder.flush()


def execute_run(run_id: str) -> None:
    run = _claim(run_id)
    if run is None:
        return
    recorder = ev.EventRecorder(run.id)
    recorder.emit(*ev.run_event(run))
    watch = RunWatch(run.id)
    watch.start()
    turn = Turn(run, recorder, watch)
    try:
        turn.execute()
    except ProviderError as exc:
        log.warning("Run %s failed: %s", run.id, exc.message)
        turn.end(
            Run.Status.FAILED,
            message_incomplete="run_failed",
            error={"code": exc.code, "message": exc.message},
        )
    except Exception as exc:
        log.exception("Run %s failed on an internal error", run.id)
        turn.end(
            Run.Status.FAILED,
            message_incomplete="run_failed",
            error={"code": "server_error", "message": f"Internal error: {exc}"},
        )
    finally:
        watch.stop()
