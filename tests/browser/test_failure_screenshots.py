"""A failing browser test leaves a screenshot of its page in tests/artifacts/ for CI to keep."""

import subprocess
import sys

from .conftest import ARTIFACTS

ROOT = ARTIFACTS.parent.parent


def test_a_failing_browser_test_leaves_a_screenshot_of_its_page() -> None:
    shot = ARTIFACTS / "test_probe_that_fails_on_purpose.png"
    shot.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    probe = subprocess.run(
        [*command, "tests/browser/screenshot_probe.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "1 failed" in probe.stdout, probe.stdout + probe.stderr
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    shot.unlink()
