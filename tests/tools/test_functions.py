"""Server-side functions: schemas derived from Python, and the built-in ones."""

import re
from typing import Literal

import pytest

from tools import builtin
from tools.functions import registry, server_function, with_server_schema


def test_the_schema_comes_from_the_signature_and_docstring() -> None:
    @server_function
    def book_table(
        restaurant: str,
        people: int,
        when: str | None = None,
        seating: Literal["inside", "outside"] = "inside",
    ) -> str:
        """Book a table at a restaurant.

        Args:
            restaurant: The restaurant's name.
            people: How many people come.
        """
        return "booked"

    function = registry()["book_table"]
    assert function.description == "Book a table at a restaurant."
    assert function.parameters == {
        "type": "object",
        "properties": {
            "restaurant": {"type": "string", "description": "The restaurant's name."},
            "people": {"type": "integer", "description": "How many people come."},
            "when": {"type": "string", "default": None},
            "seating": {"enum": ["inside", "outside"], "default": "inside"},
        },
        "required": ["restaurant", "people"],
    }


def test_the_built_ins_are_registered() -> None:
    assert {"get_current_time", "calculate", "days_between"} <= set(registry())


@pytest.mark.parametrize(
    ("expression", "result"),
    [
        ("32768 ** 2", "1073741824"),
        ("(1 + 2) * 3 / 4", "2.25"),
        ("round(sqrt(2) * pi, 3)", "4.443"),
        ("-7 // 2", "-4"),
        ("max(3, 9, 4)", "9"),
    ],
)
def test_calculate(expression: str, result: str) -> None:
    assert builtin.calculate(expression) == result


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('id')",
        "open('/etc/passwd')",
        "2 ** 99999999",
        "[1] * 10",
        "x + 1",
        "(lambda: 1)()",
        "'a' * 3",
    ],
)
def test_calculate_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ValueError):
        builtin.calculate(expression)


def test_current_time_and_days_between() -> None:
    assert re.match(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00 \(\w+day, Asia/Tokyo\)$",
        builtin.get_current_time("Asia/Tokyo"),
    )
    with pytest.raises(ValueError, match="unknown time zone"):
        builtin.get_current_time("Nowhere/Land")
    assert builtin.days_between("2026-01-01", "2026-12-25") == 358


def test_a_tool_named_after_a_server_function_gets_its_schema() -> None:
    filled = with_server_schema({"type": "function", "function": {"name": "calculate"}})
    assert filled["function"]["parameters"]["required"] == ["expression"]
    assert filled["function"]["description"].startswith("Evaluate an arithmetic expression")
    own = {"type": "function", "function": {"name": "mine", "parameters": {"type": "object"}}}
    assert with_server_schema(own) == own


def test_a_parameter_description_may_run_over_several_lines() -> None:
    expression = registry()["calculate"].parameters["properties"]["expression"]
    assert expression["description"].endswith("floor, ceil, min, max.")


def test_nul_in_a_server_functions_output_is_replaced() -> None:
    from tools.calls import _truncated

    assert _truncated("a\x00b") == "a\ufffdb"
