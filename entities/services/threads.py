"""Threads, participants and messages."""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from entities.errors import InvalidRequest
from entities.models import Assistant, Message, Run, Thread, User
from entities.services.files import code_interpreter_file_ids, file_ids_check
from entities.services.rows import save_fields
from inference.events import message_event
from inference.live import publish, thread_group
from tools.sandbox.workdir import workdir_remove


def _participants(ids: Iterable[str], *, param: str) -> list[User]:
    ids = list(dict.fromkeys(ids))
    users = {u.id: u for u in User.objects.filter(id__in=ids)}
    for user_id in ids:
        if user_id not in users:
            raise InvalidRequest(f"No user found with id '{user_id}'.", param=param)
    return [users[i] for i in ids]


@transaction.atomic
def thread_create(
    *,
    creator: User,
    participant_ids: list[str] | None = None,
    messages: list[dict[str, Any]] | None = None,
    metadata: dict[str, str] | None = None,
    tool_resources: dict[str, Any] | None = None,
) -> Thread:
    """A new thread. Its creator takes part unless an admin names the participants."""
    participants = _participants(participant_ids or [], param="participant_ids")
    if creator not in participants and (participant_ids is None or not creator.is_admin):
        participants.insert(0, creator)
    file_ids_check(
        owner=creator, file_ids=code_interpreter_file_ids(tool_resources), param="tool_resources"
    )
    thread = Thread.objects.create(
        owner=creator, metadata=metadata or {}, tool_resources=tool_resources or {}
    )
    thread.participants.set(participants)
    for index, message in enumerate(messages or []):
        message_create(thread=thread, author=creator, param_prefix=f"messages[{index}].", **message)
    return thread


def thread_update(
    *,
    thread: Thread,
    editor: User | None = None,
    metadata: dict[str, str] | None = None,
    tool_resources: dict[str, Any] | None = None,
    participant_ids: list[str] | None = None,
) -> Thread:
    """Change a thread; files named in ``tool_resources`` must be ``editor``'s (the user who
    asks), as at creation."""
    if metadata is not None:
        thread.metadata = metadata
    if tool_resources is not None:
        if editor is None:
            raise ValueError("changing tool_resources needs the editor, whose files they name")
        file_ids_check(
            owner=editor,
            file_ids=code_interpreter_file_ids(tool_resources),
            param="tool_resources",
            kept=code_interpreter_file_ids(thread.tool_resources),
        )
        thread.tool_resources = tool_resources
    save_fields(thread, "thread", ["metadata", "tool_resources"])
    if participant_ids is not None:
        before = set(thread.participants.values_list("id", flat=True))
        thread.participants.set(_participants(participant_ids, param="participant_ids"))
        _close_for(thread.id, before - set(participant_ids))
    return thread


def _close_for(thread_id: str, user_ids: set[str]) -> None:
    """Open chats of these users on the thread close (4403) once the change commits."""
    if user_ids:
        notice = {"type": "thread.left", "user_ids": sorted(user_ids)}
        transaction.on_commit(lambda: publish(thread_group(thread_id), notice))


def thread_delete(*, thread: Thread) -> None:
    thread_id = thread.id
    _close_for(thread_id, set(thread.participants.values_list("id", flat=True)))
    thread.delete()
    # The code interpreter's files of the thread go with it (its outputs stay as Files).
    transaction.on_commit(lambda: workdir_remove(thread_id))


def message_create(
    *,
    thread: Thread,
    author: User | None,
    role: str = "user",
    content: list[dict[str, Any]],
    sender_id: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    metadata: dict[str, str] | None = None,
    assistant: Assistant | None = None,
    run: Run | None = None,
    status: str = Message.Status.COMPLETED,
    param_prefix: str = "",
) -> Message:
    """Add a message. ``content`` is already normalised content parts.

    A user message is sent by its author unless ``sender_id`` names another participant,
    which only an admin may do (acting for someone, as the original library's quick start does).
    """
    sender = None
    if role == Message.Role.USER:
        sender = author
        if sender_id is not None and (author is None or sender_id != author.id):
            if author is not None and not author.is_admin:
                raise InvalidRequest(
                    "sender_id must be your own user id.", param=f"{param_prefix}sender_id"
                )
            sender = User.objects.filter(id=sender_id).first()
            if sender is None or not thread.participants.filter(id=sender_id).exists():
                raise InvalidRequest(
                    f"No participant of this thread has the id '{sender_id}'.",
                    param=f"{param_prefix}sender_id",
                )
    if author is not None:
        file_ids_check(
            owner=author,
            file_ids=[a["file_id"] for a in attachments or []]
            + [p["image_file"]["file_id"] for p in content if p["type"] == "image_file"],
            param=f"{param_prefix}attachments",
        )
    now = timezone.now()
    message = Message.objects.create(
        thread=thread,
        role=role,
        content=content,
        sender=sender,
        assistant=assistant,
        run=run,
        status=status,
        completed_at=now if status == Message.Status.COMPLETED else None,
        attachments=attachments or [],
        metadata=metadata or {},
        created_at=now,
    )
    # Participants with the thread open in a browser see it at once (entities.chat.consumers).
    name, data = message_event(message, "created")
    notice = {"type": "thread.event", "event": name, "data": data}
    transaction.on_commit(lambda: publish(thread_group(thread.id), notice))
    return message


def message_update(*, message: Message, metadata: dict[str, str]) -> Message:
    message.metadata = metadata
    save_fields(message, "message", ["metadata"])
    return message


def message_delete(*, message: Message) -> None:
    message.delete()
