from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from entities import selectors
from entities.api.inputs import MessageInput, MessageUpdateInput, ThreadInput
from entities.api.wire import DeletedSerializer, MessageSerializer, ThreadSerializer, deleted
from entities.errors import PermissionDenied
from entities.models import Message, Thread, User
from entities.services import threads as services

from .base import ApiView


def _runs_thread(user: User, thread: Thread) -> bool:
    """The thread's owner and admins; a thread whose owner is gone is everyone's in it."""
    return user.is_admin or thread.owner_id in (None, user.id)


def _check_participants_change(user: User, thread: Thread, participant_ids: list[str]) -> None:
    """Anyone in a thread may invite others and leave it; only its owner (or an admin) may
    remove someone else, and the owner stays in their own thread."""
    if _runs_thread(user, thread):
        if not user.is_admin and user.id not in participant_ids:
            raise PermissionDenied(
                "You cannot remove yourself from your own thread's participant_ids; "
                "delete the thread."
            )
        return
    current = set(thread.participants.values_list("id", flat=True))
    removed = current - set(participant_ids) - {user.id}
    if removed:
        raise PermissionDenied("Only the thread's owner can remove other participants.")


def _check_message_change(user: User, thread: Thread, message: Message) -> None:
    if message.sender_id != user.id and not _runs_thread(user, thread):
        raise PermissionDenied(
            "Only the message's sender or the thread's owner can change or delete it."
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
            _check_participants_change(self.user, thread, data["participant_ids"])
        thread = services.thread_update(thread=thread, editor=self.user, **data)
        # Not re-read through thread_get: someone who just left may no longer see it.
        return Response(ThreadSerializer(thread).data)

    @extend_schema(operation_id="deleteThread", responses={200: DeletedSerializer})
    def delete(self, request: Request, thread_id: str) -> Response:
        thread = selectors.thread_get(self.user, thread_id)
        if not _runs_thread(self.user, thread):
            raise PermissionDenied("Only the thread's owner can delete it.")
        services.thread_delete(thread=thread)
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
        thread = selectors.thread_get(self.user, thread_id)
        message = selectors.message_get(thread, message_id)
        data = self.validated(MessageUpdateInput, request)
        _check_message_change(self.user, thread, message)
        if "metadata" in data:
            message = services.message_update(message=message, metadata=data["metadata"])
        return Response(MessageSerializer(message).data)

    @extend_schema(operation_id="deleteMessage", responses={200: DeletedSerializer})
    def delete(self, request: Request, thread_id: str, message_id: str) -> Response:
        thread = selectors.thread_get(self.user, thread_id)
        message = selectors.message_get(thread, message_id)
        _check_message_change(self.user, thread, message)
        services.message_delete(message=message)
        return Response(deleted(message_id, "thread.message"))
