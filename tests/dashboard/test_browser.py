"""The dashboard in a real browser (Debian's headless Chromium through Selenium) while a
rollout runs: the emulator over HTTP, a worker and the dashboard, each its own process
on loopback.

Screenshots of every page are saved (the path is printed; ``WXA_DASHBOARD_SHOTS=DIR``
chooses it). Without chromium and chromedriver the test skips, except under ``CI``,
where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wxa_async.rollout import RolloutStore

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
APPS = [f"wxemu{i:010d}" for i in range(1, 25)]
NO_NICKNAME = "wxnonick000001"  # its audit submission fails: 86002
EVIL_REASON = ("<script>window.pwned = 1</script>1:账号信息不符合规范:<br>"
               "(1):包含色情因素<br>")


def _need_browser() -> Any:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    try:
        from selenium import webdriver
    except ImportError:
        missing.append("selenium")
        webdriver = None
    if missing:
        message = f"the browser test needs {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message + " (apt-get install chromium chromium-driver)")
        pytest.skip(message)
    return webdriver


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


@contextlib.contextmanager
def _process(
    args: list[str], ready: str | None, log: Path
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A child process; with ``ready``, the first output line containing it is handed back."""
    out = log.open("w")
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=_env(), text=True,
                            stdout=subprocess.PIPE if ready else out, stderr=out)
    try:
        line = ""
        if ready:
            assert proc.stdout is not None
            deadline = time.monotonic() + 60
            while ready not in line:
                line = proc.stdout.readline()
                if not line and (proc.poll() is not None or time.monotonic() > deadline):
                    raise AssertionError(f"{args[:2]} did not start: {log.read_text()}")
        yield proc, line.strip()
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        out.close()


def _worker(emulator: str, store: str, name: str, version: str, *extra: str) -> list[str]:
    return ["-m", "tests.dashboard._worker", "--emulator", emulator, "--store", store,
            "--name", name, "--version", version, "--appids", ",".join([*APPS, NO_NICKNAME]),
            *extra]


def _store(url: str, read: Callable[[RolloutStore], Any]) -> Any:
    async def go() -> Any:
        async with await RolloutStore.open(url) as store:
            return await read(store)
    return asyncio.run(go())


