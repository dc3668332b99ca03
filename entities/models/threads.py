"""Threads, their participants and messages, and files attached to them."""

from django.db import models
from django.utils import timezone

from entities.validation import validate_metadata

from .assistants import Assistant
from .ids import public_id_field
from .users import User


class Thread(models.Model):
    id = public_id_field("thread")
    owner = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="owned_threads"
    )
    participants = models.ManyToManyField(User, related_name="threads", blank=True)
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_metadata])
    tool_resources = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.id


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        INCOMPLETE = "incomplete"
        COMPLETED = "completed"

    id = public_id_field("msg")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.JSONField(default=list, help_text="Assistants v2 content parts.")
    sender = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    assistant = models.ForeignKey(Assistant, null=True, blank=True, on_delete=models.SET_NULL)
    run = models.ForeignKey(
        "entities.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETED)
    thinking = models.TextField(
        blank=True, help_text="The model's reasoning, kept apart from the answer."
    )
    incomplete_details = models.JSONField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    incomplete_at = models.DateTimeField(null=True, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_metadata])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["thread", "id"], name="message_thread_id")]

    def __str__(self) -> str:
        return self.id

    @property
    def text(self) -> str:
        """The message's text parts joined, for prompts and the admin."""
        return "".join(p["text"]["value"] for p in self.content if p.get("type") == "text")


def _file_path(instance: "File", filename: str) -> str:
    return f"{instance.id}/{filename}"


class File(models.Model):
    id = public_id_field("file")
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="files")
    # The thread whose code interpreter wrote it: the thread's participants may read it.
    thread = models.ForeignKey(
        Thread, null=True, blank=True, on_delete=models.SET_NULL, related_name="output_files"
    )
    filename = models.CharField(max_length=255)
    bytes = models.BigIntegerField(default=0)
    purpose = models.CharField(max_length=32, default="assistants")
    content = models.FileField(upload_to=_file_path, max_length=300)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.id})"
