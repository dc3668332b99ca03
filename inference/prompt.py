"""From a thread to the messages a model sees: instructions, history, this run's own turns,
truncation.

Token counts are estimated (about four characters a token, plus a little per message), as the
engine has no tokenizer for every model; Ollama reports the real count in ``usage`` afterwards.
"""

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from typing import Any

from entities.models import File, Message, Run, RunStep, Thread

log = logging.getLogger(__name__)

PER_MESSAGE_TOKENS = 4
# What an image costs a vision model, for truncation: models differ (LLaVA 576 tokens, Llama
# 3.2 Vision about 1600, Gemma 3 256); this is an estimate in between.
IMAGE_TOKENS = 768
# Room kept free for the answer when the run sets no max_completion_tokens.
DEFAULT_ANSWER_RESERVE = 1024


def estimate_tokens(text: str) -> int:
    return PER_MESSAGE_TOKENS + (len(text) + 3) // 4


def _cost(message: dict[str, Any]) -> int:
    extra = json.dumps(message["tool_calls"]) if message.get("tool_calls") else ""
    images = IMAGE_TOKENS * len(message.get("images") or ())
    return estimate_tokens(message["content"] + extra) + images


class PromptTooLong(Exception):
    """Not even the newest message fits in the prompt budget."""


@dataclass
class Prompt:
    messages: list[dict[str, Any]]
    dropped: int  # history messages left out by truncation
    estimated_tokens: int


def _data_url_image(url: str) -> str | None:
    """The base64 payload of a ``data:image/...;base64,`` URL, or None for any other URL."""
    head, _, payload = url.partition(",")
    if not (head.startswith("data:image/") and head.endswith(";base64")):
        return None
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    return payload


def _images(messages: list[Message]) -> dict[str, list[str]]:
    """Each message's images as base64, for a vision model: ``image_file`` parts read from the
    file store, ``data:`` URLs as they are. http(s) URLs are not fetched: a worker that
    fetches what users name is a way into the network it sits in."""
    file_ids = {
        part["image_file"]["file_id"]
        for message in messages
        for part in message.content
        if part.get("type") == "image_file"
    }
    files = {f.id: f for f in File.objects.filter(id__in=file_ids)} if file_ids else {}
    found: dict[str, list[str]] = {}
    for message in messages:
        images = []
        for part in message.content:
            if part.get("type") == "image_file":
                file = files.get(part["image_file"]["file_id"])
                if file is None:
                    log.info("Message %s: its image file is gone", message.id)
                    continue
                with file.content.open("rb") as handle:
                    images.append(base64.b64encode(handle.read()).decode())
            elif part.get("type") == "image_url":
                payload = _data_url_image(part["image_url"]["url"])
                if payload is not None:
                    images.append(payload)
        if images:
            found[message.id] = images
    return found


def _history(run: Run, *, images: bool) -> list[dict[str, Any]]:
    """The thread as it was when the run was created; with ``images``, user messages carry
    their images (a vision model)."""
    people = Thread.participants.through.objects.filter(thread_id=run.thread_id)
    many_people = people.count() > 1
    history = []
    messages = list(
        Message.objects.filter(thread_id=run.thread_id, created_at__lte=run.created_at)
        .exclude(run=run)
        .select_related("sender")
        .order_by("id")
    )
    users = [m for m in messages if m.role == Message.Role.USER]
    pictures = _images(users) if images else {}
    for message in messages:
        text = message.text
        if message.role == Message.Role.USER and many_people and message.sender is not None:
            # Several people share the thread: the model needs to know who says what.
            text = f"{message.sender.name}: {text}"
        entry: dict[str, Any] = {"role": message.role, "content": text}
        if message.id in pictures:
            entry["images"] = pictures[message.id]
        history.append(entry)
    return history


