"""Following a run to its end: its text as it streams, and the client's functions run for it.

The runner reads the run's ``/events`` stream from the start, so it works the same whether
the run is queued, running or already finished. When the run waits for client functions
(``requires_action``), it calls them from ``available_functions``, submits their outputs and
keeps reading the same stream, which goes on until the run ends. A broken connection is
resumed after the last event seen (``Last-Event-ID``): nothing is lost or seen twice.
"""

import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from entities_api.errors import APIConnectionError, APIError, MissingFunctionError, RunError
from entities_api.services.logging_service import LoggingUtility
from entities_api.types import Run, ToolCall

from .events import (
    ConversationEvent,
    EventTranslator,
    StatusEvent,
    TextEvent,
    ToolOutputEvent,
)

if TYPE_CHECKING:
    from entities_api.client import OllamaClient

RECONNECT_ATTEMPTS = 3

log = LoggingUtility("entities_api.inference")


def function_output(value: Any) -> str:
    """What a client function returned, as the text the model reads."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


class ConversationRunner:
    """Streams runs of one client; ``model_name`` maps a model to the name the server runs."""

    def __init__(
        self,
        client: "OllamaClient",
        *,
        available_functions: Mapping[str, Callable[..., Any]] | None = None,
        model_name: Callable[[str], str] = lambda model: model,
        check_run_model: Callable[[Run, str | None], None] | None = None,
    ) -> None:
        self.client = client
        self.available_functions = dict(available_functions or {})
        self.model_name = model_name
        self._check_run_model = check_run_model

    def process_conversation(
        self,
        thread_id: str,
        message_id: str | None = None,
        run_id: str | None = None,
        assistant_id: str | None = None,
        model: str | None = None,
        *,
        after: int = 0,
    ) -> Iterator[str]:
        """The run's answer, chunk by chunk, as it streams.

        With ``run_id`` the runner follows that run; without, it first creates a run of
        ``assistant_id`` (with ``model``, if given, for this run). ``message_id`` is accepted
        for the original library's signature: a run answers the whole thread.
        Raises :class:`RunError` if the run fails or expires, and
        :class:`MissingFunctionError` if it calls a function the runner was not given.
        """
        for event in self.process_conversation_events(
            thread_id, message_id, run_id, assistant_id, model, after=after
        ):
            if isinstance(event, TextEvent):
                yield event.text

    def process_conversation_events(
        self,
        thread_id: str,
        message_id: str | None = None,
        run_id: str | None = None,
        assistant_id: str | None = None,
        model: str | None = None,
        *,
        after: int = 0,
    ) -> Iterator[ConversationEvent]:
        """As :meth:`process_conversation`, but every event: text, tool calls and outputs,
        code, images, finished messages and status changes (see ``entities_api.inference.
        events``). ``after`` resumes after that event number (``event.seq``)."""
        runs = self.client.run_service
        if run_id is None:
            if assistant_id is None:
                raise ValueError("give run_id, or assistant_id to start a run")
            if model is None:
                model = self.client.assistant_service.retrieve_assistant(assistant_id).model
            run = runs.create_run(
                thread_id=thread_id, assistant_id=assistant_id, model=self.model_name(model)
            )
            run_id = run.id
        translator = EventTranslator(run_id)
        last, checked, attempts = after, False, 0
        while True:
            try:
                for sse in runs.stream_events(thread_id, run_id, after=last):
                    for event in translator.translate(sse):
                        if isinstance(event, StatusEvent):
                            if not checked:
                                self._check(event.run, assistant_id, model)
                                checked = True
                            yield event
                            if event.status == "requires_action":
                                yield from self._act(thread_id, run_id)
                            elif event.is_terminal:
                                _raise_if_failed(event.run)
                                return
                        else:
                            yield event
                    if sse.id is not None:
                        last = sse.id
                    attempts = 0
            except APIConnectionError as exc:
                attempts += 1
                if attempts > RECONNECT_ATTEMPTS:
                    raise
                log.warning("Run %s: resuming after event %s (%s)", run_id, last, exc)
                time.sleep(0.5 * attempts)
                continue
            # The stream closed before the run ended (a server restart): read on.
            attempts += 1
            if attempts > RECONNECT_ATTEMPTS:
                raise APIConnectionError(f"the event stream of run {run_id} keeps closing early")

    def _check(self, run: Run, assistant_id: str | None, model: str | None) -> None:
        if assistant_id is not None and run.assistant_id != assistant_id:
            raise ValueError(
                f"run {run.id} is a run of assistant {run.assistant_id}, not of {assistant_id}"
            )
        if self._check_run_model is not None:
            self._check_run_model(run, model)
        elif model is not None and run.model != self.model_name(model):
            log.warning(
                "Run %s runs the model '%s' it was created with, not '%s'.",
                run.id,
                run.model,
                model,
            )

    def _act(self, thread_id: str, run_id: str) -> Iterator[ConversationEvent]:
        """Call the functions the run waits on and submit their outputs."""
        runs = self.client.run_service
        run = runs.retrieve_run(thread_id, run_id)
        if run.status != "requires_action":
            return  # a wait we replayed, answered before
        outputs = []
        for call in run.tool_calls:
            function = self.available_functions.get(call.name)
            if function is None:
                try:
                    runs.cancel_run(thread_id, run_id)
                except APIError as exc:  # it may have expired or been cancelled meanwhile
                    log.warning("Run %s: could not cancel it: %s", run_id, exc)
                raise MissingFunctionError(
                    call.name, run_id=run_id, available=list(self.available_functions)
                )
            output = self._call(function, call)
            outputs.append({"tool_call_id": call.id, "output": output})
            yield ToolOutputEvent(
                run_id=run_id,
                seq=None,
                tool_call_id=call.id,
                name=call.name,
                output=output,
                by="client",
            )
        runs.submit_tool_outputs(thread_id, run_id, tool_outputs=outputs)

    def _call(self, function: Callable[..., Any], call: ToolCall) -> str:
        """Its output; a function that raises tells the model so, as server functions do."""
        try:
            return function_output(function(**call.parsed_arguments))
        except Exception as exc:
            log.warning("Function %s raised %s: %s", call.name, type(exc).__name__, exc)
            return f"Error: {call.name} failed: {exc}"


def _raise_if_failed(run: Run) -> None:
    if run.status in ("failed", "expired"):
        error = run.last_error or {}
        message = error.get("message") or f"the run {run.status}"
        raise RunError(
            f"Run {run.id} {run.status}: {message}",
            run_id=run.id,
            status=run.status,
            code=error.get("code"),
        )
