"""The web UI in a real browser: Debian's chromium driven by Playwright against a running
`drawbridge serve`. The tree, a search (typed, and submitted with JavaScript off), a
release, the copy buttons (the clipboard read back, and the copied pip command run), a
private server shown to an anonymous visitor, a 360 px screen, and on every page: no
console error and no Content-Security-Policy violation."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from builders import make_conda_tar_bz2, make_sdist, make_wheel
from clients import chromium_executable, run_drawbridge
from databases import new_home
from servers import Server, start_server

from drawbridge.channel.tokens import Role

playwright = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install -e '.[test]'"
)
CHROMIUM = chromium_executable()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed: apt-get install -y chromium (`make test` "
    "installs it when run as root on Debian)",
)

HOSTILE = "<script>window.hostileRan = 1</script><img src=x onerror='window.hostileRan=2'>"
OWNED = "company/dev"
#: readable by alice only
SANDBOX = "alice/sandbox"
#: records what the page's own listeners cannot miss: CSP violations, as the browser reports
#: them (an init script runs outside the page's CSP)
WATCH_CSP = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@dataclass
class Watched:
    """A browser page and everything it complained about."""

    page: object  # playwright's Page
    errors: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        return self.page.evaluate("window.cspViolations || []")  # type: ignore[attr-defined]

    def assert_clean(self) -> None:
        assert (self.errors, self.violations()) == ([], [])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server: `main` with a project in two versions (wheel, sdist, a bridged conda
    package, a yanked wheel), one with a hostile summary, and `company/dev`."""
    root = tmp_path_factory.mktemp("browser")
    server = start_server(root / "home")
    try:
        drop = root / "drop"
        server.channels.create(OWNED, "development packages")
        server.channels.publish_many(
            "main",
            [
                make_wheel(drop, "zope.interface", "1.0"),
                make_sdist(drop, "zope.interface", "1.0"),
                make_wheel(drop, "zope.interface", "2.0"),
                make_wheel(drop, "typing_extensions", "4.12.2"),
                make_wheel(drop, "hostile", "1.0", summary=HOSTILE),
            ],
            uploaded_by="alice",
        )
        conda = make_conda_tar_bz2(drop, "zope.interface", "1.0", "0", "noarch")
        server.channels.publish_many("main", [conda], uploaded_by="bridge")
        server.channels.yank("main", "zope_interface-2.0-py3-none-any.whl", "broke imports")
        server.publish(make_wheel(drop, "devtool", "0.1"), channel=OWNED)
        server.alice = server.token(Role.reader, "alice")  # type: ignore[attr-defined]
        made = run_drawbridge(
            "channel", "create", SANDBOX, "--read", "user:alice", home=server.home.root
        )
        assert made.returncode == 0, made.stderr
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


def open_page(browser, javascript: bool = True, width: int = 1024, **options) -> Watched:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": width, "height": 800}, **options
    )
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    watched = Watched(page)
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    return watched


def wait_until(page, expression: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Poll `expression` until it is true. Not `page.wait_for_function`: once its first try
    fails, it polls by `new Function(...)` inside the page, which the page's CSP (no
    'unsafe-eval') blocks and reports as a violation; `page.evaluate` runs outside the CSP."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        time.sleep(0.05)


@pytest.fixture
def tab(browser) -> Iterator[Watched]:  # type: ignore[no-untyped-def]
    """A fresh page with JavaScript on and the clipboard granted; clean when the test ends."""
    watched = open_page(browser, permissions=["clipboard-read", "clipboard-write"])
    yield watched
    watched.assert_clean()
    watched.page.context.close()  # type: ignore[attr-defined]


def test_the_channel_tree_loads(served: Server, tab: Watched):
    page = tab.page
    answer = page.goto(served.url + "/")
    assert answer.status == 200
    assert page.get_by_role("main").get_by_role("heading", level=1).inner_text() == "Drawbridge"
    assert page.get_by_role("heading", name="company/").is_visible()
    page.get_by_role("link", name="dev", exact=True).click()
    page.wait_for_url(f"{served.url}/{OWNED}/")
    assert page.get_by_role("link", name="devtool").is_visible()


def test_search_a_project_with_the_keyboard(served: Server, tab: Watched):
    page = tab.page
    page.goto(f"{served.url}/main/")
    box = page.get_by_label("Search projects")
    box.focus()
    page.keyboard.type("Zope_Inter")
    page.keyboard.press("Enter")
    page.wait_for_url("**/main/?q=Zope_Inter")
    projects = page.locator("ul.projects a")
    assert projects.all_inner_texts() == ["zope.interface"]
    assert (
        page.get_by_role("status")
        .filter(has_text="match")
        .inner_text()
        .startswith("1 project matches Zope_Inter")
    )


