"""The parity page in a real browser: headless Chromium through Selenium.

Needs Debian's ``chromium`` and ``chromium-driver`` packages (``apt-get install chromium
chromium-driver``) and the ``selenium`` package (in the ``test`` extra). Without them these
tests skip and say why; with ``PARITY_REQUIRE_BROWSER=1`` (as ``.ci/run`` sets) they fail
instead. Screenshots of the example's states go to ``$PARITY_SCREENSHOTS`` when it is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_parity.cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "engine"
REQUIRED = os.environ.get("PARITY_REQUIRE_BROWSER", "") not in ("", "0")
HOSTILE = '<script>window.pwned=1</script>"><img src=x onerror="window.pwned=2">'


def _driver_path() -> str | None:
    found = shutil.which("chromedriver")
    debian = "/usr/lib/chromium/chromedriver"
    return found or (debian if os.path.exists(debian) else None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium, or a skip (a failure with PARITY_REQUIRE_BROWSER=1) saying
    what is missing."""
    missing = []
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    chromium = next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
        None,
    )
    if chromium is None:
        missing.append("a chromium browser (Debian: apt-get install chromium)")
    driver_path = _driver_path()
    if driver_path is None:
        missing.append("chromedriver (Debian: apt-get install chromium-driver)")
    if missing:
        message = "cannot run the browser tests, missing: " + "; ".join(missing)
        if REQUIRED:
            pytest.fail(message + " (PARITY_REQUIRE_BROWSER is set)")
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1100,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(driver_path)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def load(browser: Any, page: Path, *, scripts: bool = True) -> list[str]:
    """Open the page; return what the browser logged as an error (script errors, policy
    violations, failed loads)."""
    browser.get_log("browser")  # forget what earlier pages logged
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": not scripts})
    browser.get(page.as_uri())
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def shown(browser: Any) -> dict[str, bool]:
    rows = browser.find_elements("css selector", "details.inv")
    return {row.get_attribute("id").removeprefix("inv-"): row.is_displayed() for row in rows}


def search(browser: Any, text: str) -> None:
    """Type into the search box as a person would (select all, then type over it)."""
    from selenium.webdriver.common.keys import Keys

    box = browser.find_element("css selector", "input[name=q]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text or Keys.DELETE)


def screenshot(browser: Any, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PARITY_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert browser.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


@pytest.fixture(scope="module")
def example_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example suite's page in three states: all proven; one invariant failed (the
    engine broken); the gate not evaluated (broken, and stopped at the first failure)."""
    root = tmp_path_factory.mktemp("example")
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True)
    engine = root / "engine" / "engine.py"
    pages = {}
    for state, broken, extra in (
        ("all-proven", False, []),
        ("one-failed", True, []),
        ("not-evaluated", True, ["--maxfail=1"]),
    ):
        if broken:
            source = engine.read_text(encoding="utf-8")
            source = source.replace('return Receipt("duplicate", existing)', "pass")
            engine.write_text(source, encoding="utf-8")
        page = root / f"{state}.html"
        args = ["-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
        args += ["--parity-gate=all", f"--parity-html={page}", *extra]
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1764547200"}
        subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, check=False)
        assert page.is_file(), state
        pages[state] = page
    return pages


@pytest.mark.parametrize("state", ["all-proven", "one-failed", "not-evaluated"])
def test_the_example_s_page_loads_cleanly(
    browser: Any, example_pages: dict[str, Path], state: str, tmp_path: Path
) -> None:
    assert load(browser, example_pages[state]) == []
    verdict = browser.find_element("css selector", ".verdict").text
    expected = {
        "all-proven": "parity gate (all): PASSED",
        "one-failed": "parity gate (all): FAILED, 1 invariant not proven",
        "not-evaluated": "parity gate (all): NOT EVALUATED, ",
    }[state]
    assert verdict.startswith(expected)
    assert browser.find_element("id", "filters").is_displayed()
    assert browser.find_element("id", "shown").text == "8 of 8 invariants shown"
    if state == "one-failed":
        browser.find_element("css selector", "#inv-RUNKEY-01 > summary").click()
        evidence = browser.find_element("css selector", "#inv-RUNKEY-01 .evidence").text
        assert "failed: 1" in evidence
        assert "test_duplicate_run_key_returns_the_existing_run" in evidence
    screenshot(browser, f"page-{state}", tmp_path)


def test_the_filters_hide_and_show_rows(browser: Any, example_pages: dict[str, Path]) -> None:
    load(browser, example_pages["one-failed"])
    assert all(shown(browser).values())
    browser.find_element("css selector", "input[name=status][value=proven]").click()
    visible = {inv for inv, on in shown(browser).items() if on}
    assert visible == {"RUNKEY-01", "OPS-01"}  # failed, waived
    assert browser.find_element("id", "shown").text == "2 of 8 invariants shown"
    milestones = browser.find_elements("css selector", "section.milestone")
    assert [m.is_displayed() for m in milestones] == [False, True, True]  # M1: all proven
    browser.find_element("css selector", "input[name=status][value=proven]").click()
    search(browser, "timer")
    assert {inv for inv, on in shown(browser).items() if on} == {"timer.dedupe"}
    search(browser, "test_replay")  # a test's name
    assert {inv for inv, on in shown(browser).items() if on} == {"IDEMP-01", "REPLAY-01"}
    search(browser, "")
    browser.find_element("css selector", "select[name=milestone] option[value=M3]").click()
    assert {inv for inv, on in shown(browser).items() if on} == {"REPLAY-01", "OPS-01"}


def test_without_scripts_everything_is_shown(browser: Any, example_pages: dict[str, Path]) -> None:
    try:
        assert load(browser, example_pages["one-failed"], scripts=False) == []
        assert all(shown(browser).values())
        assert not browser.find_element("id", "filters").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def test_hostile_text_stays_text(browser: Any, pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        parity=f"""
        milestones = [{{ id = "M1", title = '{HOSTILE}' }}]
        [invariants.A]
        milestone = "M1"
        title = '{HOSTILE}'
        """,
    )
    pytester.makepyfile(
        test_h=f"""
        import pytest
        @pytest.mark.parity("A")
        @pytest.mark.parametrize("x", [{HOSTILE!r}])
        def test_h(x): pytest.fail(x)
        """
    )
    pytester.runpytest("-p", "no:randomly", "--parity-report=r.xml")
    page = pytester.path / "p.html"
    assert main(["html", str(pytester.path / "r.xml"), "-o", str(page)]) == 0
    errors = load(browser, page)
    assert browser.execute_script("return window.pwned === undefined")
    assert not [e for e in errors if "Content Security Policy" not in e], errors
    assert browser.find_element("css selector", "#inv-A .title").text == HOSTILE
    browser.find_element("css selector", "#inv-A > summary").click()
    assert HOSTILE in browser.find_element("css selector", "#inv-A .evidence").text
    assert browser.find_elements("css selector", "img") == []
