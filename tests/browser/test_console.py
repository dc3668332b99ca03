"""The operator pulls a model from the console and watches its progress, in a real Chromium."""

from playwright.sync_api import Browser, expect

from inference.testing.ollama_double import OllamaDouble
from tests.stack import Stack


def test_an_operator_pulls_a_model_and_watches_its_progress(
    browser: Browser,
    stack: Stack,
    double: OllamaDouble,
    operator_login: tuple[str, str],
    fresh: None,
) -> None:
    double.add_pullable("tinyllama:1.1b", size=637_700_000, parameter_size="1.1B")
    double.pull_steps, double.pull_delay = 5, 0.25
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{stack.url}/admin/")
    page.get_by_label("Username").fill(operator_login[0])
    page.get_by_label("Password").fill(operator_login[1])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Models").first.click()
    expect(page.locator("tr[data-model='llama3.1:latest']")).to_contain_text("tools")

    page.get_by_label("Model name").fill("tinyllama:1.1b")
    page.keyboard.press("Enter")
    # Part-way: the bar shows Ollama's progress while the pull goes on.
    page.wait_for_function(
        """() => {
            const bar = document.getElementById("pull-bar");
            return bar.hasAttribute("value") && bar.value > 0 && bar.value < 100;
        }"""
    )
    expect(page.locator("#pull-status")).to_contain_text("pulling")
    # Done: the page reloads with the new model in the catalogue.
    expect(page.locator("tr[data-model='tinyllama:1.1b']")).to_contain_text("1.1B")
    context.close()
