"""A real headless Chromium (Debian's, at /usr/bin/chromium) against the live stack.

Playwright only drives it: its own browser downloads are never used. A machine without
Chromium fails these tests and says how to get it (``make browser``), rather than skipping.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from inference.testing.ollama_double import OllamaDouble
from tests.stack import Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
LOGIN, PASSWORD = "dora", "dora-passphrase"
OPS_LOGIN, OPS_PASSWORD = "ops", "ops-passphrase"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed browser test leaves a screenshot of its page in tests/artifacts/<test>.png."""
    report = yield
    if report.failed and report.when == "call":
        funcargs = getattr(item, "funcargs", {})
        pages = [funcargs["page"]] if "page" in funcargs else []
        if not pages and "browser" in funcargs:  # a test that opened its own context
            pages = [p for context in funcargs["browser"].contexts for p in context.pages]
        ARTIFACTS.mkdir(exist_ok=True)
        for index, tab in enumerate(pages):
            suffix = f"-{index + 1}" if index else ""
            name = re.sub(r"[^\w.-]+", "_", item.name) + suffix
            try:
                tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as exc:  # a closed page: the report stays as it is
                report.sections.append(("screenshot", f"none taken: {exc}"))
    return report


@pytest.fixture(scope="session")
def double() -> Iterator[OllamaDouble]:
    with OllamaDouble() as ollama:
        yield ollama


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, double: OllamaDouble) -> Iterator[Stack]:
    """daphne and a qcluster worker, as ``make run`` starts them, on the double."""
    live = Stack(tmp_path_factory.mktemp("browser-stack"), double.host, WORKERS="2")
    try:
        yield live.start()
    finally:
        live.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need Debian's chromium "
            "package. Run `make browser` (as root it runs apt-get install chromium).",
            pytrace=False,
        )
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def dora(stack: Stack) -> str:
    """Dora chats; Ops administers. Both log in. Returns an API key of Dora's for set-up."""
    out = stack.manage(
        "shell",
        "-c",
        "from entities.services.users import api_key_create, user_create; "
        f"dora = user_create(name='Dora', username='{LOGIN}', password='{PASSWORD}'); "
        f"user_create(name='Ops', is_admin=True, username='{OPS_LOGIN}', "
        f"password='{OPS_PASSWORD}'); "
        "print(api_key_create(user=dora)[1])",
    )
    return out.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def assistants(stack: Stack, dora: str) -> dict[str, str]:
    """Dora's assistants: one on a model the double has, one with a server function, and one
    on a model nobody pulled."""
    clock = [{"type": "function", "function": {"name": "get_current_time"}}]
    wanted: dict[str, dict[str, Any]] = {
        "Mathy": {"model": "llama3.1"},
        "Clock": {"model": "llama3.1", "tools": clock},
        "Ghost": {"model": "no-such-model"},
    }
    headers = {"Authorization": f"Bearer {dora}"}
    with httpx.Client(base_url=f"{stack.url}/v1", headers=headers) as http:
        return {
            name: http.post("/assistants", json={"name": name, **fields}).json()["id"]
            for name, fields in wanted.items()
        }


@pytest.fixture(scope="session")
def operator_login(dora: str) -> tuple[str, str]:
    return OPS_LOGIN, OPS_PASSWORD


@pytest.fixture
def fresh(double: OllamaDouble) -> None:
    double.clear_replies()
    double.tokens_per_second = None
    double.responder = None
    double.pull_delay = 0.0


@pytest.fixture
def page(browser: Browser, stack: Stack, assistants: dict[str, str], fresh: None) -> Iterator[Page]:
    """Dora's browser, logged in at / (a fresh context: its own cookies)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.goto(f"{stack.url}/")
    assert "/login/" in tab.url  # the chat asks who you are first
    tab.get_by_label("Login").fill(LOGIN)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url(f"{stack.url}/")
    tab.locator("#assistant option[value^='asst_']").first.wait_for(state="attached")
    yield tab
    context.close()