def _wait(what: str, check: Callable[[], Any], timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def test_a_running_rollout_in_the_browser(tmp_path: Path) -> None:
    webdriver = _need_browser()
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    shots = Path(os.environ.get("WXA_DASHBOARD_SHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    print(f"\ndashboard screenshots: {shots}")
    url = f"sqlite:///{tmp_path / 'rollouts.db'}"
    emulator_args = ["-m", "wxa_async.testing.emulator", "--port", "0", "--apps", "24",
                     "--seed", "11"]
    with _process(emulator_args, "listening on", tmp_path / "emulator.log") as (_, line):
        emulator = line.rsplit(" ", 1)[-1]
        admin = httpx.Client(base_url=emulator)
        assert admin.post("/_emulator/apps", json={"appid": NO_NICKNAME,
                                                   "nickname_set": False}).is_success
        # First a plain release of 1.0.0 to every app (so 1.1.0 can go out in gray stages).
        admin.post("/_emulator/audit_policy", json={"delay": 600, "fail_rate": 0.0})
        subprocess.run([sys.executable, *_worker(emulator, url, "base-1.0.0", "1.0.0")],
                       cwd=ROOT, env=_env(), check=True, timeout=600, capture_output=True)
        admin.post("/_emulator/audit_policy", json={
            "delay": 1800, "fail_rate": 0.25, "seed": 5, "reason": EVIL_REASON})
        admin.close()
        # `wxa-async rollout serve`, as a user runs it.
        dashboard_args = ["-m", "wxa_async", "rollout", "serve", "--store", url,
                          "--port", "0", "--refresh", "0.5"]
        with _process(dashboard_args, "dashboard on", tmp_path / "dashboard.log") as (
                _, line), _process(_worker(emulator, url, "spring-1.1.0", "1.1.0", "--staged",
                                           "--pace", "0.25", "--concurrency", "4"),
                                   None, tmp_path / "worker.log") as (worker, _):
            base = line.split(" on ", 1)[1].split(" ", 1)[0].rstrip("/")
            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
                         "--window-size=1280,900"):
                options.add_argument(flag)
            browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
            try:
                _browse(browser, base, url, worker, shots, By, Keys, Select)
            finally:
                browser.quit()
    print(f"dashboard screenshots saved: {sorted(p.name for p in shots.iterdir())}")


def _counts(browser: Any, by: Any) -> dict[str, int]:
    # Read in one script: a live update may replace the cells between two reads.
    cells = browser.execute_script(
        "return [...document.querySelectorAll('[data-count]')]"
        ".map(c => [c.dataset.count, c.textContent])")
    return {name: int(text) for name, text in cells}


def _shoot(browser: Any, path: Path, width: int = 1280, height: int | None = None) -> None:
    """A screenshot of the whole page (or of the first ``height`` pixels)."""
    browser.set_window_size(width, height or 900)
    if height is None:
        full = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, min(int(full) + 120, 6000))
    browser.save_screenshot(str(path))
    browser.set_window_size(1280, 900)


def _browse(browser: Any, base: str, url: str, worker: subprocess.Popen[str], shots: Path,
            by: Any, keys: Any, select: Any) -> None:
    name = "spring-1.1.0"
    _wait("the rollout in the store", lambda: _store(url, lambda s: s.get_rollout(name)))
    browser.get(f"{base}/rollouts/{name}")
    first = _counts(browser, by)
    assert first["total"] == len(APPS) + 1
    # The page updates itself (no reload) as the worker advances.
    _wait("the counts to change", lambda: _counts(browser, by) != first, 240)
    assert int(browser.execute_script("return document.body.dataset.updates || 0")) >= 1
    # Further on, apps reach the first gray stage: the page shows them by itself too
    # (for the screenshot; the chart's stage marks are checked at the end).
    _wait("an app at a gray stage", lambda: _counts(browser, by).get("gray")
          or worker.poll() is not None, 300)
    _shoot(browser, shots / "rollout-running.png")

    assert worker.wait(600) == 0, "the worker failed"
    summary = _store(url, lambda s: s.summary(name))
    assert summary.finished
    _wait("the final counts", lambda: browser.execute_script(
        "return document.getElementById('done').textContent") == str(summary.total), 60)
    # Pause the live updates (the button says so) to read the page at leisure.
    toggle = browser.find_element(by.ID, "live-toggle")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    assert toggle.text == "Resume live updates"
    shown = _counts(browser, by)
    assert shown == {**summary.counts, "total": summary.total}
    rows = _store(url, lambda s: s.apps(name, limit=None)).rows
    assert browser.find_element(by.ID, "quota-used").text == str(sum(r.submits for r in rows))
    failed = [r for r in rows if r.state == "failed"]
    assert [r.errcode for r in failed] == [86002]
    assert browser.find_element(by.CSS_SELECTOR, '[data-failures="86002"]').text == "1"
    rejected = [r for r in rows if r.state == "rejected"]
    assert rejected, "the audit policy rejects a quarter of the audits"
    assert browser.find_element(by.ID, "rejected").text == str(len(rejected))
    # A reason holding <script> is shown as text, and never ran.
    reasons = browser.find_elements(by.CSS_SELECTOR, "td.reason")
    assert reasons and all(r.text.startswith("<script>window.pwned = 1</script>1:账号信息")
                           for r in reasons)
    assert browser.execute_script("return window.pwned === undefined")
    gray_marks = [m.text for m in browser.find_elements(by.CSS_SELECTOR, ".chart .mark-label")]
    assert gray_marks[:1] == ["gray 10%"]
    _shoot(browser, shots / "rollout.png")
    _shoot(browser, shots / "rollout-phone.png", width=390, height=844)
    browser.set_window_size(390, 844)
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")
    browser.set_window_size(1280, 900)

    # Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    browser.get(f"{base}/rollouts/{name}")
    body = browser.find_element(by.TAG_NAME, "body")
    body.send_keys(keys.TAB)
    assert browser.switch_to.active_element.text == "Skip to content"
    browser.switch_to.active_element.send_keys(keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"

    # Search: part of an appid, submitted from the keyboard.
    fragment = "00000013"
    box = browser.find_element(by.ID, "search")
    box.send_keys(fragment, keys.ENTER)
    _wait("the search result", lambda: "q=" + fragment in browser.current_url, 30)
    appids = [a.text for a in browser.find_elements(by.CSS_SELECTOR, "table.apps a.appid")]
    expected = [r.appid for r in rows if fragment in r.appid]
    assert appids == expected and browser.find_element(by.ID, "apps-total").text == str(
        len(expected))

    # The state filter.
    browser.find_element(by.ID, "search").clear()
    select(browser.find_element(by.ID, "state-filter")).select_by_value("rejected")
    browser.find_element(by.ID, "apply").click()
    _wait("the filtered table", lambda: "state=rejected" in browser.current_url, 30)
    badges = browser.find_elements(by.CSS_SELECTOR, "table.apps .badge")
    assert badges and {b.text for b in badges} == {"rejected"}
    assert browser.find_element(by.ID, "apps-total").text == str(len(rejected))
    _shoot(browser, shots / "rollout-filtered.png")

    # One app's timeline, from the filtered table.
    link = browser.find_element(by.CSS_SELECTOR, "table.apps a.appid")
    appid = link.text
    link.click()
    _wait("the app page", lambda: browser.find_element(by.TAG_NAME, "h1").text == appid, 30)
    timeline = _store(url, lambda s: s.transitions(name, appid=appid))
    entries = browser.find_elements(by.CSS_SELECTOR, "#timeline li")
    assert len(entries) == len(timeline)
    assert entries[-1].find_elements(by.CSS_SELECTOR, ".badge")[-1].text == "rejected"
    _shoot(browser, shots / "app.png")

    browser.get(base + "/")
    listed = [a.text for a in browser.find_elements(by.CSS_SELECTOR, "table.rollouts th a")]
    assert listed == ["spring-1.1.0", "base-1.0.0"]
    _shoot(browser, shots / "rollouts.png")
    logs = browser.get_log("browser")
    assert not [entry for entry in logs if entry["level"] == "SEVERE"], logs