def test_the_list_narrows_as_the_search_is_typed(served: Server, tab: Watched):
    page = tab.page
    page.goto(f"{served.url}/main/")
    assert len(page.locator("ul.projects li:visible").all()) == 3
    page.get_by_label("Search projects").press_sequentially("ZOPE.i")
    assert page.locator("ul.projects li:visible a").all_inner_texts() == ["zope.interface"]
    assert page.url == f"{served.url}/main/"  # nothing was asked of the server
    assert page.locator("#found").inner_text().startswith("1 of 3 listed projects match")
    page.get_by_label("Search projects").fill("")
    assert len(page.locator("ul.projects li:visible").all()) == 3
    assert page.locator("#found").inner_text() == "3 projects"


def test_open_a_release(served: Server, tab: Watched):
    page = tab.page
    page.goto(f"{served.url}/main/")
    page.get_by_role("link", name="zope.interface").click()
    page.wait_for_url("**/main/pypi/zope-interface/")
    headings = page.locator("section h3 a").all_inner_texts()
    assert headings == ["2.0", "1.0"]  # newest first
    assert page.locator("#v-2\\.0 .yanked").first.inner_text() == "yanked"
    page.get_by_role("link", name="1.0", exact=True).click()
    page.wait_for_url("**/main/pypi/zope-interface/1.0/")
    assert page.get_by_role("heading", level=1).inner_text() == "zope.interface 1.0"
    pip_files = page.get_by_role("table", name="pip files")
    assert "zope_interface-1.0.tar.gz" in pip_files.inner_text()
    assert "alice" in pip_files.inner_text()
    conda = page.get_by_role("table", name="conda packages").inner_text()
    assert "zope.interface-1.0-0.tar.bz2" in conda and "bridged wheel" in conda


def test_copy_a_snippet_and_run_it(served: Server, tab: Watched, tmp_path: Path):
    page = tab.page
    page.goto(f"{served.url}/main/pypi/zope-interface/1.0/")
    page.bring_to_front()  # the clipboard API wants the focused document
    snippet = page.locator("#snippet-pip").inner_text()
    page.get_by_role("button", name="Copy the pip command").click()
    page.get_by_role("status").filter(has_text="Copied").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == snippet
    assert copied == f"pip install --index-url {served.url}/main/simple/ zope.interface==1.0"
    # the keyboard works the buttons too
    page.get_by_role("button", name="Copy the conda command").focus()
    page.keyboard.press("Enter")
    wait_until(page, "document.activeElement.textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()").startswith("conda install ")
    # what was copied installs: the real pip, from the real server
    program, *arguments = shlex.split(copied)
    assert program == "pip"
    target = tmp_path / "target"
    subprocess.run(
        [sys.executable, "-m", program, *arguments, "--target", str(target), "--no-deps"]
        + ["--disable-pip-version-check", "--no-cache-dir"],
        check=True,
        capture_output=True,
    )
    assert (target / "zope_interface" / "__init__.py").read_text().startswith("VALUE = '1.0'")


def test_hostile_text_is_shown_and_nothing_runs(served: Server, tab: Watched):
    page = tab.page
    page.goto(f"{served.url}/main/pypi/hostile/")
    assert page.get_by_text(HOSTILE).first.is_visible()
    page.goto(f"{served.url}/main/?q={HOSTILE}")
    assert page.get_by_label("Search projects").input_value() == HOSTILE
    assert page.evaluate("window.hostileRan") is None


def test_the_csp_blocks_inline_script_and_the_check_sees_it(served: Server, browser):  # type: ignore[no-untyped-def]
    """The check of every page can fail: a script injected into a page is blocked and
    reported, as markup that slipped past escaping would be."""
    watched = open_page(browser)
    page = watched.page
    page.goto(f"{served.url}/main/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injectedRan = 1'; document.body.appendChild(s); }"
    )
    wait_until(page, "window.cspViolations.length > 0")
    assert page.evaluate("window.injectedRan") is None
    assert watched.violations()[0].startswith("script-src")
    assert any("Content Security Policy" in error for error in watched.errors)
    page.context.close()


