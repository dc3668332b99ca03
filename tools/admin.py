"""Executions of model-written code, read-only: a record is evidence, not something to edit."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import SandboxExecution


@admin.register(SandboxExecution)
class SandboxExecutionAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "run_id",
        "thread_id",
        "exit_code",
        "limit_hit",
        "duration",
        "sandboxed",
    ]
    list_filter = ["limit_hit", "sandboxed", "created_at"]
    search_fields = ["run_id", "thread_id", "code"]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "created_at",
        "run_id",
        "thread_id",
        "exit_code",
        "limit_hit",
        "duration_seconds",
        "sandboxed",
        "code",
        "stdout",
        "stderr",
        "files",
        "skipped",
    )

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, obj: SandboxExecution) -> str:
        return f"{obj.duration_seconds:.2f} s"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
