"""Assistants and the function definitions operators can assign to them."""

from django.db import models
from django.utils import timezone

from entities.validation import (
    validate_function_name,
    validate_json_schema,
    validate_metadata,
    validate_response_format,
    validate_tool_resources,
    validate_tools,
)

from .ids import auto, public_id_field
from .users import User


class FunctionDefinition(models.Model):
    """A function an operator describes once and assigns to any number of assistants."""

    id = public_id_field("func")
    name = models.CharField(max_length=64, unique=True, validators=[validate_function_name])
    description = models.TextField(blank=True)
    parameters = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_json_schema],
        help_text="A JSON Schema object.",
    )
    strict = models.BooleanField(default=False)
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    def as_tool(self) -> dict:
        function: dict = {"name": self.name, "description": self.description}
        function["parameters"] = self.parameters
        function["strict"] = self.strict
        return {"type": "function", "function": function}


class Assistant(models.Model):
    id = public_id_field("asst")
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assistants")
    name = models.CharField(max_length=256, null=True, blank=True)
    description = models.CharField(max_length=512, null=True, blank=True)
    model = models.CharField(max_length=256)
    instructions = models.TextField(null=True, blank=True)
    tools = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_tools],
        help_text="Inline tools, as Assistants v2 tool objects.",
    )
    function_definitions = models.ManyToManyField(
        FunctionDefinition, blank=True, related_name="assistants"
    )
    tool_resources = models.JSONField(
        default=dict, blank=True, validators=[validate_tool_resources]
    )
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    response_format = models.JSONField(
        default=auto, blank=True, validators=[validate_response_format]
    )
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_metadata])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name or self.id

    def all_tools(self) -> list[dict]:
        """Inline tools followed by assigned definitions; a definition replaces a same-named one."""
        assigned = [d.as_tool() for d in self.function_definitions.all()]
        taken = {t["function"]["name"] for t in assigned}
        inline = [
            t
            for t in self.tools
            if t.get("type") != "function" or t["function"]["name"] not in taken
        ]
        return inline + assigned
