"""What the tools keep: a record of every execution of model-written code."""

from django.db import models
from django.utils import timezone


class SandboxExecution(models.Model):
    """One execution in the code interpreter's sandbox, for operators to audit in the admin.

    Runs and threads are named by their public ids, not foreign keys: the record of what code
    ran on this server outlives the deletion of the thread it ran for.
    """

    class LimitHit(models.TextChoices):
        WALL = "wall", "wall time"
        CPU = "cpu", "CPU time"
        MEMORY = "memory", "memory"
        PROCESSES = "processes", "processes and threads"
        FILE_SIZE = "file_size", "file size"
        OPEN_FILES = "open_files", "open files"
        OUTPUT = "output", "output size"

    run_id = models.CharField(max_length=40, blank=True, db_index=True)
    thread_id = models.CharField(max_length=40, blank=True, db_index=True)
    code = models.TextField()
    stdout = models.TextField(blank=True)
    stderr = models.TextField(blank=True)
    exit_code = models.IntegerField()
    duration_seconds = models.FloatField()
    limit_hit = models.CharField(max_length=20, choices=LimitHit.choices, null=True, blank=True)
    # Paths (under /mnt/data) of the files it wrote that came back, and of those passed over.
    files = models.JSONField(default=list, blank=True)
    skipped = models.JSONField(default=list, blank=True)
    # False when it ran in the unsafe development mode, without bubblewrap.
    sandboxed = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at"], name="sandbox_execution_created")]

    def __str__(self) -> str:
        return f"execution {self.pk} of {self.run_id or 'no run'} (exit {self.exit_code})"
