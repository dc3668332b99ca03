"""Not collected on its own (no ``test_`` prefix): tests/browser/test_failure_screenshots.py runs
it in a pytest of its own, to see that a failing browser test leaves a screenshot behind."""

from playwright.sync_api import Browser


def test_probe_that_fails_on_purpose(browser: Browser) -> None:
    page = browser.new_context().new_page()
    page.set_content("<h1>Failed on purpose</h1>")
    assert page.title() == "a title this page does not have"
