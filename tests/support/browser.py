"""Headless Chromium from Debian's packages (`chromium`, `chromium-driver`; `make test` installs them when missing),
driven by Selenium, for the web console's tests and benchmark: screenshots kept under `.local/ui-screenshots/`, and
a recorder of the server-sent frames a page receives (`htmx:sseBeforeMessage`, with the browser's clock)."""

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.infra import kafka_options
from tests.support.system import ROOT, System

SCREENSHOTS = ROOT / ".local" / "ui-screenshots"
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromedriver")
T = TypeVar("T")

RECORD = """
window.__frames = window.__frames || [];
if (!window.__recording) {
  window.__recording = true;
  document.body.addEventListener('htmx:sseBeforeMessage', function (e) {
    window.__frames.push({type: e.detail.type, id: e.detail.lastEventId, at: Date.now(), data: e.detail.data});
  });
}
"""
"""Keeps every SSE frame the page's htmx receives, with `Date.now()` (ms) when it came."""


def chromium() -> WebDriver:
    """A headless Chromium (the system's, with its matching driver)."""
    browser, driver = (shutil.which(p) or p for p in CHROMIUM)
    if not Path(browser).exists() or not Path(driver).exists():
        raise RuntimeError("chromium and chromium-driver are missing: `make test` installs them (apt-get)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1400"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    chrome.set_page_load_timeout(30)
    return chrome


def screenshot(driver: WebDriver, name: str) -> Path:
    """Keep what the page looks like now as `.local/ui-screenshots/<name>.png`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait(driver: WebDriver, check: Callable[[WebDriver], T], *, timeout_s: float = 60.0) -> T:
    """`check(driver)` once it holds (truthy)."""
    found: T = WebDriverWait(driver, timeout_s, poll_frequency=0.05).until(check)
    return found


def sign_in(driver: WebDriver, url: str, key: str) -> None:
    """Sign in to the console with `key`."""
    driver.get(f"{url}/ui")
    wait(driver, lambda d: d.find_element(By.ID, "key"))
    driver.find_element(By.ID, "key").send_keys(key)
    driver.find_element(By.ID, "sign-in").click()
    wait(driver, lambda d: d.current_url.endswith("/ui/runs"))


def record(driver: WebDriver) -> None:
    """Start recording the page's SSE frames (again after each navigation)."""
    driver.execute_script(RECORD)


def frames(driver: WebDriver) -> list[dict[str, Any]]:
    """The frames recorded so far on this page."""
    found: list[dict[str, Any]] = driver.execute_script("return window.__frames || [];")
    return found


async def on_kafka(system: System, *, run_id: str, event_type: str, timeout_s: float = 30.0) -> tuple[str, float]:
    """The ce_id of run `run_id`'s `event_type` event on the run events topic, and when it was written there
    (epoch seconds, the broker host's clock: the same machine as the browser's)."""
    consumer = AIOKafkaConsumer(
        system.topic("syncline.runs.events.v1"),
        **kafka_options(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    headers = {k: v.decode() for k, v in r.headers}
                    if headers.get("ce_type") == event_type and json.loads(r.value).get("run_id") == run_id:
                        return headers["ce_id"], float(r.timestamp) / 1000
    finally:
        await consumer.stop()
    raise TimeoutError(f"no {event_type} of run {run_id} on Kafka")


def start_from_console(driver: WebDriver, url: str, sync_id: str) -> str:
    """Press the sync's "Run now" on the syncs page; the run's page opens, recording its frames. Its run id."""
    driver.get(f"{url}/ui/syncs")
    driver.find_element(By.XPATH, f"//tr[td/code[text()='{sync_id}']]//button[contains(@class, 'start')]").click()
    wait(driver, lambda d: "/ui/runs/" in d.current_url and d.find_elements(By.ID, "run-status"))
    record(driver)
    return str(driver.current_url.rsplit("/", 1)[1])


def run_status(driver: WebDriver) -> str:
    """The status the run's page shows."""
    # read in one step: htmx may swap the element between a lookup and a read
    found = driver.execute_script("const e = document.getElementById('run-status'); return e && e.dataset.status;")
    return str(found or "")


async def delivery_s(driver: WebDriver, system: System, run_id: str) -> float | None:
    """From `run.completed` written to Kafka to its frame in the page (None when the page connected after it)."""
    ce_id, written = await on_kafka(system, run_id=run_id, event_type="syncline.run.completed")
    arrived = [f["at"] for f in frames(driver) if f["id"] == ce_id]
    return min(arrived) / 1000 - written if arrived else None
