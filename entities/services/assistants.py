"""Assistants and function definitions."""

from typing import Any

from django.db import transaction

from entities.errors import InvalidRequest
from entities.models import Assistant, FunctionDefinition, User


def _definitions(ids: list[str]) -> list[FunctionDefinition]:
    found = {d.id: d for d in FunctionDefinition.objects.filter(id__in=ids)}
    for definition_id in ids:
        if definition_id not in found:
            raise InvalidRequest(
                f"No function definition found with id '{definition_id}'.",
                param="function_definition_ids",
            )
    return [found[i] for i in ids]


@transaction.atomic
def assistant_create(
    *, owner: User, model: str, function_definition_ids: list[str] | None = None, **fields: Any
) -> Assistant:
    assistant = Assistant.objects.create(owner=owner, model=model, **fields)
    if function_definition_ids:
        assistant.function_definitions.set(_definitions(function_definition_ids))
    return assistant


@transaction.atomic
def assistant_update(
    *, assistant: Assistant, function_definition_ids: list[str] | None = None, **fields: Any
) -> Assistant:
    for field, value in fields.items():
        setattr(assistant, field, value)
    if fields:
        assistant.save(update_fields=list(fields))
    if function_definition_ids is not None:
        assistant.function_definitions.set(_definitions(function_definition_ids))
    return assistant


def assistant_delete(*, assistant: Assistant) -> None:
    assistant.delete()


def function_definition_create(
    *, owner: User | None, name: str, **fields: Any
) -> FunctionDefinition:
    if FunctionDefinition.objects.filter(name=name).exists():
        raise InvalidRequest(f"A function definition named '{name}' exists already.", param="name")
    return FunctionDefinition.objects.create(owner=owner, name=name, **fields)


def function_definition_update(
    *, definition: FunctionDefinition, **fields: Any
) -> FunctionDefinition:
    name = fields.get("name")
    if name and FunctionDefinition.objects.filter(name=name).exclude(pk=definition.pk).exists():
        raise InvalidRequest(f"A function definition named '{name}' exists already.", param="name")
    for field, value in fields.items():
        setattr(definition, field, value)
    if fields:
        definition.save(update_fields=list(fields))
    return definition


def function_definition_delete(*, definition: FunctionDefinition) -> None:
    definition.delete()
