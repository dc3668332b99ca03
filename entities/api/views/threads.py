from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from entities import selectors
from entities.api.inputs import MessageInput, MessageUpdateInput, ThreadInput
from entities.api.wire import MessageSerializer, ThreadSerializer, deleted
from entities.errors import PermissionDenied
from entities.models import Thread
from entities.services import threads as services

from .base import ApiView


def _check_participants_change(view: ApiView, thread: Thread, participant_ids: list[str]) -> None:
    # Anyone in a thread may invite others; only an admin may leave a thread without themselves.
    if not view.user.is_admin and view.user.id not in participant_ids:
        raise PermissionDenied(
            "You cannot remove yourself from participant_ids; delete the thread."
        )


class ThreadListView(ApiView):
    serializer_class = ThreadSerializer

    @extend_schema(operation_id="createThread", request=ThreadInput)
    def post(self, request: Request) -> Response:
        data = self.validated(ThreadInput, request)
        thread = services.thread_create(creator=self.user, **data)
        return Response(ThreadSerializer(thread).data)


class ThreadDetailView(ApiView):
    serializer_class = ThreadSerializer

    @extend_schema(operation_id="getThread")
    def get(self, request: Request, thread_id: str) -> Response:
        return Response(ThreadSerializer(selectors.thread_get(self.user, thread_id)).data)

    @extend_schema(operation_id="modifyThread", request=ThreadInput)
    def post(self, request: Request, thread_id: str) -> Response:
        thread = selectors.thread_get(self.user, thread_id)
        data = self.validated(ThreadInput, request, creating=False)
        if "participant_ids" in data:
            _check_participants_change(self, thread, data["participant_ids"])
        thread = services.thread_update(thread=thread, **data)
        return Response(ThreadSerializer(selectors.thread_get(self.user, thread.id)).data)

    @extend_schema(operation_id="deleteThread", responses={200: dict})
    def delete(self, request: Request, thread_id: str) -> Response:
        services.thread_delete(thread=selectors.thread_get(self.user, thread_id))
        return Response(deleted(thread_id, "thread"))


class MessageListView(ApiView):
    serializer_class = MessageSerializer

    @extend_schema(
        operation_id="listMessages",
        parameters=[OpenApiParameter("run_id", str, description="Only this run's messages.")],
        responses=MessageSerializer(many=True),
    )
    def get(self, request: Request, thread_id: str) -> Response:
        thread = selectors.thread_get(self.user, thread_id)
        messages = selectors.thread_messages(thread)
        if run_id := request.query_params.get("run_id"):
            messages = messages.filter(run_id=run_id)
        return self.list_response(messages, MessageSerializer)

    @extend_schema(operation_id="createMessage", request=MessageInput)
    def post(self, request: Request, thread_id: str) -> Response:
        thread = selectors.thread_get(self.user, thread_id)
        data = self.validated(MessageInput, request)
        message = services.message_create(thread=thread, author=self.user, **data)
        return Response(MessageSerializer(message).data)


class MessageDetailView(ApiView):
    serializer_class = MessageSerializer

    @extend_schema(operation_id="getMessage")
    def get(self, request: Request, thread_id: str, message_id: str) -> Response:
        thread = selectors.thread_get(self.user, thread_id)
        return Response(MessageSerializer(selectors.message_get(thread, message_id)).data)

    @extend_schema(operation_id="modifyMessage", request=MessageUpdateInput)
    def post(self, request: Request, thread_id: str, message_id: str) -> Response:
        message = selectors.message_get(selectors.thread_get(self.user, thread_id), message_id)
        data = self.validated(MessageUpdateInput, request)
        if "metadata" in data:
            message = services.message_update(message=message, metadata=data["metadata"])
        return Response(MessageSerializer(message).data)

    @extend_schema(operation_id="deleteMessage", responses={200: dict})
    def delete(self, request: Request, thread_id: str, message_id: str) -> Response:
        message = selectors.message_get(selectors.thread_get(self.user, thread_id), message_id)
        services.message_delete(message=message)
        return Response(deleted(message_id, "thread.message"))