def _arguments(text: str) -> dict[str, Any]:
    """A call's arguments as an object (Ollama's wire has no other kind): {} when they were not
    a JSON object, which the call's error output explains to the model."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def step_calls(step: RunStep) -> list[tuple[str, str, dict[str, Any], str | None]]:
    """(id, function name, arguments, output or None) of each call in a tool_calls step."""
    calls = []
    for call in step.step_details.get("tool_calls", []):
        if call.get("type") == "code_interpreter":
            code = call["code_interpreter"]
            outputs = code.get("outputs") or []
            logs = "\n".join(o["logs"] for o in outputs if o.get("type") == "logs")
            ran = bool(outputs)
            calls.append(
                (call["id"], "code_interpreter", {"code": code["input"]}, logs if ran else None)
            )
        elif call.get("type") == "function":
            function = call["function"]
            arguments = _arguments(function["arguments"])
            calls.append((call["id"], function["name"], arguments, function.get("output")))
    return calls


def _tool_round(step: RunStep, *, as_text: bool) -> list[dict[str, Any]]:
    calls = step_calls(step)
    answered = [c for c in calls if c[3] is not None]
    if as_text:
        asked = [{"name": name, "arguments": arguments} for _, name, arguments, _ in calls]
        results = "\n".join(f"- {name}: {output}" for _, name, _, output in answered)
        return [
            {"role": "assistant", "content": json.dumps(asked)},
            {"role": "user", "content": f"Tool results:\n{results}"},
        ]
    turn: list[dict[str, Any]] = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": call_id, "function": {"name": name, "arguments": arguments}}
                for call_id, name, arguments, _ in calls
            ],
        }
    ]
    turn += [
        {"role": "tool", "content": output, "tool_name": name, "tool_call_id": call_id}
        for call_id, name, _, output in answered
    ]
    return turn


def _this_run(run: Run, *, tools_as_text: bool) -> list[dict[str, Any]]:
    """What the model said and the tools answered so far in this run, in order."""
    if run.started_at is None:  # never claimed yet: it has said nothing so far
        return []
    items: list[tuple[str, list[dict[str, Any]]]] = []
    for message in run.messages.filter(role=Message.Role.ASSISTANT):
        if message.text:
            items.append((message.id, [{"role": "assistant", "content": message.text}]))
    for step in run.steps.filter(type=RunStep.Type.TOOL_CALLS):
        items.append((step.id, _tool_round(step, as_text=tools_as_text)))
    # Ids of every kind are time-ordered after their prefix (msg_…, step_…).
    items.sort(key=lambda item: item[0].partition("_")[2])
    return [m for _, turn in items for m in turn]


def build_prompt(
    run: Run,
    *,
    context_window: int | None,
    system_extra: str = "",
    tools_as_text: bool = False,
    images: bool = False,
) -> Prompt:
    system_text = "\n\n".join(
        part for part in (run.instructions, run.additional_instructions, system_extra) if part
    )
    system = [{"role": "system", "content": system_text}] if system_text else []
    history = _history(run, images=images)
    current = _this_run(run, tools_as_text=tools_as_text)

    strategy = run.truncation_strategy or {}
    kept = history
    if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
        kept = history[-int(strategy["last_messages"]) :]

    budgets = []
    if context_window:
        reserve = run.max_completion_tokens or DEFAULT_ANSWER_RESERVE
        budgets.append(max(context_window - min(reserve, context_window // 2), 1))
    if run.max_prompt_tokens:
        budgets.append(run.max_prompt_tokens)
    used = sum(_cost(m) for m in system + current)
    if budgets:
        budget = min(budgets)
        fitting: list[dict[str, Any]] = []
        for message in reversed(kept):
            cost = _cost(message)
            if used + cost > budget:
                break
            fitting.append(message)
            used += cost
        if kept and not fitting:
            raise PromptTooLong(
                f"The newest message alone needs about {_cost(kept[-1])} tokens; "
                f"the prompt may have {budget}."
            )
        kept = fitting[::-1]
    else:
        used += sum(_cost(m) for m in kept)
    return Prompt(
        messages=system + kept + current,
        dropped=len(history) - len(kept),
        estimated_tokens=used,
    )
