"""Assistants and function definitions."""

from typing import Any

from django.db import IntegrityError, transaction

from entities.errors import InvalidRequest
from entities.models import Assistant, FunctionDefinition, User
from entities.services.files import code_interpreter_file_ids, file_ids_check
from entities.services.rows import save_fields


def _definitions(ids: list[str]) -> list[FunctionDefinition]:
    found = {d.id: d for d in FunctionDefinition.objects.filter(id__in=ids)}
    for definition_id in ids:
        if definition_id not in found:
            raise InvalidRequest(
                f"No function definition found with id '{definition_id}'.",
                param="function_definition_ids",
            )
    return [found[i] for i in ids]


def _check_tool_resources(
    *, owner: User, fields: dict[str, Any], assistant: Assistant | None = None
) -> None:
    if "tool_resources" in fields:
        file_ids_check(
            owner=owner,
            file_ids=code_interpreter_file_ids(fields["tool_resources"]),
            param="tool_resources",
            kept=code_interpreter_file_ids(assistant.tool_resources if assistant else None),
        )


@transaction.atomic
def assistant_create(
    *, owner: User, model: str, function_definition_ids: list[str] | None = None, **fields: Any
) -> Assistant:
    _check_tool_resources(owner=owner, fields=fields)
    assistant = Assistant.objects.create(owner=owner, model=model, **fields)
    if function_definition_ids:
        assistant.function_definitions.set(_definitions(function_definition_ids))
    return assistant


@transaction.atomic
def assistant_update(
    *,
    assistant: Assistant,
    editor: User,
    function_definition_ids: list[str] | None = None,
    **fields: Any,
) -> Assistant:
    """Change an assistant; files named in its tool_resources must be ``editor``'s."""
    _check_tool_resources(owner=editor, fields=fields, assistant=assistant)
    for field, value in fields.items():
        setattr(assistant, field, value)
    if fields:
        save_fields(assistant, "assistant", list(fields))
    if function_definition_ids is not None:
        assistant.function_definitions.set(_definitions(function_definition_ids))
    return assistant


def assistant_delete(*, assistant: Assistant) -> None:
    assistant.delete()


def _name_taken(name: str) -> InvalidRequest:
    return InvalidRequest(f"A function definition named '{name}' exists already.", param="name")


def function_definition_create(
    *, owner: User | None, name: str, **fields: Any
) -> FunctionDefinition:
    if FunctionDefinition.objects.filter(name=name).exists():
        raise _name_taken(name)
    try:
        # Two creates at once both pass the check above; the unique name stops the second.
        with transaction.atomic():
            return FunctionDefinition.objects.create(owner=owner, name=name, **fields)
    except IntegrityError:
        raise _name_taken(name) from None


def function_definition_update(
    *, definition: FunctionDefinition, **fields: Any
) -> FunctionDefinition:
    name = fields.get("name")
    if name and FunctionDefinition.objects.filter(name=name).exclude(pk=definition.pk).exists():
        raise _name_taken(name)
    for field, value in fields.items():
        setattr(definition, field, value)
    if fields:
        try:
            with transaction.atomic():
                save_fields(definition, "function definition", list(fields))
        except IntegrityError:
            raise _name_taken(str(name)) from None
    return definition


def function_definition_delete(*, definition: FunctionDefinition) -> None:
    definition.delete()
