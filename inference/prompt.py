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


# Images a vision model is sent: at most this large (OpenAI's limit), in these formats.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def _is_image(data: bytes) -> bool:
    """PNG, JPEG, GIF or WebP, by their first bytes (what vision models decode)."""
    webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return webp or data.startswith(_IMAGE_MAGIC)


def _image_sources(message: Message) -> list[tuple[str, str]]:
    """Where a user message's images are: ("file", id) or ("data", the data URL). http(s)
    URLs are not among them: a worker that fetched what users name would be a way into the
    network it sits in."""
    sources = []
    for part in message.content:
        if part.get("type") == "image_file":
            sources.append(("file", part["image_file"]["file_id"]))
        elif part.get("type") == "image_url" and part["image_url"]["url"].startswith("data:"):
            sources.append(("data", part["image_url"]["url"]))
    return sources


def _data_url_bytes(url: str) -> bytes | None:
    head, _, payload = url.partition(",")
    head = head.lower()
    if not (head.startswith("data:image/") and head.endswith(";base64")):
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def _load_images(messages: list[dict[str, Any]]) -> None:
    """Replace each message's image sources with the images' bytes (bytes, not base64 text:
    the ollama client takes a string that names an existing path for a file to read). An
    image that is missing, too large or not an image is left out, with a log line."""
    wanted = {ref for m in messages for kind, ref in m.get("images", ()) if kind == "file"}
    files = {f.id: f for f in File.objects.filter(id__in=wanted)} if wanted else {}
    for message in messages:
        images = []
        for kind, ref in message.pop("images", ()):
            data: bytes | None = None
            if kind == "data":
                data = _data_url_bytes(ref)
            elif (file := files.get(ref)) is None:
                log.info("Image file %s is gone: left out of the prompt", ref)
            elif file.bytes > MAX_IMAGE_BYTES:
                log.info("Image file %s is over %d bytes: left out", ref, MAX_IMAGE_BYTES)
            else:
                try:
                    with file.content.open("rb") as handle:
                        data = handle.read(MAX_IMAGE_BYTES + 1)
                except OSError as exc:
                    log.warning("Image file %s could not be read: %s", ref, exc)
            if data is not None and len(data) <= MAX_IMAGE_BYTES and _is_image(data):
                images.append(data)
            elif data is not None:
                log.info("An image of %s is not a PNG, JPEG, GIF or WebP: left out", ref[:40])
        if images:
            message["images"] = images


def _history(run: Run, *, images: bool) -> list[dict[str, Any]]:
    """The thread as it was when the run was created; with ``images``, user messages carry
    where their images are (read once truncation has kept them)."""
    people = Thread.participants.through.objects.filter(thread_id=run.thread_id)
    many_people = people.count() > 1
    history = []
    messages = (
        Message.objects.filter(thread_id=run.thread_id, created_at__lte=run.created_at)
        .exclude(run=run)
        .select_related("sender")
        .order_by("id")
    )
    for message in messages:
        text = message.text
        if message.role == Message.Role.USER and many_people and message.sender is not None:
            # Several people share the thread: the model needs to know who says what.
            text = f"{message.sender.name}: {text}"
        entry: dict[str, Any] = {"role": message.role, "content": text}
        if images and message.role == Message.Role.USER and (found := _image_sources(message)):
            entry["images"] = found
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
    if images:
        _load_images(kept)
    return Prompt(
        messages=system + kept + current,
        dropped=len(history) - len(kept),
        estimated_tokens=used,
    )
