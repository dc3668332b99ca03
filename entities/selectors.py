"""Reads, with tenancy applied: a user sees what they own or take part in; admins see everything.

An object another user holds is reported exactly as a missing one (404), so ids don't leak.
"""

from typing import TypeVar

from django.db.models import Model, Q, QuerySet

from entities.errors import NotFound
from entities.models import (
    ApiKey,
    Assistant,
    File,
    FunctionDefinition,
    Message,
    Run,
    RunStep,
    Thread,
    User,
)

M = TypeVar("M", bound=Model)


def assistants_visible_to(user: User) -> QuerySet[Assistant]:
    qs = Assistant.objects.prefetch_related("function_definitions")
    return qs if user.is_admin else qs.filter(owner=user)


def _threads_of(user: User) -> QuerySet[Thread]:
    return Thread.objects.all() if user.is_admin else Thread.objects.filter(participants=user)


def threads_visible_to(user: User) -> QuerySet[Thread]:
    return _threads_of(user).prefetch_related("participants")


def function_definitions_visible_to(user: User) -> QuerySet[FunctionDefinition]:
    return FunctionDefinition.objects.all()


def files_visible_to(user: User) -> QuerySet[File]:
    """Their own files, and what the code interpreter wrote in threads they take part in."""
    if user.is_admin:
        return File.objects.all()
    return File.objects.filter(Q(owner=user) | Q(thread__participants=user)).distinct()


def users_visible_to(user: User) -> QuerySet[User]:
    return User.objects.all() if user.is_admin else User.objects.filter(pk=user.pk)


def _get(qs: QuerySet[M], kind: str, object_id: str) -> M:
    obj = qs.filter(pk=object_id).first()
    if obj is None:
        raise NotFound(f"No {kind} found with id '{object_id}'.")
    return obj


def assistant_get(user: User, assistant_id: str) -> Assistant:
    return _get(assistants_visible_to(user), "assistant", assistant_id)


def thread_get(user: User, thread_id: str) -> Thread:
    # No prefetch: for one thread it is the same one query, and most callers (runs,
    # messages) never read the participants.
    return _get(_threads_of(user), "thread", thread_id)


def function_definition_get(user: User, definition_id: str) -> FunctionDefinition:
    qs = function_definitions_visible_to(user)
    return _get(qs, "function definition", definition_id)


def user_get(user: User, user_id: str) -> User:
    return _get(users_visible_to(user), "user", user_id)


def file_get(user: User, file_id: str) -> File:
    return _get(files_visible_to(user), "file", file_id)


def api_key_get(owner: User, key_id: str) -> ApiKey:
    return _get(owner.api_keys.all(), "API key", key_id)


def thread_messages(thread: Thread) -> QuerySet[Message]:
    return thread.messages.select_related("sender")


def message_get(thread: Thread, message_id: str) -> Message:
    return _get(thread_messages(thread), "message", message_id)


def thread_runs(thread: Thread) -> QuerySet[Run]:
    return thread.runs.all()


def run_get(thread: Thread, run_id: str) -> Run:
    return _get(thread_runs(thread), "run", run_id)


def run_step_get(run: Run, step_id: str) -> RunStep:
    return _get(run.steps.select_related("run"), "run step", step_id)
