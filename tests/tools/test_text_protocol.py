"""Tool calls written as text are recognised, and ordinary answers are left alone."""

import pytest

from tools.text_protocol import Holdback, instructions, parse

NAMES = {"get_weather", "calculate"}
WEATHER = '{"name": "get_weather", "arguments": {"city": "Paris"}}'


@pytest.mark.parametrize(
    "text",
    [
        WEATHER,
        f"  {WEATHER}\n",
        f"```json\n{WEATHER}\n```",
        f"```\n{WEATHER}\n```",
        f"<tool_call>{WEATHER}</tool_call>",
        '{"name": "get_weather", "parameters": {"city": "Paris"}}',
        '{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}',
        '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}',
    ],
)
def test_each_format_is_recognised(text: str) -> None:
    calls = parse(text, NAMES)
    assert calls is not None and len(calls) == 1
    assert calls[0].name == "get_weather"
    arguments = calls[0].arguments
    assert arguments in ({"city": "Paris"}, '{"city": "Paris"}')


def test_several_calls() -> None:
    both = f'[{WEATHER}, {{"name": "calculate", "arguments": {{"expression": "1+1"}}}}]'
    assert [c.name for c in parse(both, NAMES) or []] == ["get_weather", "calculate"]
    tags = f"<tool_call>{WEATHER}</tool_call>\n<tool_call>{WEATHER}</tool_call>"
    assert len(parse(tags, NAMES) or []) == 2


@pytest.mark.parametrize(
    "text",
    [
        "The weather is nice.",
        '{"name": "launch_rockets", "arguments": {}}',  # not a tool of this run
        '{"city": "Paris"}',  # JSON, but not a call
        "```json\n{broken\n```",
        f"Sure! <tool_call>{WEATHER}</tool_call> Done.",  # a call inside prose stays prose
        "[1, 2, 3]",
    ],
)
def test_ordinary_answers_are_not_calls(text: str) -> None:
    assert parse(text, NAMES) is None


def test_holdback_streams_prose_at_once_and_holds_calls() -> None:
    prose = Holdback(NAMES)
    assert prose.feed("Hel") == "Hel"
    assert prose.feed("lo") == "lo"
    assert prose.finish() == ("", [])

    call = Holdback(NAMES)
    shown = "".join(
        call.feed(part)
        for part in ['{"name": "get_', 'weather", "arguments": ', '{"city": "Paris"}}']
    )
    assert shown == ""
    rest, calls = call.finish()
    assert rest == "" and calls[0].name == "get_weather"

    json_answer = Holdback(NAMES)
    assert json_answer.feed('{"answer": 42}') == ""
    assert json_answer.finish() == ('{"answer": 42}', [])  # shown after all, at the end


def test_instructions_describe_each_tool() -> None:
    text = instructions(
        [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object"},
                },
            }
        ],
        required="the tool get_weather",
    )
    assert "- get_weather: Weather" in text
    assert '{"name": "<tool name>", "arguments": {...}}' in text
    assert text.endswith("You must call the tool get_weather now.")
