"""Files: uploads, and files the code interpreter writes."""

from collections.abc import Iterable
from typing import Any

from django.core.files.base import File as DjangoFile
from django.db import transaction

from entities.errors import InvalidRequest
from entities.models import File, Thread, User

PURPOSES = {"assistants", "assistants_output", "vision", "user_data", "batch", "fine-tune"}


@transaction.atomic
def file_create(
    *,
    owner: User,
    filename: str,
    content: DjangoFile,
    purpose: str,
    thread: Thread | None = None,
) -> File:
    """Store a file; one the code interpreter wrote names its ``thread``, whose participants
    may read it."""
    if purpose not in PURPOSES:
        raise InvalidRequest(
            f"purpose must be one of {', '.join(sorted(PURPOSES))}.", param="purpose"
        )
    name = filename.replace("/", "_").replace("\\", "_")[:255] or "file"
    file = File(owner=owner, thread=thread, filename=name, purpose=purpose, bytes=content.size or 0)
    file.content.save(name, content, save=False)
    file.save()
    return file


def file_delete(*, file: File) -> None:
    file.content.delete(save=False)
    file.delete()


def file_ids_check(
    *, owner: User, file_ids: Iterable[str], param: str, kept: Iterable[str] = ()
) -> None:
    """Refuse ids of files ``owner`` does not own (admins may use any), as if missing; ids in
    ``kept`` (already on the object being changed, perhaps another's) pass as they are."""
    kept = set(kept)
    file_ids = [i for i in file_ids if i not in kept]
    files = File.objects.filter(id__in=file_ids)
    if not owner.is_admin:
        files = files.filter(owner=owner)
    found = set(files.values_list("id", flat=True))
    for file_id in file_ids:
        if file_id not in found:
            raise InvalidRequest(f"No file found with id '{file_id}'.", param=param)


def code_interpreter_file_ids(tool_resources: dict[str, Any] | None) -> list[str]:
    """``tool_resources.code_interpreter.file_ids``; a null anywhere on the way means none."""
    code_interpreter = (tool_resources or {}).get("code_interpreter") or {}
    return list(code_interpreter.get("file_ids") or [])
