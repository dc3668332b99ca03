"""The one place that builds each wire object; REST, SSE, websockets and the SDK all reuse it.

Field names and shapes are the OpenAI Assistants API v2 ones; extensions (``sender_id``,
``participant_ids``, ``function_definition_ids``, ``user_id``) sit beside them.
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

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


@extend_schema_field(OpenApiTypes.INT)
class UnixTime(serializers.Field):
    """Datetimes travel as whole Unix seconds."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: datetime) -> int:
        return int(value.timestamp())


@extend_schema_field(OpenApiTypes.STR)
class Constant(serializers.Field):
    """The ``object`` field: a fixed type name."""

    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__(read_only=True, source="*")

    def to_representation(self, value: Any) -> str:
        return self.value


def _json(**kwargs: Any) -> serializers.JSONField:
    return serializers.JSONField(read_only=True, **kwargs)


def _nullable_source(model: type[models.Model], source: str) -> bool:
    """Whether ``source`` (``completed_at``, ``owner_id``, ``account.username``) can be None:
    a nullable column, or a path through a nullable relation."""
    for name in source.split("."):
        try:
            field: Any = model._meta.get_field(name)
        except FieldDoesNotExist:
            field = next((f for f in model._meta.concrete_fields if f.attname == name), None)
            if field is None:
                return False
        if field.null:
            return True
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
    return False


class WireSerializer(serializers.ModelSerializer):
    """A wire object. A declared field whose model source can be None is nullable, so the
    schema says what the responses hold (a run's ``completed_at`` before it completes)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields: dict[str, serializers.Field] = super().get_fields()
        for name, field in fields.items():
            source = field.source or name
            if source != "*" and _nullable_source(self.Meta.model, source):
                field.allow_null = True
        return fields


class UserSerializer(WireSerializer):
    object = Constant("user")
    created_at = UnixTime()
    username = serializers.CharField(source="account.username", read_only=True)

    class Meta:
        model = User
        fields = ["id", "object", "created_at", "name", "email", "is_admin", "username"]


class ApiKeySerializer(WireSerializer):
    object = Constant("api_key")
    created_at = UnixTime()
    last_used_at = UnixTime()
    expires_at = UnixTime()
    revoked_at = UnixTime()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "object",
            "created_at",
            "user_id",
            "name",
            "prefix",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]


class NewApiKeySerializer(ApiKeySerializer):
    """A key as created: ``key`` is its secret, shown this once (``context["key"]``)."""

    key = serializers.SerializerMethodField()

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]

    def get_key(self, key: ApiKey) -> str:
        return str(self.context["key"])


class FunctionDefinitionSerializer(WireSerializer):
    object = Constant("function_definition")
    created_at = UnixTime()
    parameters = _json()

    class Meta:
        model = FunctionDefinition
        fields = ["id", "object", "created_at", "name", "description", "parameters", "strict"]


class AssistantSerializer(WireSerializer):
    object = Constant("assistant")
    created_at = UnixTime()
    tools = serializers.SerializerMethodField()
    tool_resources = _json()
    response_format = _json()
    metadata = _json()
    user_id = serializers.CharField(source="owner_id", read_only=True)
    function_definition_ids = serializers.SerializerMethodField()

    class Meta:
        model = Assistant
        fields = [
            "id",
            "object",
            "created_at",
            "name",
            "description",
            "model",
            "instructions",
            "tools",
            "tool_resources",
            "metadata",
            "temperature",
            "top_p",
            "response_format",
            "user_id",
            "function_definition_ids",
        ]

    def get_tools(self, assistant: Assistant) -> list[dict[str, Any]]:
        return assistant.all_tools()

    def get_function_definition_ids(self, assistant: Assistant) -> list[str]:
        return [d.id for d in assistant.function_definitions.all()]


class ThreadSerializer(WireSerializer):
    object = Constant("thread")
    created_at = UnixTime()
    metadata = _json()
    tool_resources = _json()
    participant_ids = serializers.SerializerMethodField()

    class Meta:
        model = Thread
        fields = ["id", "object", "created_at", "metadata", "tool_resources", "participant_ids"]

    def get_participant_ids(self, thread: Thread) -> list[str]:
        return [u.id for u in thread.participants.all()]


class MessageSerializer(WireSerializer):
    object = Constant("thread.message")
    created_at = UnixTime()
    completed_at = UnixTime()
    incomplete_at = UnixTime()
    content = _json()
    attachments = _json()
    metadata = _json()
    incomplete_details = _json()

    class Meta:
        model = Message
        fields = [
            "id",
            "object",
            "created_at",
            "thread_id",
            "status",
            "incomplete_details",
            "completed_at",
            "incomplete_at",
            "role",
            "content",
            "assistant_id",
            "run_id",
            "attachments",
            "metadata",
            "sender_id",
        ]


class RunSerializer(WireSerializer):
    object = Constant("thread.run")
    created_at = UnixTime()
    expires_at = serializers.SerializerMethodField()
    started_at = UnixTime()
    cancelled_at = UnixTime()
    failed_at = UnixTime()
    completed_at = UnixTime()
    required_action = _json()
    last_error = _json()
    incomplete_details = _json()
    usage = _json()
    tools = _json()
    metadata = _json()
    truncation_strategy = _json()
    response_format = _json()
    tool_choice = _json()

    class Meta:
        model = Run
        fields = [
            "id",
            "object",
            "created_at",
            "thread_id",
            "assistant_id",
            "status",
            "required_action",
            "last_error",
            "expires_at",
            "started_at",
            "cancelled_at",
            "failed_at",
            "completed_at",
            "incomplete_details",
            "model",
            "instructions",
            "tools",
            "metadata",
            "usage",
            "temperature",
            "top_p",
            "max_prompt_tokens",
            "max_completion_tokens",
            "truncation_strategy",
            "response_format",
            "tool_choice",
            "parallel_tool_calls",
        ]

    def get_expires_at(self, run: Run) -> int | None:
        # As OpenAI: a run that has ended no longer expires.
        if run.is_active and run.expires_at is not None:
            return int(run.expires_at.timestamp())
        return None


class RunStepSerializer(WireSerializer):
    object = Constant("thread.run.step")
    created_at = UnixTime()
    expired_at = UnixTime()
    cancelled_at = UnixTime()
    failed_at = UnixTime()
    completed_at = UnixTime()
    assistant_id = serializers.CharField(source="run.assistant_id", read_only=True)
    thread_id = serializers.CharField(source="run.thread_id", read_only=True)
    step_details = _json()
    last_error = _json()
    usage = _json()
    metadata = _json()

    class Meta:
        model = RunStep
        fields = [
            "id",
            "object",
            "created_at",
            "assistant_id",
            "thread_id",
            "run_id",
            "type",
            "status",
            "step_details",
            "last_error",
            "expired_at",
            "cancelled_at",
            "failed_at",
            "completed_at",
            "metadata",
            "usage",
        ]


class FileSerializer(WireSerializer):
    object = Constant("file")
    created_at = UnixTime()
    status = serializers.SerializerMethodField()

    class Meta:
        model = File
        fields = ["id", "object", "bytes", "created_at", "filename", "purpose", "status"]

    def get_status(self, file: File) -> str:
        return "processed"


class DeletedSerializer(serializers.Serializer):
    """What a deletion answers (``deleted``)."""

    id = serializers.CharField()
    object = serializers.CharField()
    deleted = serializers.BooleanField()


def deleted(object_id: str, kind: str) -> dict[str, Any]:
    return {"id": object_id, "object": f"{kind}.deleted", "deleted": True}
