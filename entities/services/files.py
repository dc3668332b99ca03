"""Files: uploads, and files the code interpreter writes."""

from django.core.files.base import File as DjangoFile
from django.db import transaction

from entities.errors import InvalidRequest
from entities.models import File, User

PURPOSES = {"assistants", "assistants_output", "vision", "user_data", "batch", "fine-tune"}


@transaction.atomic
def file_create(*, owner: User, filename: str, content: DjangoFile, purpose: str) -> File:
    if purpose not in PURPOSES:
        raise InvalidRequest(
            f"purpose must be one of {', '.join(sorted(PURPOSES))}.", param="purpose"
        )
    name = filename.replace("/", "_").replace("\\", "_")[:255] or "file"
    file = File(owner=owner, filename=name, purpose=purpose, bytes=content.size or 0)
    file.content.save(name, content, save=False)
    file.save()
    return file


def file_delete(*, file: File) -> None:
    file.content.delete(save=False)
    file.delete()
