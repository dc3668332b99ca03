"""What a person does in the chat, in a real Chromium against the live stack."""

from playwright.sync_api import Dialog, Page, expect

from inference.testing.ollama_double import OllamaDouble, Reply

from .conftest import ARTIFACTS

WORDS = [f"w{i:02d}" for i in range(40)]


def new_chat(page: Page, assistant: str) -> None:
    page.get_by_label("Assistant", exact=True).select_option(label=assistant)
    page.get_by_role("button", name="New chat").click()
    expect(page.locator("#thread")).to_be_visible()
    expect(page.locator("#connection")).to_have_text("")  # the websocket has joined
    expect(page.get_by_label("Message", exact=True)).to_be_focused()


def say(page: Page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.keyboard.press("Enter")


def test_a_reply_streams_in_token_by_token(page: Page, double: OllamaDouble) -> None:
    double.enqueue(Reply(content=" ".join(WORDS), tokens_per_second=25))
    new_chat(page, "Mathy")
    say(page, "Count for me, please")
    answer = page.locator(".message.assistant .message-body")
    # Seen part-way: the first words are on screen while the last has not come yet.
    page.wait_for_function(
        """() => {
            const text = document.querySelector(".message.assistant .message-body")?.textContent;
            return !!text && text.includes("w05") && !text.includes("w39");
        }"""
    )
    expect(answer).to_have_text(" ".join(WORDS))
    expect(page.locator(".run-status.completed")).to_contain_text("llama3.1")
    expect(page.locator(".message.user.mine .who")).to_have_text("You")

    # The chat was named after its first message; renaming it by keyboard renames it everywhere.
    page.get_by_role("button", name="Rename").click()
    page.get_by_label("Chat name").fill("Counting")
    page.keyboard.press("Enter")
    expect(page.locator("#thread-title")).to_have_text("Counting")
    expect(page.locator(".thread-link[aria-current=page]")).to_have_text("Counting")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"))
    page.set_viewport_size({"width": 390, "height": 800})
    expect(page.get_by_role("button", name="Threads")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "chat-phone.png"))


def test_esc_stops_a_slow_answer(page: Page, double: OllamaDouble) -> None:
    double.enqueue(Reply(content=" ".join(WORDS * 10), tokens_per_second=20))
    new_chat(page, "Mathy")
    say(page, "Talk for a long time")
    expect(page.locator(".message.assistant .message-body")).to_contain_text("w03")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(".run-status.cancelled")).to_have_text("Stopped.")
    expect(stop).to_be_hidden()
    expect(page.locator(".message.assistant")).to_have_class("message assistant incomplete")
    assert "w39" not in page.locator(".message.assistant .message-body").inner_text()


def test_a_function_call_shows_its_arguments_and_output(page: Page, double: OllamaDouble) -> None:
    double.enqueue(
        Reply(tool_calls=[{"name": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}]),
        Reply(content="It is evening in Tokyo."),
    )
    new_chat(page, "Clock")
    say(page, "What time is it in Tokyo?")
    call = page.locator(".tool-call.function")
    expect(call.locator("summary")).to_contain_text("get_current_time")
    expect(call).to_contain_text('"timezone": "Asia/Tokyo"')
    expect(call).to_contain_text(", Asia/Tokyo)")  # its output: "…+09:00 (Wednesday, Asia/Tokyo)"
    expect(page.locator(".message.assistant .message-body")).to_have_text("It is evening in Tokyo.")


def test_an_unknown_model_is_reported_in_place(page: Page) -> None:
    new_chat(page, "Ghost")
    say(page, "Are you there?")
    failure = page.locator(".run-status.failed")
    expect(failure).to_contain_text("The run failed")
    expect(failure).to_contain_text("model 'no-such-model' is not available")
    expect(failure).to_contain_text("ollama pull no-such-model")


def test_html_in_a_message_is_shown_as_text(page: Page) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    probe = "<img src=x onerror=alert(1)>"
    new_chat(page, "Mathy")
    say(page, probe)
    expect(page.locator(".message.user .message-body")).to_have_text(probe)
    # The double echoes it back: the model's text is rendered as safely as the person's.
    expect(page.locator(".message.assistant .message-body")).to_have_text(f"Echo: {probe}")
    expect(page.locator(".run-status.completed")).to_be_visible()
    assert page.locator("#timeline img").count() == 0
    assert dialogs == []
