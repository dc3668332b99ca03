"""Runs (one assistant turn on a thread) and their steps."""

from django.db import models
from django.utils import timezone

from entities.validation import validate_metadata

from .assistants import Assistant
from .ids import auto, public_id_field
from .threads import Thread
from .users import User


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        IN_PROGRESS = "in_progress"
        REQUIRES_ACTION = "requires_action"
        CANCELLING = "cancelling"
        CANCELLED = "cancelled"
        FAILED = "failed"
        COMPLETED = "completed"
        INCOMPLETE = "incomplete"
        EXPIRED = "expired"

    ACTIVE_STATUSES = (
        Status.QUEUED,
        Status.IN_PROGRESS,
        Status.REQUIRES_ACTION,
        Status.CANCELLING,
    )

    id = public_id_field("run")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="runs")
    assistant = models.ForeignKey(
        Assistant, null=True, on_delete=models.SET_NULL, related_name="runs"
    )
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    required_action = models.JSONField(null=True, blank=True)
    last_error = models.JSONField(null=True, blank=True)
    incomplete_details = models.JSONField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    model = models.CharField(max_length=256)
    instructions = models.TextField(blank=True)
    additional_instructions = models.TextField(null=True, blank=True)
    tools = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_metadata])
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    max_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    max_completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    truncation_strategy = models.JSONField(default=dict, blank=True)
    response_format = models.JSONField(default=auto, blank=True)
    tool_choice = models.JSONField(default=auto, blank=True)
    parallel_tool_calls = models.BooleanField(default=True)
    # Kept by the engine: how often a worker took the run, and when one last showed it was alive.
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The Ollama host the run was sent to (inference.hosts), counted to find the least busy.
    ollama_host = models.CharField(max_length=255, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["thread", "id"], name="run_thread_id"),
            models.Index(fields=["status"], name="run_status"),
        ]
        constraints = [
            # One active run per thread, held by the database itself and not only by a check.
            models.UniqueConstraint(
                fields=["thread"],
                condition=models.Q(
                    status__in=["queued", "in_progress", "requires_action", "cancelling"]
                ),
                name="one_active_run_per_thread",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class RunEvent(models.Model):
    """One event of a run's stream, numbered from 1; replayed to clients that (re)connect."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    event = models.CharField(max_length=64)
    data = models.TextField(help_text="The event's JSON, exactly as streamed.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="run_event_seq")]

    def __str__(self) -> str:
        return f"{self.run_id} #{self.seq} {self.event}"


class RunStep(models.Model):
    class Type(models.TextChoices):
        MESSAGE_CREATION = "message_creation"
        TOOL_CALLS = "tool_calls"

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        CANCELLED = "cancelled"
        FAILED = "failed"
        COMPLETED = "completed"
        EXPIRED = "expired"

    id = public_id_field("step")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    type = models.CharField(max_length=20, choices=Type.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    step_details = models.JSONField(default=dict)
    last_error = models.JSONField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_metadata])
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "run step"

    def __str__(self) -> str:
        return self.id
