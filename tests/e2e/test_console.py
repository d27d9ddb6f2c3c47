"""The web console in headless Chromium (Debian's): sign in with a key, see the syncs, start a run and watch it
complete live on its page (status and counters swapped in over SSE, the page never reloaded), open its detail
and the runs list (a run started elsewhere appears and completes live), make and revoke a key, sign out. A sync
name full of markup is shown as text. A screenshot of each page is kept under `.local/ui-screenshots/`."""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from elasticsearch import Elasticsearch
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from tests.support.browser import chromium, delivery_s, frames, record, run_status, screenshot, sign_in, wait
from tests.support.infra import database_url, unique
from tests.support.system import System

pytestmark = pytest.mark.e2e

HOSTILE = "<img src=x onerror=\"document.title='owned'\">pg & co"
ROWS = 50_000
"""Enough rows for a run that lasts a few seconds, so the page sees it move."""


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


async def seed(dsn: str, rows: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL);"
            f"INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, {rows}) g"
        )
    finally:
        await conn.close()


def connector(system: System, *, database: str, name: str) -> str:
    """An Elastic connector (a sync) of `database`'s `items` table, named `name`."""
    connector_id = unique("console")
    es = Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30)
    es.connector.put(connector_id=connector_id, name=name, index_name=f"{connector_id}-idx", service_type="postgresql")
    server = urlsplit(database_url())
    values: dict[str, Any] = {
        "host": server.hostname,
        "port": server.port,
        "username": server.username,
        "database": database,
    }
    values |= {"password": server.password or "not-needed-on-trust", "schema": "public", "tables": ["items"]}
    es.connector.update_configuration(connector_id=connector_id, values=values)
    return connector_id


@pytest.mark.timeout(300)  # two runs of a few seconds, a browser, and the system's start when it runs first
async def test_sign_in_start_a_run_watch_it_live_and_open_it(
    system: System, source_db: tuple[str, str], browser: WebDriver
) -> None:
    database, dsn = source_db
    await seed(dsn, ROWS)
    sync_id = connector(system, database=database, name=HOSTILE)

    browser.get(f"{system.url}/ui/runs")
    assert browser.current_url.endswith("/ui/login")  # no key, no page
    browser.find_element(By.ID, "key").send_keys("bm90OmEta2V5")
    browser.find_element(By.ID, "sign-in").click()
    assert "does not sign in" in browser.find_element(By.CSS_SELECTOR, ".message").text
    screenshot(browser, "login")
    sign_in(browser, system.url, system.key["encoded"])
    cookie = browser.get_cookie("syncline_console_key")
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"

    browser.get(f"{system.url}/ui/syncs")
    row = browser.find_element(By.XPATH, f"//tr[td/code[text()='{sync_id}']]")
    assert row.find_element(By.XPATH, "td[1]").text == HOSTILE  # markup shown as text, never run
    assert browser.title != "owned"
    screenshot(browser, "syncs")
    row.find_element(By.CSS_SELECTOR, "button.start").click()

    wait(browser, lambda d: "/ui/runs/" in d.current_url and d.find_elements(By.ID, "run-status"))
    run_id = browser.current_url.rsplit("/", 1)[1]
    browser.execute_script("window.__same_page = true;")
    record(browser)
    first = run_status(browser)
    wait(browser, lambda d: run_status(d) == "completed", timeout_s=120)
    assert browser.execute_script("return window.__same_page === true;"), "the page was reloaded"
    seen = frames(browser)
    assert first != "completed" or any('data-status="in_progress"' in f["data"] for f in seen), "not watched live"
    delivered = await delivery_s(browser, system, run_id)  # run.completed on Kafka → this page
    assert delivered is not None, "the page never got run.completed"
    assert 0 <= delivered < 5, delivered
    objects = browser.find_elements(By.CSS_SELECTOR, "table.objects tbody tr")
    assert [o.find_element(By.XPATH, "td[1]").text for o in objects] == ["public.items"]
    assert objects[0].find_element(By.XPATH, "td[4]").text == f"{ROWS:,}"
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart polyline.rate")
    assert "[public.items]" in browser.find_element(By.ID, "run-logs").text  # the executor's log of the run
    screenshot(browser, "run")

    browser.get(f"{system.url}/ui/runs")
    record(browser)
    assert browser.find_element(By.ID, "run-rows").find_elements(By.LINK_TEXT, run_id)
    with httpx.Client(base_url=system.url, headers={"Authorization": f"Bearer {system.key['encoded']}"}) as v1:
        started = v1.post("/v1/runs", json={"sync_id": sync_id}, timeout=30)
    assert started.status_code == 201, started.text
    other = started.json()["id"]
    live = f"//tbody[@id='run-rows']/tr[td/a[text()='{other}']]/td[@data-status='completed']"
    wait(browser, lambda d: d.find_elements(By.XPATH, live), timeout_s=120)
    assert any(other in f["data"] and f["type"].startswith("r") for f in frames(browser))
    screenshot(browser, "runs")

    browser.get(f"{system.url}/ui/keys")
    browser.find_element(By.ID, "create-key").click()
    new_key = wait(browser, lambda d: d.find_element(By.ID, "new-key")).text
    with httpx.Client(base_url=system.url, headers={"Authorization": f"Bearer {new_key}"}) as v1:
        assert v1.get("/v1/keys").status_code == 200
    screenshot(browser, "keys")
    key_id = browser.find_element(By.CSS_SELECTOR, ".created code").text
    browser.find_element(By.XPATH, f"//tr[td/code[text()='{key_id}']]//button").click()
    wait(browser, lambda d: not d.find_elements(By.XPATH, f"//tr[td/code[text()='{key_id}']]//button"))
    with httpx.Client(base_url=system.url, headers={"Authorization": f"Bearer {new_key}"}) as v1:
        assert v1.get("/v1/keys").status_code == 401

    browser.find_element(By.ID, "sign-out").click()
    wait(browser, lambda d: d.current_url.endswith("/ui/login"))
    browser.get(f"{system.url}/ui/keys")
    assert browser.current_url.endswith("/ui/login")


def test_pages_carry_a_content_security_policy_and_assets_are_served(system: System) -> None:
    with httpx.Client(base_url=system.url, timeout=30) as http:
        login = http.get("/ui/login")
        script = http.get("/ui/static/htmx-2.0.11.min.js")
        stream = http.get("/ui/stream")
    assert login.status_code == 200
    policy = login.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert script.status_code == 200
    assert "htmx" in script.text[:2000]
    assert stream.status_code == 303  # no key, no events
    assert stream.headers["location"] == "/ui/login"