PAGES = [
    "/",
    "/main/",
    "/main/?q=zope",
    f"/{OWNED}/",
    "/main/pypi/zope-interface/",
    "/main/pypi/zope-interface/1.0/",
    "/main/pypi/hostile/",
    "/ui/recipes",
    "/ui/requests",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_clean_and_fits_a_phone(served: Server, browser, path: str):  # type: ignore[no-untyped-def]
    """No console error and no CSP violation; at 360 px wide nothing scrolls sideways but
    the tables' own boxes."""
    watched = open_page(browser, width=360)
    page = watched.page
    assert page.goto(served.url + path).status == 200
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    watched.assert_clean()
    page.context.close()


def test_the_pages_work_without_javascript(served: Server, browser):  # type: ignore[no-untyped-def]
    watched = open_page(browser, javascript=False)
    page = watched.page
    page.goto(f"{served.url}/main/")
    page.get_by_label("Search projects").fill("typing")
    page.get_by_role("button", name="Search").click()  # the form, submitted by the browser
    page.wait_for_url("**/main/?q=typing")
    assert page.locator("ul.projects a").all_inner_texts() == ["typing_extensions"]
    page.get_by_role("link", name="typing_extensions").click()
    page.wait_for_url("**/main/pypi/typing-extensions/")
    assert page.locator("#snippet-pip").is_visible()  # the command, to select by hand
    assert page.get_by_role("button", name="Copy the pip command").is_hidden()
    watched.assert_clean()
    page.context.close()


def test_a_private_channel_is_absent_for_an_anonymous_visitor(served: Server, browser):  # type: ignore[no-untyped-def]
    anonymous = open_page(browser)
    page = anonymous.page
    page.goto(served.url + "/")
    assert page.get_by_role("link", name="main", exact=True).is_visible()
    assert page.locator("a[href*='sandbox']").count() == 0 and "alice/" not in page.content()
    assert page.goto(f"{served.url}/{SANDBOX}/").status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "404 Not Found"
    page.context.close()
    # on a public server a browser sends basic auth only when asked: alice uses the prefix
    alice = open_page(browser)
    page = alice.page
    page.goto(f"{served.url}/t/{served.alice}/")
    page.get_by_role("link", name="sandbox").click()
    page.wait_for_url(f"{served.url}/t/{served.alice}/{SANDBOX}/")
    assert page.get_by_role("heading", level=1).inner_text() == f"Channel {SANDBOX}"
    alice.assert_clean()
    page.context.close()


def test_a_private_server_shows_an_anonymous_visitor_no_channel(tmp_path: Path, browser):  # type: ignore[no-untyped-def]
    """With `anonymous_read = false` (the whole server private), the anonymous visitor
    sees no channel; a reader's token shows them all."""
    home = new_home(tmp_path / "home")
    # the CLI, in its own process: rattler's indexer cannot run inside Playwright's loop
    made = run_drawbridge("channel", "create", OWNED, home=home.root)
    assert made.returncode == 0, made.stderr
    config = home.config_path
    config.write_text(config.read_text().replace("anonymous_read = true", "anonymous_read = false"))
    server = start_server(home.root)
    try:
        token = server.token(Role.reader, "rita")
        anonymous = open_page(browser).page
        for path in ("/", f"/{OWNED}/", "/main/"):
            # the browser is asked for credentials (and, having none, shows nothing)
            with pytest.raises(playwright.Error, match="ERR_INVALID_AUTH_CREDENTIALS"):
                anonymous.goto(server.url + path)
            answer = anonymous.request.get(server.url + path)  # what it would have shown
            assert answer.status == 401 and "company" not in answer.text()
        anonymous.context.close()
        signed_in = open_page(
            browser, http_credentials={"username": "__token__", "password": token}
        )
        page = signed_in.page
        assert page.goto(server.url + "/").status == 200
        assert page.get_by_role("link", name="dev", exact=True).is_visible()
        assert page.get_by_role("link", name="main", exact=True).is_visible()
        signed_in.assert_clean()
        page.context.close()
        prefixed = open_page(browser)  # conda's way, `/t/<token>/`, kept in every link
        page = prefixed.page
        page.goto(f"{server.url}/t/{token}/")
        page.get_by_role("link", name="dev", exact=True).click()
        page.wait_for_url(f"{server.url}/t/{token}/{OWNED}/")
        prefixed.assert_clean()
        page.context.close()
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/t/{token}/docs"])
def test_the_api_docs_render_with_nothing_from_outside(served: Server, tab: Watched, path: str):
    """Swagger UI shows every operation with no CDN (the air gap has none): each request the
    page makes goes to this server; a private token prefix carries through to the
    OpenAPI document; /redoc lands on the same page."""
    page = tab.page
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))  # type: ignore[attr-defined]
    page.goto(served.url + path.format(token=served.alice))  # type: ignore[attr-defined]
    operations = page.locator("#swagger-ui .opblock")
    operations.first.wait_for()
    assert operations.count() >= 40
    assert page.get_by_text("/api/admin/channels/{channel}/bases").first.is_visible()
    assert [url for url in asked if not url.startswith(served.url + "/")] == []
    expected = "/openapi.json" if "/t/" not in path else f"/t/{served.alice}/openapi.json"  # type: ignore[attr-defined]
    assert served.url + expected in asked
