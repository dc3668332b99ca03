"""The run engine: one run, from queued to an end, on whatever provider its model names.

``execute_run`` is called by the django-q2 task with a run id. It starts the model on the
first round (writing nothing), claims the run while the model works on its first token (so
each run executes once however often the task is delivered; a run it cannot claim has its
call closed), and then works in rounds: the model answers (streamed into an assistant
message) or calls tools; server-side functions run here and the model goes on; client
functions stop the run at ``requires_action`` until their outputs come back, when a worker
resumes it. Every way out ends the run in one status with its events: nothing is left running.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from entities.api.errors import error_body
from entities.database import UNAVAILABLE, again_on_new_connection
from entities.models import Message, Run, RunEvent, RunStep
from tools import calls as tool_calls
from tools import code_interpreter, text_protocol
from tools.sandbox import SandboxUnavailable
from tools.sandbox.supervise import Cancellation

from . import events as ev
from .live import publish_run_error
from .prompt import PromptTooLong, build_prompt, step_calls
from .providers import (
    ChatRequest,
    ChatStream,
    Chunk,
    ModelInfo,
    Provider,
    ProviderError,
    ToolCall,
    resolve,
)
from .providers.ollama import OllamaProvider
from .watch import RunWatch, stale_before

log = logging.getLogger(__name__)

# Once per round, a transient provider error before any output is tried again after this pause.
RETRY_PAUSE_SECONDS = 1.0
# How long the engine waits for a model request to be written before it goes on: the
# reading thread needs the interpreter lock to write it, which the engine's own work (the
# claim) would otherwise hold for milliseconds, while the model has not been asked yet.
SEND_WAIT_SECONDS = 0.05

DATABASE_LOST = (
    "The database could not be written while this run was in progress, so the run stopped; "
    "what it had said so far is kept. Start the run again once the database is back."
)

T = TypeVar("T")


@dataclass
class Claim:
    seq: int  # the number of the run's last event, its in_progress
    unchanged: bool  # its events still ended where they did when it was read
    host: str | None  # the Ollama host stored on it


def _claim(run: Run, *, seen: int | None) -> Claim | None:
    """Move the run from queued to in_progress, with the host chosen for it (``run`` is
    refreshed from its locked row). None when it is not queued (taken, ended, expired). It
    is ``unchanged`` when its events still end at ``seen``: no other delivery took it
    through a round since it was read."""
    host = run.ollama_host
    now = timezone.now()
    with transaction.atomic():
        try:
            run.refresh_from_db(from_queryset=Run.objects.select_for_update())
        except Run.DoesNotExist:
            return None
        if run.status != Run.Status.QUEUED:
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
        run.ollama_host = host or run.ollama_host
        run.save(update_fields=["status", "started_at", "heartbeat_at", "attempts", "ollama_host"])
        before = ev.last_seq(run.id)
        # In the claim's commit, not one of its own.
        seq = ev.record_events(run, [ev.run_event(run)], after=before)
        return Claim(seq, before == (seen or 0), run.ollama_host)


class _Recorder(ev.EventRecorder):
    """The engine's recorder: a batch whose write was lost with its database connection is
    written again on a new one (``Turn._stored``)."""

    def __init__(self, turn: "Turn", run_id: str, *, seq: int) -> None:
        super().__init__(run_id, seq=seq)
        self.turn = turn

    def flush(self) -> None:
        self.turn._stored(super().flush, what="Writing a batch of events")


def _text_content(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"value": text, "annotations": []}}]


_END = object()


class _Pump:
    """A model's stream, read by a thread of its own from the moment it is made: the model
    works on its first token while the engine does its bookkeeping, and a cancel ends the
    reading at once, even while the model has not sent a byte yet (a read blocked in a
    socket cannot be woken)."""

    def __init__(self, stream: ChatStream, cancelled: threading.Event) -> None:
        self.stream = stream
        self.cancelled = cancelled
        self._chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=self._read, name="model-stream", daemon=True).start()
        stream.sent.wait(SEND_WAIT_SECONDS)

    def _read(self) -> None:
        try:
            for chunk in self.stream:
                self._chunks.put(chunk)
        except BaseException as exc:  # handed to the engine's thread, raised there
            self._chunks.put(exc)
        finally:
            self.stream.sent.set()  # no request went out (refused): nothing to wait for
            self._chunks.put(_END)
            try:
                connection.close()  # if moving to another host used the database from here
            except Exception:
                log.warning("Closing the model stream thread's connection failed", exc_info=True)

    def chunks(self, idle: Callable[[], float | None]) -> Iterator[Chunk]:
        """The model's chunks. Whenever the next one is not there yet, ``idle`` is called,
        and again within the seconds it answers (None: when it likes)."""
        while True:
            try:
                item = self._chunks.get_nowait()
            except queue.Empty:
                again = idle()
                try:
                    item = self._chunks.get(timeout=0.1 if again is None else again)
                except queue.Empty:
                    if self.cancelled.is_set():
                        return
                    continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


def _past_rounds(run: Run) -> tuple[int, int]:
    """The tool rounds the run has had so far, and its calls with bad arguments: both limits
    hold per run, across the workers that resume it after requires_action."""
    if run.started_at is None:  # never claimed yet: nothing of its own to count
        return 0, 0
    steps = list(run.steps.filter(type=RunStep.Type.TOOL_CALLS))
    hint = tool_calls.ARGUMENT_ERROR_HINT
    errors = sum(
        1 for step in steps for *_, output in step_calls(step) if (output or "").endswith(hint)
    )
    return len(steps), errors


@dataclass
class RoundResult:
    calls: list[ToolCall] = field(default_factory=list)
    done_reason: str | None = None


@dataclass
class Round:
    """A call to the model under way, and what its answer is read with."""

    request: ChatRequest
    holdback: text_protocol.Holdback | None
    pump: _Pump


class Turn:
    """The run's work in one worker: rounds of the model until an answer, a wait or an end.

    ``prepare`` (before the claim) writes nothing and starts the first round; ``execute``
    (once the run is claimed and ``recorder`` set) reads it and goes on.
    """

    recorder: ev.EventRecorder
    # Set by ``prepare``.
    provider: Provider
    model: str
    info: ModelInfo
    functions: list[dict[str, Any]]
    named: str | None
    native: bool
    rounds: int

    def __init__(self, run: Run, watch: RunWatch, *, seen: int | None = None) -> None:
        self.run = run
        self.watch = watch
        self.seen = seen  # the run's last event number when it was read
        # The round started ahead, or why it could not be: raised by ``execute``.
        self.pending: Round | Exception | None = None
        self.stored_host: str | None = None  # the host the run's row names
        self.message: Message | None = None
        self.step: RunStep | None = None
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.argument_errors = 0
        # Charts the code interpreter made, shown in the next message of the run.
        self.images: list[str] = []
        self._staged = False
        self._saved_len = 0
        self._told_database_lost = False

    def record_with(self, recorder: ev.EventRecorder) -> None:
        self.recorder = recorder
        recorder.on_flush = self._save_progress

    def _stored(self, write: Callable[[], T], *, what: str) -> T:
        """``write`` (one transaction of the run's), done again on a new connection if the one
        it used was lost: what a failed attempt changed in memory is put back first."""
        recorder = self.recorder
        kept = (
            recorder.seq,
            list(recorder.pending),
            self.message,
            self.step,
            self.text,
            self.thinking,
            list(self.images),
            self._saved_len,
        )

        def undo() -> None:
            recorder.seq, pending, self.message, self.step, self.text, self.thinking = kept[:6]
            recorder.pending, self.images, self._saved_len = list(pending), list(kept[6]), kept[7]

        return again_on_new_connection(
            write,
            patience=settings.DATABASE_RECONNECT_SECONDS,
            what=f"Run {self.run.id}: {what}",
            undo=undo,
        )

    # --- the assistant message of the current round -------------------------------------

    def _save_progress(self) -> None:
        """Keep the stored message as far along as the stream (REST readers see it grow)."""
        if self.message is not None and len(self.text) != self._saved_len:
            self._saved_len = len(self.text)
            Message.objects.filter(pk=self.message.pk).update(
                content=_text_content("".join(self.text)), thinking="".join(self.thinking)
            )

    def _say(self, text: str) -> None:
        """A delta of the round's message: stored with the next batch, then sent."""
        if not text:
            return
        self.text.append(text)
        if self.message is None:
            self._open_message(first=text)
            return
        self.recorder.emit(
            "thread.message.delta", ev.text_delta(self.message.id, text), flush=False
        )

    def _open_message(self, *, first: str | None = None) -> None:
        """The round's message and its step, with their four opening events and the
        ``first`` delta: one commit."""
        self._stored(lambda: self._create_message(first), what="Opening the answer")

    def _create_message(self, first: str | None) -> None:
        run = self.run
        self._saved_len = 0  # of this message's text
        with transaction.atomic():
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
            opening = [
                ev.step_event(self.step, "created"),
                ev.step_event(self.step, "in_progress"),
                ev.message_event(self.message, "created"),
                ev.message_event(self.message, "in_progress"),
            ]
            if first:
                opening.append(("thread.message.delta", ev.text_delta(self.message.id, first)))
            self.recorder.emit_together(*opening)

    def _close_message(self, *, incomplete: str | None = None, error: Any = None) -> None:
        if self.message is None:
            return
        now = timezone.now()
        message, step = self.message, self.step
        assert step is not None
        images = [{"type": "image_file", "image_file": {"file_id": i}} for i in self.images]
        self.images = []
        message.content = images + (_text_content("".join(self.text)) if self.text else [])
        message.thinking = "".join(self.thinking)
        if incomplete:
            message.status = Message.Status.INCOMPLETE
            message.incomplete_at = now
            message.incomplete_details = {"reason": incomplete}
        else:
            message.status = Message.Status.COMPLETED
            message.completed_at = now
        with transaction.atomic():  # one commit with the deltas still waiting to be written
            message.save()
            self._saved_len = len(self.text)
            self.recorder.emit(*ev.message_event(message, message.status))
        status = {
            "run_cancelled": RunStep.Status.CANCELLED,
            "run_failed": RunStep.Status.FAILED,
        }.get(incomplete or "", RunStep.Status.COMPLETED)
        step.status = status
        setattr(step, f"{status}_at", now)
        step.last_error = error
        step.save()
        self.recorder.emit(*ev.step_event(step, status))
        self.message, self.step, self.text, self.thinking = None, None, [], []

    # --- rounds --------------------------------------------------------------------------

    def _store_host(self) -> None:
        """Name on the run the Ollama host its answer comes from, if a failover (which may
        have raced the claim) moved it away from the one stored."""
        if not isinstance(self.provider, OllamaProvider):
            return
        if self.provider.host != self.stored_host:
            self.stored_host = self.run.ollama_host = self.provider.host
            Run.objects.filter(pk=self.run.pk).update(ollama_host=self.provider.host)

    def _call(self, request: ChatRequest) -> _Pump:
        stream = self.provider.chat(request)
        self.watch.attach(stream)
        return _Pump(stream, self.watch.cancelled)

    def _stream(self, round_: Round) -> RoundResult:
        result = RoundResult()
        holdback, pump = round_.holdback, round_.pump
        for attempt in (1, 2):
            try:
                for index, chunk in enumerate(pump.chunks(idle=self.recorder.due)):
                    if index == 0:
                        self._store_host()
                    if chunk.thinking:  # kept with the round's message, if it says anything
                        self.thinking.append(chunk.thinking)
                    if chunk.content:
                        self._say(holdback.feed(chunk.content) if holdback else chunk.content)
                    result.calls += chunk.tool_calls
                    if chunk.done:
                        result.done_reason = chunk.done_reason
                        self._add_usage(chunk.prompt_tokens, chunk.completion_tokens)
                break
            except ProviderError as exc:
                said = self.message is not None or (holdback is not None and holdback.held)
                if exc.permanent or said or attempt == 2:
                    raise
                if self.watch.cancelled.wait(RETRY_PAUSE_SECONDS):
                    break
                log.warning("Run %s: retrying once after: %s", self.run.id, exc.message)
                pump = self._call(round_.request)
        if holdback is not None and not self.watch.cancelled.is_set():
            rest, calls = holdback.finish()
            self._say(rest)
            result.calls += calls
        return result

    def _add_usage(self, prompt: int | None, completion: int | None) -> None:
        usage = self.run.usage or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        usage["prompt_tokens"] += prompt or 0
        usage["completion_tokens"] += completion or 0
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        self.run.usage = usage

    def prepare(self) -> None:
        """The provider and host, the model's abilities, the tools, and the first round's call
        started: nothing written, so it may run before the claim (the model works while the
        run is claimed). What goes wrong is raised by ``execute``, once the run is ours."""
        try:
            run = self.run
            self.provider, self.model = resolve(run.model, run=run)
            self.info = self.provider.model_info(self.model)
            offered = code_interpreter.as_functions(run.tools)
            functions = [t for t in offered if t.get("type") == "function"]
            self.named = tool_calls.forced_tool(run.tool_choice)
            if self.named is not None:
                functions = [f for f in functions if f["function"]["name"] == self.named]
            if run.tool_choice == "none":
                functions = []
            self.functions = functions
            self.native = bool(functions) and "tools" in self.info.capabilities
            self.rounds, self.argument_errors = _past_rounds(run)
            self.pending = self._start_round()
        except Exception as exc:
            self.pending = exc

    def abandon(self) -> None:
        """The run was not ours to claim: close the call started for it."""
        if isinstance(self.pending, Round):
            self.pending.pump.stream.close()
        self.pending = None

    def _start_round(self) -> Round:
        run, functions, native = self.run, self.functions, self.native
        must = None
        # Forced in the run's first round only: after the outputs come back it may answer.
        if self.rounds == 0 and functions and (run.tool_choice == "required" or self.named):
            must = "one of the tools" if run.tool_choice == "required" else f"the tool {self.named}"
        if native:
            extra = f"You must call {must} now." if must else ""
        else:
            extra = text_protocol.instructions(functions, required=must) if functions else ""
        prompt = build_prompt(
            run,
            context_window=settings.OLLAMA_NUM_CTX or self.info.context_length,
            system_extra=extra,
            tools_as_text=not native,
            images="vision" in self.info.capabilities and isinstance(self.provider, OllamaProvider),
        )
        request = ChatRequest(
            model=self.model,
            messages=prompt.messages,
            tools=functions if native else [],
            temperature=run.temperature,
            top_p=run.top_p,
            max_tokens=run.max_completion_tokens,
            context_length=settings.OLLAMA_NUM_CTX,
            response_format=run.response_format,
            think="thinking" in self.info.capabilities,
        )
        names = {f["function"]["name"] for f in functions}
        # A ```python block runs code only for models taught the text protocol.
        holdback = text_protocol.Holdback(names, code_blocks=not native) if names else None
        return Round(request, holdback, self._call(request))

    def execute(self) -> None:
        run = self.run
        while True:
            pending, self.pending = self.pending, None
            try:
                if isinstance(pending, Exception):
                    raise pending
                round_ = pending or self._start_round()
            except PromptTooLong as exc:
                log.info("Run %s: %s", run.id, exc)
                self.finish(Run.Status.INCOMPLETE, incomplete="max_prompt_tokens")
                return
            result = self._stream(round_)
            if self.watch.cancelled.is_set():
                self.finish(Run.Status.CANCELLED, message_incomplete="run_cancelled")
                return
            if result.done_reason == "length":
                self.finish(
                    Run.Status.INCOMPLETE,
                    message_incomplete="max_tokens",
                    incomplete="max_completion_tokens",
                )
                return
            if not result.calls:
                self.finish(Run.Status.COMPLETED)
                return
            self._close_message()
            self.rounds += 1
            if self.rounds > settings.MAX_TOOL_ROUNDS:
                self.finish(Run.Status.INCOMPLETE, incomplete="max_tool_rounds")
                return
            calls = result.calls if run.parallel_tool_calls else result.calls[:1]
            if not self._call_tools(calls, self.functions):
                return

    def _call_tools(self, raw: list[ToolCall], functions: list[dict[str, Any]]) -> bool:
        """Run a round of tool calls; False when the run stopped (to wait, or failed)."""
        run, emit = self.run, self.recorder.emit
        calls = tool_calls.prepare(raw, functions)
        # As OpenAI streams it: the step opens empty, then each call arrives as a delta.
        step = RunStep.objects.create(
            run=run,
            type=RunStep.Type.TOOL_CALLS,
            step_details={"type": "tool_calls", "tool_calls": []},
        )
        step.run = run
        emit(*ev.step_event(step, "created"))
        emit(*ev.step_event(step, "in_progress"))
        step.step_details = {"type": "tool_calls", "tool_calls": [c.wire() for c in calls]}
        step.save(update_fields=["step_details"])
        for index, call in enumerate(calls):
            for part in call.streamed():
                emit("thread.run.step.delta", ev.tool_call_delta(step.id, index, part))
        bad = [c for c in calls if c.error]
        self.argument_errors += len(bad)
        if bad and self.argument_errors > settings.MAX_TOOL_ARGUMENT_ERRORS:
            step.step_details = {"type": "tool_calls", "tool_calls": [c.wire() for c in calls]}
            error = {
                "code": "server_error",
                "message": f"The model kept calling {bad[-1].name} wrongly: {bad[-1].error}",
            }
            self._end_step(step, RunStep.Status.FAILED, error=error)
            self.finish(Run.Status.FAILED, error=error)
            return False
        for index, call in enumerate(calls):
            if not call.server or call.error is not None:
                continue
            if call.is_code:
                try:
                    self._run_code(call)
                except SandboxUnavailable as exc:
                    error = {
                        "code": "server_error",
                        "message": f"The code interpreter is not available on this server: {exc}",
                    }
                    self._end_step(step, RunStep.Status.FAILED, error=error)
                    self.finish(Run.Status.FAILED, error=error)
                    return False
                outputs = [{"index": i, **o} for i, o in enumerate(call.outputs or [])]
                delta = {"type": "code_interpreter", "code_interpreter": {"outputs": outputs}}
            else:
                call.output = tool_calls.run_server_call(call)
                delta = {"type": "function", "function": {"output": call.output}}
            emit("thread.run.step.delta", ev.tool_call_delta(step.id, index, delta))
        step.step_details = {"type": "tool_calls", "tool_calls": [c.wire() for c in calls]}
        if self.watch.cancelled.is_set():  # its code was stopped: the step did not complete
            self._end_step(step, RunStep.Status.CANCELLED)
            self.finish(Run.Status.CANCELLED)
            return False
        waiting = [c for c in calls if c.output is None]
        if not waiting:
            self._end_step(step, RunStep.Status.COMPLETED)
            return True
        step.save(update_fields=["step_details"])
        now = timezone.now()
        required = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": [c.wire(with_output=False) for c in waiting]},
        }
        expires_at = now + timedelta(seconds=settings.RUN_EXPIRES_SECONDS)
        # Only a run still in progress waits: a cancel that came meanwhile must not be lost.
        waits = Run.objects.filter(pk=run.pk, status=Run.Status.IN_PROGRESS).update(
            status=Run.Status.REQUIRES_ACTION,
            required_action=required,
            expires_at=expires_at,
            heartbeat_at=None,
            usage=run.usage,
        )
        if not waits:
            self._end_step(step, RunStep.Status.CANCELLED)
            self.finish(Run.Status.CANCELLED)
            return False
        run.status, run.required_action = Run.Status.REQUIRES_ACTION, required
        run.expires_at, run.heartbeat_at = expires_at, None
        # Stored before anyone hears of it: the client may submit (and number events) at once.
        emit(*ev.run_event(run))
        return False

    def _run_code(self, call: tool_calls.Call) -> None:
        assert call.parsed is not None
        if not self._staged:
            code_interpreter.stage_inputs(self.run)
            self._staged = True
        with Cancellation() as cancel:
            self.watch.attach_code(cancel)
            try:
                result = code_interpreter.run_code(
                    str(call.parsed["code"]), run=self.run, cancel=cancel
                )
            finally:
                self.watch.attach_code(None)
        call.output = result.logs or "(no output)"
        call.outputs = result.outputs
        self.images += result.image_file_ids

    def _end_step(self, step: RunStep, status: str, *, error: Any = None) -> None:
        step.status = status
        setattr(step, f"{status}_at", timezone.now())
        step.last_error = error
        step.save()
        self.recorder.emit(*ev.step_event(step, status))

    # --- the end ---------------------------------------------------------------------------

    def finish(
        self,
        status: str,
        *,
        message_incomplete: str | None = None,
        incomplete: str | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        """Close the open message and step, then end the run in ``status`` with its event."""

        def write() -> None:
            self._finish(status, message_incomplete, incomplete, error)

        self._stored(write, what="Ending the run")

    def _finish(
        self,
        status: str,
        message_incomplete: str | None,
        incomplete: str | None,
        error: dict[str, str] | None,
    ) -> None:
        if self.images and self.message is None:
            self._open_message()  # charts with no words after them still reach the user
        self._close_message(incomplete=message_incomplete, error=error)
        run, now = self.run, timezone.now()
        run.status = status
        run.required_action = None
        # Only what the worker owns: metadata may have been changed through the API meanwhile.
        fields = ["status", "required_action", "usage"]
        if status == Run.Status.COMPLETED:
            run.completed_at = now
            fields.append("completed_at")
        elif status == Run.Status.CANCELLED:
            run.cancelled_at = now
            fields.append("cancelled_at")
        elif status == Run.Status.FAILED:
            run.failed_at = now
            run.last_error = error
            fields += ["failed_at", "last_error"]
        elif status == Run.Status.INCOMPLETE:
            run.incomplete_details = {"reason": incomplete}
            run.completed_at = now
            fields += ["incomplete_details", "completed_at"]
        run.save(update_fields=fields)
        self.recorder.emit(*ev.run_event(run))
        self.recorder.flush()

    def fail(self, error: dict[str, str]) -> None:
        """End the run failed with ``error``. While the database cannot be written, the run's
        streams are told so (they end) and the worker waits for it, up to
        RUN_DATABASE_WAIT_SECONDS, to store the run's end: the reaper would otherwise take it
        for a run whose worker died."""
        deadline = time.monotonic() + settings.RUN_DATABASE_WAIT_SECONDS
        while True:
            try:
                self.finish(Run.Status.FAILED, message_incomplete="run_failed", error=error)
                return
            except UNAVAILABLE:
                self.tell_database_lost()
                if time.monotonic() >= deadline:
                    raise
                log.warning("Run %s: waiting for the database to store its end", self.run.id)

    def tell_database_lost(self) -> None:
        """End the run's streams with an ``error`` event (once): nothing more can be stored."""
        if not self._told_database_lost:
            body = error_body(DATABASE_LOST, status_code=503, code="database_unavailable")
            publish_run_error(self.run.id, body)
            self._told_database_lost = True


def prepared(run_id: str) -> Turn | None:
    """A queued run's turn with its first round started (nothing written but the run's
    heartbeat: its watch holds it meanwhile); None when the run is not queued (taken by
    another delivery of the task, or ended) or another worker holds it."""
    last_event = RunEvent.objects.filter(run=OuterRef("pk")).order_by("-seq").values("seq")[:1]
    run = (
        Run.objects.filter(pk=run_id, status=Run.Status.QUEUED)
        .annotate(seen_seq=Subquery(last_event))
        .first()
    )
    if run is None:
        return None
    if run.heartbeat_at is not None and run.heartbeat_at >= stale_before():
        log.info("Run %s is held by another worker: this delivery leaves it", run.id)
        return None
    turn = Turn(run, RunWatch(run.id), seen=getattr(run, "seen_seq", None))
    # Its first beat comes after RUN_HEARTBEAT_SECONDS: a run claimed by then (most are, in
    # milliseconds) costs its time to first token no write; one whose model keeps it waiting
    # is held while it waits.
    turn.watch.start()
    try:
        if run.expires_at is None or run.expires_at > timezone.now():
            turn.prepare()  # not for a run the claim will find expired
    except BaseException:
        turn.watch.stop()
        raise
    return turn


def claim_and_execute(turn: Turn) -> None:
    """Claim the turn's run while its first call is under way, then go on with it."""
    run, watch = turn.run, turn.watch
    try:
        claimed = _claim(run, seen=turn.seen)
    except BaseException:
        turn.abandon()
        watch.stop()
        raise
    if claimed is None:
        turn.abandon()
        watch.stop()
        return
    turn.stored_host = claimed.host
    if turn.pending is None or not claimed.unchanged:
        # Not prepared (its expiry was moved), or prepared from the run as it was before
        # another delivery took it through a round: again, from the run as it is now.
        turn.abandon()
        turn.prepare()
    turn.record_with(_Recorder(turn, run.id, seq=claimed.seq))
    watch.claimed()
    try:
        turn.execute()
    except ProviderError as exc:
        log.warning("Run %s failed: %s", run.id, exc.message)
        turn.fail({"code": exc.code, "message": exc.message})
    except UNAVAILABLE as exc:
        log.error("Run %s failed: its database writes failed: %s", run.id, exc)
        turn.tell_database_lost()
        turn.fail({"code": "server_error", "message": DATABASE_LOST})
    except Exception as exc:
        log.exception("Run %s failed on an internal error", run.id)
        turn.fail({"code": "server_error", "message": f"Internal error: {exc}"})
    finally:
        watch.stop()


def execute_run(run_id: str) -> None:
    turn = prepared(run_id)
    if turn is not None:
        claim_and_execute(turn)
