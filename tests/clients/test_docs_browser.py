"""Hosted docs in a real browser (Debian's chromium through Playwright): from the
project's page to the docs, which load and run with no console error, and whose scripts
cannot use the visitor's credentials on the server, while the UI's own page can."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import make_docs_zip, make_wheel
from clients import chromium_executable, run_drawbridge
from servers import Server

from drawbridge.channel.tokens import Role

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
CHROMIUM = chromium_executable()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
#: what a docs page's script would try: read an admin-only answer with the visitor's login
STEAL = """async () => {
  try {
    const answer = await fetch('/api/admin/users', {credentials: 'include'});
    return 'read ' + answer.status + ' ' + (await answer.text()).slice(0, 20);
  } catch (error) { return 'blocked'; }
}"""


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


def test_docs_load_from_the_project_page_and_cannot_use_the_login(
    server: Server,
    browser,
    tmp_path: Path,  # type: ignore[no-untyped-def]
):
    server.publish(make_wheel(tmp_path, "demo", "1.0"))
    uploaded = run_drawbridge(
        "docs", "upload", "main", "demo", "1.0", str(make_docs_zip(tmp_path)), home=server.home.root
    )
    assert uploaded.returncode == 0, uploaded.stderr
    admin = server.token(Role.admin)
    context = browser.new_context(  # type: ignore[attr-defined]
        http_credentials={"username": "__token__", "password": admin}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/main/pypi/demo/")
    assert page.evaluate(STEAL).startswith("read 200")  # the UI's own page may: the control
    page.click("text=latest")
    page.wait_for_url(f"{server.url}/main/docs/demo/latest/")
    page.wait_for_selector("body[data-docs-ran='yes']")
    page.click("text=API")
    page.wait_for_url("**/latest/api.html")
    assert page.title() == "API" and errors == []
    assert page.evaluate(STEAL) == "blocked"
    assert (
        page.evaluate("() => { try { return document.cookie; } catch (e) { return 'no'; } }")
        == "no"
    )
    context.close()
