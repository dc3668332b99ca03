"""From a thread to the messages a model sees: instructions, history, truncation.

Token counts are estimated (about four characters a token, plus a little per message), as the
engine has no tokenizer for every model; Ollama reports the real count in ``usage`` afterwards.
"""

from dataclasses import dataclass
from typing import Any

from entities.models import Message, Run

PER_MESSAGE_TOKENS = 4
# Room kept free for the answer when the run sets no max_completion_tokens.
DEFAULT_ANSWER_RESERVE = 1024


def estimate_tokens(text: str) -> int:
    return PER_MESSAGE_TOKENS + (len(text) + 3) // 4


class PromptTooLong(Exception):
    """Not even the newest message fits in the prompt budget."""


@dataclass
class Prompt:
    messages: list[dict[str, Any]]
    dropped: int  # history messages left out by truncation
    estimated_tokens: int


def _history(run: Run, *, exclude: set[str]) -> list[dict[str, Any]]:
    thread = run.thread
    many_people = thread.participants.count() > 1
    history = []
    for message in thread.messages.select_related("sender").order_by("id"):
        if message.id in exclude:
            continue
        text = message.text
        if message.role == Message.Role.USER and many_people and message.sender is not None:
            # Several people share the thread: the model needs to know who says what.
            text = f"{message.sender.name}: {text}"
        history.append({"role": message.role, "content": text})
    return history


def build_prompt(
    run: Run, *, context_window: int | None, exclude: set[str] | None = None
) -> Prompt:
    system_text = "\n\n".join(
        part for part in (run.instructions, run.additional_instructions) if part
    )
    system = [{"role": "system", "content": system_text}] if system_text else []
    history = _history(run, exclude=exclude or set())

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
    used = sum(estimate_tokens(m["content"]) for m in system)
    if budgets:
        budget = min(budgets)
        fitting: list[dict[str, Any]] = []
        for message in reversed(kept):
            cost = estimate_tokens(message["content"])
            if used + cost > budget:
                break
            fitting.append(message)
            used += cost
        if kept and not fitting:
            raise PromptTooLong(
                f"The newest message alone needs about {estimate_tokens(kept[-1]['content'])} "
                f"tokens; the prompt may have {budget}."
            )
        kept = fitting[::-1]
    else:
        used += sum(estimate_tokens(m["content"]) for m in kept)
    return Prompt(messages=system + kept, dropped=len(history) - len(kept), estimated_tokens=used)
