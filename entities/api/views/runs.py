from typing import Any

from django.db import transaction
from django.http import HttpResponseBase, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from entities import selectors
from entities.api.inputs import RunInput, RunUpdateInput, SubmitToolOutputsInput
from entities.api.schema import SERVER_SENT_EVENT
from entities.api.wire import RunSerializer, RunStepSerializer
from entities.models import Run, Thread
from entities.services import runs as services
from entities.services.threads import thread_create
from inference.events import last_seq
from inference.stream import parse_last_event_id, sse_body

from .base import ApiView

# A run, or with ``stream: true`` its events as server-sent events.
_RUN_OR_EVENTS = {
    (200, "application/json"): RunSerializer,
    (200, "text/event-stream"): SERVER_SENT_EVENT,
}


def _respond(run: Run, *, stream: bool, after: int = 0) -> HttpResponseBase:
    """The run as JSON, or (``stream: true``) its events as OpenAI's server-sent events."""
    if not stream:
        return Response(RunSerializer(run).data)
    return sse_response(run.id, after=after)


def sse_response(run_id: str, *, after: int, until_action: bool = True) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        sse_body(run_id, after=after, until_action=until_action),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _create_run(
    view: ApiView, thread: Thread, data: dict[str, Any], *, new_thread: bool = False
) -> Run:
    assistant = selectors.assistant_get(view.user, data.pop("assistant_id"))
    return services.run_create(
        thread=thread, assistant=assistant, created_by=view.user, new_thread=new_thread, **data
    )


class RunListView(ApiView):
    serializer_class = RunSerializer

    @extend_schema(operation_id="listRuns", responses=RunSerializer(many=True))
    def get(self, request: Request, thread_id: str) -> Response:
        thread = selectors.thread_get(self.user, thread_id)
        return self.list_response(selectors.thread_runs(thread), RunSerializer)

    @extend_schema(operation_id="createRun", responses=_RUN_OR_EVENTS, request=RunInput)
    def post(self, request: Request, thread_id: str) -> HttpResponseBase:
        thread = selectors.thread_get(self.user, thread_id)
        data = self.validated(RunInput, request)
        stream = bool(data.pop("stream", False))
        return _respond(_create_run(self, thread, data), stream=stream)


class ThreadAndRunView(ApiView):
    serializer_class = RunSerializer

    @extend_schema(operation_id="createThreadAndRun", responses=_RUN_OR_EVENTS, request=RunInput)
    def post(self, request: Request) -> HttpResponseBase:
        data = self.validated(RunInput, request, with_thread=True)
        stream = bool(data.pop("stream", False))
        thread_data = data.pop("thread", None) or {}
        if (tool_resources := data.pop("tool_resources", None)) is not None:
            thread_data["tool_resources"] = tool_resources
        with transaction.atomic():
            thread = thread_create(creator=self.user, **thread_data)
            run = _create_run(self, thread, data, new_thread=True)
        return _respond(run, stream=stream)


class RunDetailView(ApiView):
    serializer_class = RunSerializer

    @extend_schema(operation_id="getRun")
    def get(self, request: Request, thread_id: str, run_id: str) -> Response:
        run = selectors.run_get(selectors.thread_get(self.user, thread_id), run_id)
        return Response(RunSerializer(run).data)

    @extend_schema(operation_id="modifyRun", request=RunUpdateInput)
    def post(self, request: Request, thread_id: str, run_id: str) -> Response:
        run = selectors.run_get(selectors.thread_get(self.user, thread_id), run_id)
        data = self.validated(RunUpdateInput, request)
        if "metadata" in data:
            run = services.run_update(run=run, metadata=data["metadata"])
        return Response(RunSerializer(run).data)


class RunCancelView(ApiView):
    serializer_class = RunSerializer

    @extend_schema(operation_id="cancelRun", request=None)
    def post(self, request: Request, thread_id: str, run_id: str) -> Response:
        run = selectors.run_get(selectors.thread_get(self.user, thread_id), run_id)
        return Response(RunSerializer(services.run_cancel(run=run)).data)


class SubmitToolOutputsView(ApiView):
    serializer_class = RunSerializer

    @extend_schema(
        operation_id="submitToolOuputsToRun",
        responses=_RUN_OR_EVENTS,
        request=SubmitToolOutputsInput,
    )
    def post(self, request: Request, thread_id: str, run_id: str) -> HttpResponseBase:
        run = selectors.run_get(selectors.thread_get(self.user, thread_id), run_id)
        data = self.validated(SubmitToolOutputsInput, request)
        after = last_seq(run.id)
        run = services.run_submit_tool_outputs(run=run, tool_outputs=data["tool_outputs"])
        return _respond(run, stream=bool(data.get("stream")), after=after)


class RunEventsView(ApiView):
    """Replay a run's events from the start, or after ``Last-Event-ID``, then follow it live."""

    @extend_schema(
        operation_id="streamRunEvents",
        parameters=[
            OpenApiParameter("after", int, description="Start after this event number."),
            OpenApiParameter(
                "Last-Event-ID", str, OpenApiParameter.HEADER, description="As `after`."
            ),
        ],
        responses={(200, "text/event-stream"): SERVER_SENT_EVENT},
    )
    def get(self, request: Request, thread_id: str, run_id: str) -> HttpResponseBase:
        run = selectors.run_get(selectors.thread_get(self.user, thread_id), run_id)
        after = parse_last_event_id(
            request.headers.get("Last-Event-ID") or request.query_params.get("after")
        )
        return sse_response(run.id, after=after, until_action=False)


class RunStepListView(ApiView):
    serializer_class = RunStepSerializer

    @extend_schema(operation_id="listRunSteps", responses=RunStepSerializer(many=True))
    def get(self, request: Request, thread_id: str, run_id: str) -> Response:
        run = selectors.run_get(selectors.thread_get(self.user, thread_id), run_id)
        return self.list_response(run.steps.select_related("run"), RunStepSerializer)


class RunStepDetailView(ApiView):
    serializer_class = RunStepSerializer

    @extend_schema(operation_id="getRunStep")
    def get(self, request: Request, thread_id: str, run_id: str, step_id: str) -> Response:
        run = selectors.run_get(selectors.thread_get(self.user, thread_id), run_id)
        return Response(RunStepSerializer(selectors.run_step_get(run, step_id)).data)
