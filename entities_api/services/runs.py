"""Runs, their steps and their event stream."""

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from entities_api.pagination import Pager
from entities_api.transport import ServerSentEvent, compact
from entities_api.types import Run, RunStep

from .base import Service

# A run stops here for good, or until someone acts (requires_action).
SETTLED = frozenset(
    {"requires_action", "completed", "failed", "cancelled", "expired", "incomplete"}
)


class RunService(Service):
    def create_run(
        self,
        *,
        thread_id: str,
        assistant_id: str,
        model: str | None = None,
        instructions: str | None = None,
        additional_instructions: str | None = None,
        additional_messages: list[dict[str, Any]] | None = None,
        tools: list[dict[str, Any]] | None = None,
        metadata: dict[str, str] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_prompt_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        truncation_strategy: dict[str, Any] | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        response_format: Any = None,
    ) -> Run:
        """Queue a run of the assistant on the thread; anything given overrides the
        assistant's setting for this run."""
        body = compact(
            assistant_id=assistant_id,
            model=model,
            instructions=instructions,
            additional_instructions=additional_instructions,
            additional_messages=additional_messages,
            tools=tools,
            metadata=metadata,
            temperature=temperature,
            top_p=top_p,
            max_prompt_tokens=max_prompt_tokens,
            max_completion_tokens=max_completion_tokens,
            truncation_strategy=truncation_strategy,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            response_format=response_format,
        )
        return Run.from_dict(self._transport.post(f"threads/{thread_id}/runs", body))

    def create_thread_and_run(
        self, *, assistant_id: str, thread: dict[str, Any] | None = None, **fields: Any
    ) -> Run:
        """A new thread (``{"messages": [...], ...}``) and a run on it, in one call."""
        body = compact(assistant_id=assistant_id, thread=thread, **fields)
        return Run.from_dict(self._transport.post("threads/runs", body))

    def retrieve_run(self, thread_id: str, run_id: str) -> Run:
        return Run.from_dict(self._transport.get(f"threads/{thread_id}/runs/{run_id}"))

    def update_run(self, thread_id: str, run_id: str, *, metadata: dict[str, str]) -> Run:
        data = self._transport.post(f"threads/{thread_id}/runs/{run_id}", {"metadata": metadata})
        return Run.from_dict(data)

    def cancel_run(self, thread_id: str, run_id: str) -> Run:
        """A queued (or waiting) run ends ``cancelled`` at once; a running one goes
        ``cancelling`` and stops within a second."""
        return Run.from_dict(self._transport.post(f"threads/{thread_id}/runs/{run_id}/cancel"))

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, *, tool_outputs: Sequence[Mapping[str, str]]
    ) -> Run:
        """Hand in ``[{"tool_call_id", "output"}]`` for every call the run waits on."""
        data = self._transport.post(
            f"threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
            {"tool_outputs": [dict(o) for o in tool_outputs]},
        )
        return Run.from_dict(data)

    def list_runs(
        self,
        thread_id: str,
        *,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Pager[Run]:
        return self._pager(
            f"threads/{thread_id}/runs",
            Run.from_dict,
            limit=limit,
            order=order,
            after=after,
            before=before,
        )

    def retrieve_run_step(self, thread_id: str, run_id: str, step_id: str) -> RunStep:
        data = self._transport.get(f"threads/{thread_id}/runs/{run_id}/steps/{step_id}")
        return RunStep.from_dict(data)

    def list_run_steps(
        self,
        thread_id: str,
        run_id: str,
        *,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Pager[RunStep]:
        return self._pager(
            f"threads/{thread_id}/runs/{run_id}/steps",
            RunStep.from_dict,
            limit=limit,
            order=order,
            after=after,
            before=before,
        )

    def wait_for_run(
        self, thread_id: str, run_id: str, *, timeout: float = 300.0, poll_interval: float = 0.25
    ) -> Run:
        """Poll until the run ends or requires action; ``TimeoutError`` past ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.retrieve_run(thread_id, run_id)
            if run.status in SETTLED:
                return run
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} is still {run.status} after {timeout:g}s")
            time.sleep(poll_interval)

    def stream_events(
        self, thread_id: str, run_id: str, *, after: int = 0
    ) -> Iterator[ServerSentEvent]:
        """The run's events (``GET …/events``): replayed from after number ``after``, then
        followed live until the run ends (a wait for tool outputs does not end it).

        The last event is the one that ended the run; the closing ``done`` is not yielded.
        """
        headers = {"Last-Event-ID": str(after)} if after else None
        path = f"threads/{thread_id}/runs/{run_id}/events"
        with self._transport.stream("GET", path, headers=headers) as events:
            for event in events:
                if event.event == "done":
                    return
                yield event
