"""Cross-site request forgery, tried in a real browser: Debian's chromium, driven by
Playwright, signed in with basic auth to a private `drawbridge serve`, opens a page of
another site that auto-submits a form to the server. Neither a form POST to the admin API
nor a multipart upload in twine's shape may act as the signed-in user (both did: the
browser sent its cached credentials, or sent them after the 401). The same calls from
twine and from an HTTP client with a token, and the UI's own form, keep working."""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from builders import make_sdist, make_wheel
from clients import chromium_executable, run_drawbridge, twine_upload
from databases import new_home
from servers import Server, start_server, static_http_server

from drawbridge.channel.accounts import Accounts
from drawbridge.channel.database import Database
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

#: the user the attacker's page tries to disable
VICTIM = "victor"
#: the project the attacker's page tries to publish as the signed-in user
PLANTED = "planted"


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that reads nothing without a token (`anonymous_read = false`: people sign
    in to its web UI with basic auth), a user to disable and a recipe waiting for review."""
    root = tmp_path_factory.mktemp("csrf")
    home = new_home(root / "home")
    config = home.config_path
    config.write_text(config.read_text().replace("anonymous_read = true", "anonymous_read = false"))
    make_sdist(root / "drop", "sdist-demo", "1.0")
    # the CLI, in its own process: grayskull's run cannot share Playwright's event loop
    made = run_drawbridge(
        "recipe", "generate", "sdist-demo", "--upstream-pypi", str(root / "drop"), home=home.root
    )
    assert made.returncode == 0, made.stderr
    server = start_server(home.root)
    try:
        server.admin = server.token(Role.admin, "ada")  # type: ignore[attr-defined]
        server.token(Role.reader, VICTIM)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def signed_in(private: Server, browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A page of a browser in which the admin signed in to the server's web UI."""
    context = browser.new_context(
        http_credentials={
            "username": "__token__",
            "password": private.admin,  # type: ignore[attr-defined]
            "origin": private.url,
        }
    )
    page = context.new_page()
    assert page.goto(private.url + "/").status == 200
    yield page
    context.close()


def attack(page, site: Path, form: str, target: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Open a page of another site (`localhost`, not the server's 127.0.0.1) that submits
    `form` once loaded; the status and text of the server's answer to the POST to `target`."""
    site.mkdir()
    (site / "index.html").write_text(
        "<!doctype html><title>Cute cats</title><body>"
        + form
        + "<script>addEventListener('load', () => setTimeout(() => "
        "document.forms[0].requestSubmit(), 0));</script></body>"
    )
    with static_http_server(site) as httpd:
        with page.expect_response(
            lambda response: response.url == target and response.request.method == "POST"
        ) as answered:
            page.goto(f"http://localhost:{httpd.server_address[1]}/")
        response = answered.value
        response.finished()
        return response.status, response.text()


def test_another_site_cannot_disable_a_user_through_the_admins_browser(
    private: Server, signed_in, tmp_path: Path
):  # type: ignore[no-untyped-def]
    target = f"{private.url}/api/admin/users/{VICTIM}/disable"
    form = f"<form method='post' action='{target}'><input name='why' value='cats'></form>"
    status, text = attack(signed_in, tmp_path / "site", form, target)
    assert status == 403 and "another origin" in text, (status, text)
    assert not Accounts(Database(private.home.database_url)).user(VICTIM).disabled
    # the admin's own tools, without an Origin header, still can
    done = httpx.post(target, auth=("__token__", private.admin))  # type: ignore[attr-defined]
    assert done.status_code == 200 and done.json()["disabled"] is True
    again = httpx.post(
        f"{private.url}/api/admin/users/{VICTIM}/enable",
        headers={"Authorization": f"Bearer {private.admin}"},  # type: ignore[attr-defined]
    )
    assert again.status_code == 200 and again.json()["disabled"] is False


def test_another_site_cannot_upload_through_the_admins_browser(
    private: Server, signed_in, tmp_path: Path
):  # type: ignore[no-untyped-def]
    wheel = make_wheel(tmp_path / "drop", PLANTED, "6.6.6")
    data = wheel.read_bytes()
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": PLANTED,
        "version": "6.6.6",
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    target = f"{private.url}/main/upload/"
    form = (
        f"<form method='post' enctype='multipart/form-data' action='{target}'>"
        + "".join(
            f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
            for k, v in fields.items()
        )
        + "<input type='file' name='content'></form><script>"
        f"const bytes = Uint8Array.from(atob('{base64.b64encode(data).decode()}'), "
        "c => c.charCodeAt(0));"
        "const files = new DataTransfer();"
        f"files.items.add(new File([bytes], '{wheel.name}'));"
        "document.querySelector('input[type=file]').files = files.files;</script>"
    )
    status, text = attack(signed_in, tmp_path / "site", form, target)
    assert status == 403 and "another origin" in text, (status, text)
    assert PLANTED not in private.channels.projects("main")
    # twine, with the same credentials, still uploads
    uploaded = twine_upload(target, private.admin, wheel)  # type: ignore[attr-defined]
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    assert PLANTED in private.channels.projects("main")


def test_the_review_form_still_works_in_the_browser(private: Server, signed_in):  # type: ignore[no-untyped-def]
    """The UI's own form posts from the server's own origin: it is not refused."""
    page = signed_in
    page.goto(private.url + "/ui/recipes/sdist-demo")
    page.get_by_label("Your token").fill(private.admin)  # type: ignore[attr-defined]
    page.get_by_label("Comment").fill("read it")
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    assert page.url == private.url + "/ui/recipes/sdist-demo"
    assert "approved by ada: read it" in page.content()
