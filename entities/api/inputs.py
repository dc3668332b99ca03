"""Request bodies, validated. Unknown fields are refused, as OpenAI's API does."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from entities.validation import (
    normalize_message_content,
    validate_attachments,
    validate_function_name,
    validate_json_schema,
    validate_metadata,
    validate_response_format,
    validate_tool_choice,
    validate_tool_resources,
    validate_tools,
    validate_truncation_strategy,
)

# The largest integer a database integer column holds.
MAX_INT = 2**31 - 1


class Text(serializers.CharField):
    """A string field that refuses numbers and booleans instead of turning them into text."""

    default_error_messages = {"invalid": "Expected a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Boolean(serializers.BooleanField):
    """``true`` or ``false`` as JSON has them; DRF's own also takes "yes", "on", 1, "0" ..."""

    default_error_messages = {"invalid": "Expected a boolean (true or false)."}

    def to_internal_value(self, data: Any) -> bool:
        if data is not True and data is not False:
            self.fail("invalid")
        return bool(data)


class Input(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": ["The request body must be a JSON object."]}
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {unknown[0]: [f"Unrecognized request argument supplied: {unknown[0]}"]},
                code="unknown_parameter",
            )
        # Text that cannot be stored was refused by the parser (entities.api.parsers).
        return super().to_internal_value(data)


class JSONObjectField(serializers.JSONField):
    """A JSON object where null means an empty one, as OpenAI reads ``"metadata": null``
    (with ``allow_null`` it stays None: "leave as it is")."""

    def run_validation(self, data: Any = empty) -> Any:
        if data is None and not self.allow_null:
            data = {}
        return super().run_validation(data)


class ToolResourcesField(JSONObjectField):
    """``tool_resources``; a tool given as null (``"code_interpreter": null``) has none."""

    def to_internal_value(self, data: Any) -> Any:
        data = super().to_internal_value(data)
        if isinstance(data, dict):
            return {tool: value for tool, value in data.items() if value is not None}
        return data


def metadata_field() -> serializers.JSONField:
    return JSONObjectField(required=False, validators=[validate_metadata])


def tool_resources_field() -> serializers.JSONField:
    return ToolResourcesField(validators=[validate_tool_resources])


class ContentField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        try:
            return normalize_message_content(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


@extend_schema_field(OpenApiTypes.INT)
class UnixTimeInput(serializers.Field):
    """Whole Unix seconds in, an aware datetime out."""

    default_error_messages = {"invalid": "Expected Unix seconds (an integer)."}

    def to_internal_value(self, data: Any) -> datetime:
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        try:
            return datetime.fromtimestamp(data, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise serializers.ValidationError(
                "Expected Unix seconds before the year 10000."
            ) from None


class MessageInput(Input):
    role = serializers.ChoiceField(choices=["user", "assistant"])
    content = ContentField()
    attachments = serializers.JSONField(
        required=False, allow_null=True, validators=[validate_attachments]
    )
    metadata = metadata_field()
    sender_id = Text(required=False, allow_null=True, max_length=40)


class MessageUpdateInput(Input):
    metadata = metadata_field()


class AssistantInput(Input):
    model = Text(max_length=256)
    name = Text(max_length=256, allow_null=True, allow_blank=True)
    description = Text(max_length=512, allow_null=True, allow_blank=True)
    instructions = Text(max_length=256_000, allow_null=True, allow_blank=True)
    tools = serializers.JSONField(validators=[validate_tools])
    tool_resources = tool_resources_field()
    metadata = metadata_field()
    temperature = serializers.FloatField(min_value=0, max_value=2, allow_null=True)
    top_p = serializers.FloatField(min_value=0, max_value=1, allow_null=True)
    response_format = serializers.JSONField(allow_null=True, validators=[validate_response_format])
    function_definition_ids = serializers.ListField(child=Text(max_length=40), max_length=128)
    user_id = Text(max_length=40, help_text="Owner (admins only).")

    def __init__(self, *args: Any, creating: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = creating and name == "model"


class ThreadInput(Input):
    messages = MessageInput(many=True, required=False, max_length=32)  # type: ignore[call-arg]
    metadata = metadata_field()
    tool_resources = tool_resources_field()
    participant_ids = serializers.ListField(child=Text(max_length=40), max_length=100)

    def __init__(self, *args: Any, creating: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
        if not creating:
            del self.fields["messages"]


class RunInput(Input):
    """Create a run; with ``thread`` (create-thread-and-run) the thread is made first."""

    assistant_id = Text(max_length=40)
    model = Text(max_length=256, allow_null=True)
    instructions = Text(max_length=256_000, allow_null=True, allow_blank=True)
    additional_instructions = Text(max_length=256_000, allow_null=True, allow_blank=True)
    additional_messages = MessageInput(many=True, allow_null=True, max_length=32)  # type: ignore[call-arg]
    tools = serializers.JSONField(allow_null=True, validators=[validate_tools])
    metadata = metadata_field()
    temperature = serializers.FloatField(min_value=0, max_value=2, allow_null=True)
    top_p = serializers.FloatField(min_value=0, max_value=1, allow_null=True)
    stream = Boolean(allow_null=True)
    max_prompt_tokens = serializers.IntegerField(min_value=1, max_value=MAX_INT, allow_null=True)
    max_completion_tokens = serializers.IntegerField(
        min_value=1, max_value=MAX_INT, allow_null=True
    )
    truncation_strategy = serializers.JSONField(
        allow_null=True, validators=[validate_truncation_strategy]
    )
    tool_choice = serializers.JSONField(allow_null=True, validators=[validate_tool_choice])
    parallel_tool_calls = Boolean()
    response_format = serializers.JSONField(allow_null=True, validators=[validate_response_format])
    thread = ThreadInput(allow_null=True)
    # null leaves the thread's own tool_resources as they are.
    tool_resources = ToolResourcesField(allow_null=True, validators=[validate_tool_resources])

    def __init__(self, *args: Any, with_thread: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = name == "assistant_id"
        if with_thread:
            del self.fields["additional_messages"]
        else:
            del self.fields["thread"]
            del self.fields["tool_resources"]


class RunUpdateInput(Input):
    metadata = metadata_field()


class ToolOutputInput(Input):
    tool_call_id = Text(max_length=64)
    output = Text(allow_blank=True, max_length=512_000)


class SubmitToolOutputsInput(Input):
    tool_outputs = ToolOutputInput(many=True, allow_empty=False)
    stream = Boolean(required=False, allow_null=True)


class UserInput(Input):
    name = Text(max_length=200)
    email = serializers.EmailField(allow_blank=True)
    is_admin = Boolean()
    username = Text(max_length=150, help_text="Gives the user a login.")
    password = Text(max_length=128, write_only=True)

    def __init__(self, *args: Any, creating: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = creating and name == "name"
        if not creating:
            del self.fields["username"]
            del self.fields["password"]


class ApiKeyInput(Input):
    name = Text(max_length=200, required=False, allow_blank=True)
    expires_at = UnixTimeInput(required=False, allow_null=True)


class FunctionDefinitionInput(Input):
    name = Text(max_length=64, validators=[validate_function_name])
    description = Text(allow_blank=True, max_length=4096)
    parameters = serializers.JSONField(validators=[validate_json_schema])
    strict = Boolean()

    def __init__(self, *args: Any, creating: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = creating and name == "name"
