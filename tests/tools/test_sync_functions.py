from io import StringIO

from django.core.management import call_command

from entities.models import FunctionDefinition


def test_every_server_function_becomes_an_assignable_definition(db: None) -> None:
    call_command("sync_functions", stdout=StringIO())
    calculate = FunctionDefinition.objects.get(name="calculate")
    assert calculate.parameters["required"] == ["expression"]
    assert calculate.description.startswith("Evaluate an arithmetic expression")
    out = StringIO()
    call_command("sync_functions", stdout=out)
    assert "Updated calculate" in out.getvalue()
    assert FunctionDefinition.objects.filter(name="calculate").count() == 1
