"""Writing a row another request may be deleting at the same moment.

``save(update_fields=...)`` on a row deleted since it was read raises a bare DatabaseError (a
500), and ``select_for_update().get()`` raises DoesNotExist (a 500 too): to the client the
object is simply gone, a 404 in the API's words.
"""

from typing import TypeVar

from django.db.models import Model, QuerySet

from entities.errors import NotFound

M = TypeVar("M", bound=Model)


def update_row(obj: Model, kind: str, **values: object) -> None:
    """Set ``values`` on ``obj`` and its row with one conditional UPDATE; a row gone is a 404."""
    row = type(obj)._default_manager.filter(pk=obj.pk)
    if not (row.update(**values) if values else row.exists()):
        raise NotFound(f"No {kind} found with id '{obj.pk}'.")
    for field, value in values.items():
        setattr(obj, field, value)


def save_fields(obj: Model, kind: str, fields: list[str]) -> None:
    """Write ``fields`` of ``obj`` as they are set on it; a row gone is a 404."""
    update_row(obj, kind, **{field: getattr(obj, field) for field in fields})


def locked(queryset: QuerySet[M], kind: str, pk: object) -> M:
    """The row ``pk`` of ``queryset``, locked for the transaction; a row gone is a 404."""
    obj = queryset.select_for_update().filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"No {kind} found with id '{pk}'.")
    return obj
