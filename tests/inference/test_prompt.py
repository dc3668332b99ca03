"""What the model is shown: instructions, history in order, and truncation."""

import base64
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile

from entities.models import File, Thread, User
from entities.services.files import file_create
from entities.services.threads import message_create
from entities.validation import normalize_message_content
from inference.engine import execute_run
from inference.prompt import PromptTooLong, build_prompt, estimate_tokens
from inference.testing.ollama_double import OllamaDouble

from .conftest import say


def contents(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages]


def test_last_messages_keeps_the_newest(make_run: Any, thread: Thread, alice: User) -> None:
    for i in range(6):
        say(thread, alice, f"m{i}")
    run = make_run(None, truncation_strategy={"type": "last_messages", "last_messages": 2})
    prompt = build_prompt(run, context_window=None)
    assert contents(prompt.messages) == ["You are terse.", "m4", "m5"]
    assert prompt.dropped == 4


def test_auto_keeps_the_newest_messages_that_fit_the_window(
    make_run: Any, thread: Thread, alice: User
) -> None:
    for i in range(50):
        say(thread, alice, f"message number {i} " + "x" * 100)
    run = make_run(None, max_completion_tokens=100)
    prompt = build_prompt(run, context_window=500)
    kept = contents(prompt.messages)[1:]
    assert kept == [f"message number {i} " + "x" * 100 for i in range(50 - len(kept), 50)]
    assert 0 < len(kept) < 50
    assert prompt.estimated_tokens <= 500 - 100
    everything = build_prompt(run, context_window=1_000_000)
    assert everything.dropped == 0


def test_max_prompt_tokens_caps_the_prompt(make_run: Any, thread: Thread, alice: User) -> None:
    for _ in range(10):
        say(thread, alice, "y" * 400)
    run = make_run(None, max_prompt_tokens=350)
    prompt = build_prompt(run, context_window=100_000)
    assert prompt.estimated_tokens <= 350
    assert len(prompt.messages) - 1 == (350 - estimate_tokens("You are terse.")) // estimate_tokens(
        "y" * 400
    )


def test_a_prompt_that_cannot_fit_ends_the_run_incomplete(
    ollama: OllamaDouble, make_run: Any
) -> None:
    run = make_run("z" * 4000, max_prompt_tokens=100)
    with pytest.raises(PromptTooLong):
        build_prompt(run, context_window=None)
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "incomplete"
    assert run.incomplete_details == {"reason": "max_prompt_tokens"}
    assert ollama.requests_to("/api/chat") == []


def test_auto_truncation_uses_the_context_length_ollama_reports(
    ollama: OllamaDouble, make_run: Any, thread: Thread, alice: User, assistant: Any
) -> None:
    ollama.add_model("tiny:latest", context_length=2048)
    assistant.model = "tiny"
    assistant.save()
    for i in range(40):
        say(thread, alice, f"old {i} " + "w" * 300)
    execute_run(make_run("the newest question").id)
    sent = ollama.last_request("/api/chat")["messages"]
    assert sent[-1]["content"] == "the newest question"
    assert 1 < len(sent) < 41
    assert sum(estimate_tokens(m["content"]) for m in sent) <= 2048


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


@pytest.fixture
def vision(ollama: OllamaDouble, assistant: Any) -> Any:
    """The assistant on a model Ollama reports with the vision capability."""
    ollama.add_model("llava:latest", capabilities=("completion", "vision"))
    assistant.model = "llava"
    assistant.save()
    return assistant


def upload(owner: User, name: str, data: bytes) -> File:
    return file_create(owner=owner, filename=name, content=ContentFile(data), purpose="vision")


def test_a_vision_model_sees_the_images_of_user_messages(
    ollama: OllamaDouble, vision: Any, make_run: Any, thread: Thread, alice: User
) -> None:
    picture, notes = upload(alice, "dot.png", PNG), upload(alice, "notes.txt", b"not an image")
    inline = base64.b64encode(PNG).decode()
    # A "payload" that is valid base64 and also the path of a file on the worker: the ollama
    # client reads a string naming an existing path, so the worker must never pass one on.
    secret = Path("/tmp/entitiesvisionprobe")  # 24 characters, all in base64's alphabet
    secret.write_bytes(PNG)
    content = normalize_message_content(
        [
            {"type": "text", "text": "What is in these?"},
            {"type": "image_file", "image_file": {"file_id": picture.id}},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{inline}"}},
            {"type": "image_file", "image_file": {"file_id": notes.id}},  # not an image
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{secret}"}},
            # Not fetched: the worker would reach into the network for whoever names a URL.
            {"type": "image_url", "image_url": {"url": "http://intranet.example/secret.png"}},
        ]
    )
    message_create(thread=thread, author=alice, content=content)

    try:
        execute_run(make_run(None).id)
    finally:
        secret.unlink()
    sent = ollama.last_request("/api/chat")["messages"]
    assert sent[-1]["content"] == "What is in these?"
    assert sent[-1]["images"] == [base64.b64encode(PNG).decode(), inline]

    vision.model = "llama3.1"  # no vision: the text alone, as before
    vision.save()
    execute_run(make_run(None).id)
    sent = ollama.last_request("/api/chat")["messages"]
    assert sent[1]["content"] == "What is in these?" and "images" not in sent[1]


def test_an_image_whose_file_is_gone_is_left_out_and_the_run_goes_on(
    ollama: OllamaDouble, vision: Any, make_run: Any, thread: Thread, alice: User
) -> None:
    picture = upload(alice, "old.png", PNG)
    old = normalize_message_content(
        [
            {"type": "text", "text": "an old picture"},
            {"type": "image_file", "image_file": {"file_id": picture.id}},
        ]
    )
    message_create(thread=thread, author=alice, content=old)
    picture.content.delete(save=False)  # its bytes are gone from the store, its row is not
    run = make_run("and now?")

    execute_run(run.id)

    run.refresh_from_db()
    assert run.status == "completed"
    sent = ollama.last_request("/api/chat")["messages"]
    assert contents(sent) == ["You are terse.", "an old picture", "and now?"]
    assert not any("images" in m for m in sent)
