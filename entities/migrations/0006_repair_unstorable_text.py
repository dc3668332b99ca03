"""Lone surrogates stored before the API refused them are replaced by U+FFFD.

Until then a JSON field could take ``"\\ud800"`` (SQLite keeps the escape as given), and every
response holding it failed to encode: a thread whose message held one answered 500 on each
listing, for every participant. PostgreSQL never stored one (it refuses the escape).
"""

import re

from django.db import migrations

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Candidates by their stored text: the escape's first letters (json.dumps writes lowercase).
ESCAPE = "%\\ud%"


def _repaired(value):
    """``value`` with every lone surrogate in its strings and keys replaced; None if none."""
    fixed = _walk(value)
    return None if fixed == value else fixed


def _walk(value):
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_walk(item) for item in value]
    if isinstance(value, dict):
        return {_walk(key): _walk(item) for key, item in value.items()}
    return value


def repair(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for model in apps.get_app_config("entities").get_models():
        fields = [f for f in model._meta.concrete_fields if f.get_internal_type() == "JSONField"]
        for field in fields:
            table, column = model._meta.db_table, field.column
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(
                    f'SELECT "{model._meta.pk.column}" FROM "{table}" WHERE "{column}" LIKE %s',
                    [ESCAPE],
                )
                ids = [row[0] for row in cursor.fetchall()]
            for pk, value in model.objects.filter(pk__in=ids).values_list("pk", field.name):
                if (fixed := _repaired(value)) is not None:
                    model.objects.filter(pk=pk).update(**{field.name: fixed})


class Migration(migrations.Migration):
    dependencies = [
        ("entities", "0005_console_permissions"),
    ]

    operations = [migrations.RunPython(repair, migrations.RunPython.noop)]
