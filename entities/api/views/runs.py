from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from entities import selectors
from entities.api.inputs import RunInput, RunUpdateInput, SubmitToolOutputsInput
from entities.api.wire import RunSerializer, RunStepSerializer
from entities.errors import InvalidRequest
from entities.models import Run, Thread
from entities.services import runs as services
from entities.services.threads import thread_create

from .base import ApiView


def _refuse_stream(data: dict[str, Any]) -> None:
    if data.pop("stream", None):
        raise InvalidRequest(
            "Streaming responses are not available on this server yet; create the run without "
            "'stream' and poll it.",
            param="stream",
        )


def _create_run(view: ApiView, thread: Thread, data: dict[str, Any]) -> Run:
    assistant = selectors.assistant_get(view.user, data.pop("assistant_id"))
    return services.run_create(thread=thread, assistant=assistant, created_by=view.user, **data)


class RunListView(ApiView):
    serializer_class = RunSerializer

    @extend_schema(operation_id="listRuns", responses=RunSerializer(many=True))
    def get(self, request: Request, thread_id: str) -> Response:
        thread = selectors.thread_get(self.user, thread_id)
        return self.list_response(selectors.thread_runs(thread), RunSerializer)

    @extend_schema(operation_id="createRun", request=RunInput)
    def post(self, request: Request, thread_id: str) -> Response:
        thread = selectors.thread_get(self.user, thread_id)
        data = self.validated(RunInput, request)
        _refuse_stream(data)
        return Response(RunSerializer(_create_run(self, thread, data)).data)


class ThreadAndRunView(ApiView):
    serializer_class = RunSerializer

    @extend_schema(operation_id="createThreadAndRun", request=RunInput)
    def post(self, request: Request) -> Response:
        data = self.validated(RunInput, request, with_thread=True)
        _refuse_stream(data)
        thread_data = data.pop("thread", None) or {}
        if (tool_resources := data.pop("tool_resources", None)) is not None:
            thread_data["tool_resources"] = tool_resources
        with transaction.atomic():
            thread = thread_create(creator=self.user, **thread_data)
            run = _create_run(self, thread, data)
        return Response(RunSerializer(run).data)


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

    @extend_schema(operation_id="submitToolOuputsToRun", request=SubmitToolOutputsInput)
    def post(self, request: Request, thread_id: str, run_id: str) -> Response:
        run = selectors.run_get(selectors.thread_get(self.user, thread_id), run_id)
        data = self.validated(SubmitToolOutputsInput, request)
        _refuse_stream(data)
        run = services.run_submit_tool_outputs(run=run, tool_outputs=data["tool_outputs"])
        return Response(RunSerializer(run).data)


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
