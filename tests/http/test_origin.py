"""The server's own origin (issue 16): a browser's change from a page of another origin is
refused before authentication, on every path, while clients that send no Origin pass; and
`[server] public_url`, when set, is in every URL the server writes, whatever Host a request
carries. In-process; tests/clients/test_browser_csrf.py tries the attacks in Chromium."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import make_wheel
from databases import new_home, write_config
from servers import AppClient, serve_in_process

from drawbridge.channel.accounts import Accounts
from drawbridge.channel.database import Database
from drawbridge.channel.tokens import Role

TARGET = "/api/admin/users/someone/disable"
PUBLIC_URL = "https://pkgs.example.com/"
FORGED = "evil.example"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppClient]:
    """A private server (reads need a token) with an admin and a user to disable."""
    root = tmp_path_factory.mktemp("origin") / "home"
    serve_in_process(root).close()
    home = new_home(root)
    write_config(home, '[server]\nanonymous_read = false\naccess_log = ""\n')
    with AppClient(new_home(root)) as client:
        client.admin = client.token(Role.admin, "ada")  # type: ignore[attr-defined]
        client.token(Role.reader, "someone")
        yield client


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()}


def disabled(client: AppClient) -> bool:
    return Accounts(Database(client.home.database_url)).user("someone").disabled


# what a browser sends (Sec-Fetch-Site, Origin), and whether the change may go through;
# the in-process server's own origin is http://testserver
RULES = [
    ({}, True),  # twine, pip, conda, the CLI, httpx: neither header
    ({"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}, True),
    ({"Sec-Fetch-Site": "none"}, True),  # typed by the user
    ({"Sec-Fetch-Site": "same-origin"}, True),
    ({"Sec-Fetch-Site": "same-site", "Origin": "http://testserver:8081"}, False),
    ({"Sec-Fetch-Site": "cross-site", "Origin": "http://attacker.example"}, False),
    ({"Sec-Fetch-Site": "cross-site"}, False),  # no Origin (a redirect's): still refused
    ({"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"}, False),
    # browsers too old for Sec-Fetch-Site: Origin decides
    ({"Origin": "http://testserver"}, True),
    ({"Origin": "HTTP://TestServer:80"}, True),
    ({"Origin": "http://attacker.example"}, False),
    ({"Origin": "null"}, False),  # a sandboxed frame, a data: URL
    ({"Origin": "https://testserver"}, False),
    ({"Origin": "http://testserver:8080"}, False),
    ({"Origin": "http://testserver.attacker.example"}, False),
]


@pytest.mark.parametrize(("headers", "passes"), RULES)
def test_a_change_from_another_origin_is_refused(
    served: AppClient, headers: dict[str, str], passes: bool
):
    Accounts(Database(served.home.database_url)).set_disabled("someone", False)
    answer = served.post(TARGET, headers={**basic(served.admin), **headers})  # type: ignore[attr-defined]
    if passes:
        assert answer.status_code == 200 and disabled(served), answer.text
        return
    assert answer.status_code == 403 and not disabled(served)
    detail = answer.json()["detail"]
    assert (f"Origin: {headers['Origin']}" if "Origin" in headers else "no Origin") in detail
    assert "http://testserver" in detail and "public_url" in detail


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "PROPFIND"])
@pytest.mark.parametrize(
    "path",
    [
        "/main/upload/",
        "/api/admin/groups/devs/members/someone",
        "/api/promote",
        "/ui/recipes/demo/decision",
        "/no/route/here",  # a route added later is covered the same way
        "/main/files/demo-1.0-py3-none-any.whl",  # a fast-path URL: it answers reads only
    ],
)
def test_every_unsafe_method_on_every_path_is_refused_before_authentication(
    served: AppClient, method: str, path: str
):
    """A cross-origin request without credentials gets the 403, not the 401 whose
    `WWW-Authenticate` would make the browser send its cached basic credentials again;
    through the `/t/<token>/` prefix too."""
    foreign = {"Sec-Fetch-Site": "cross-site", "Origin": "http://attacker.example"}
    for prefix in ("", f"/t/{served.admin}"):  # type: ignore[attr-defined]
        answer = served.request(method, prefix + path, headers=foreign)
        assert answer.status_code == 403, (method, prefix, path, answer.text)
        assert "www-authenticate" not in answer.headers
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "Origin: http://attacker.example" in answer.text  # JSON, or a page under /ui/


def test_reads_from_another_origin_are_answered(served: AppClient):
    """Safe methods change nothing: links and pages of other sites keep working."""
    foreign = {"Sec-Fetch-Site": "cross-site", "Origin": "http://attacker.example"}
    headers = {**basic(served.admin), **foreign}  # type: ignore[attr-defined]
    assert served.get("/api/channels", headers=headers).status_code == 200
    assert served.head("/main/simple/", headers=headers).status_code == 200
    # passed on to the routes, which have no OPTIONS (a CORS preflight gets no CORS headers)
    assert served.request("OPTIONS", "/api/channels", headers=headers).status_code == 405


def test_a_browser_is_told_why_on_a_page(served: AppClient):
    answer = served.post(
        TARGET,
        headers={
            "Sec-Fetch-Site": "cross-site",
            "Origin": "http://a.example",
            "Accept": "text/html",
        },
    )
    assert answer.status_code == 403 and answer.headers["content-type"].startswith("text/html")
    assert "another origin (Origin: http://a.example, Sec-Fetch-Site: cross-site)" in answer.text


# -- public_url -----------------------------------------------------------------------------


def served_with(root: Path, public_url: str) -> AppClient:
    """A public server of `main` with one wheel, whose drawbridge.toml sets `public_url`."""
    with serve_in_process(root) as first:
        first.publish(make_wheel(root.parent / "drop", "demo", "1.0"))
    home = new_home(root)
    write_config(home, f'[server]\naccess_log = ""\npublic_url = "{public_url}"\n')
    return AppClient(new_home(root))


def urls_written(client: AppClient, host: str) -> dict[str, str]:
    """Where the server writes absolute URLs, asked with `Host: host`: /api/channels, a
    channel's page (its install snippets), the JSON API, Starlette's trailing-slash redirect."""
    headers = {"Host": host}
    channels = client.get("/api/channels", headers=headers)
    page = client.get("/main/", headers=headers)
    document = client.get("/main/pypi/demo/json", headers=headers)
    moved = client.get("/api/channels/", headers=headers)
    assert [channels.status_code, page.status_code, document.status_code] == [200, 200, 200]
    assert moved.status_code == 307
    return {
        "conda": channels.json()["channels"]["main"]["conda"],
        "simple": channels.json()["channels"]["main"]["simple"],
        "page": page.text,
        "file": document.json()["urls"][0]["url"],
        "redirect": moved.headers["location"],
    }


def test_public_url_is_in_every_url_the_server_writes(tmp_path: Path):
    with served_with(tmp_path / "home", PUBLIC_URL) as client:
        written = urls_written(client, FORGED)
    assert {key: value for key, value in written.items() if key != "page"} == {
        "conda": "https://pkgs.example.com/main/conda",
        "simple": "https://pkgs.example.com/main/simple/",
        "file": "https://pkgs.example.com/main/files/demo-1.0-py3-none-any.whl",
        "redirect": "https://pkgs.example.com/api/channels",
    }
    page = written["page"]
    assert "pip install --index-url https://pkgs.example.com/main/simple/ " in page
    assert "conda install --override-channels -c https://pkgs.example.com/main/conda " in page
    assert FORGED not in page and "testserver" not in page


def test_without_public_url_the_host_header_is_used(tmp_path: Path):
    """Today's behaviour, kept: the Host a request names is what it reads back (a reverse
    proxy must pass the Host clients used, or public_url be set: docs/operating.md)."""
    with served_with(tmp_path / "home", "") as client:
        written = urls_written(client, FORGED)
    assert written["simple"] == "http://evil.example/main/simple/"
    assert "pip install --index-url http://evil.example/main/simple/ " in written["page"]


def test_public_url_is_the_origin_a_browser_may_change_things_from(tmp_path: Path):
    with served_with(tmp_path / "home", "https://PKGS.example.com:443") as client:
        admin = basic(client.token(Role.admin, "ada"))
        own = {**admin, "Host": "127.0.0.1:8080", "Origin": "https://pkgs.example.com"}
        assert (
            client.post("/api/admin/groups", json={"name": "devs"}, headers=own).status_code == 201
        )
        # the Host the request names is not the server's origin when public_url says otherwise
        other = {**admin, "Host": "127.0.0.1:8080", "Origin": "http://127.0.0.1:8080"}
        refused = client.post("/api/admin/groups", json={"name": "ops"}, headers=other)
        assert refused.status_code == 403 and "https://pkgs.example.com" in refused.json()["detail"]
