"""The server's edges (issue 10 items 5 and 7, issue 12's UI errors): private reads cover
every route but liveness, hostile URLs are 4xx, pages carry security headers and are
valid HTML, errors are pages for browsers and JSON for tools, uploads close their form."""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import html5lib
import httpx
import pytest
from builders import make_conda_tar_bz2, make_sdist, make_wheel
from databases import write_config
from hostile_urls import assert_no_server_error, fuzzed_targets, hostile_targets
from servers import AppClient, every_route, serve_in_process
from starlette.requests import Request

from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.upstream.pypi import FolderUpstream
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.channel.database import Database
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.home import load_home
from drawbridge.channel.tokens import Role
from drawbridge.cli.context import CliContext
from drawbridge.server.context import LIVENESS_PATH, OPEN_PATHS, REPLICA_FILES_PREFIX
from drawbridge.server.errors import internal_error_response
from drawbridge.server.asgi.gate import malformed
from drawbridge.server.pages import prefers_html


WHEEL = "demo-1.0-py3-none-any.whl"


SDIST = "demo-1.0.tar.gz"


CONDA = "democonda-1.0-0.tar.bz2"


RECIPE = "sdist-demo"


MIRROR = "mirror"


PRIVATE = '[server]\nanonymous_read = false\naccess_log = ""\n'


PUBLIC = '[server]\nanonymous_read = true\naccess_log = ""\n'


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class Stocked:
    """One home with a wheel, an sdist, a conda package, a recipe, a bridging request and a
    local upstream mirror, served twice in-process: reads private, and reads anonymous."""

    def __init__(self, root: Path) -> None:
        with serve_in_process(root) as first:
            drop = root.parent / "drop"
            first.publish(
                make_wheel(drop, "demo", "1.0"),
                make_sdist(drop, "demo", "1.0"),
                make_conda_tar_bz2(drop, "democonda", "1.0", "0", "noarch"),
            )
            make_sdist(root.parent / "sdists", RECIPE, "1.0")
            book = RecipeBook(first.home, Database(first.home.database_url))
            self.recipe_sha256 = book.generate(
                RECIPE, None, FolderUpstream(root.parent / "sdists"), default_table(), "tester"
            ).sha256
            self.reader = first.token(Role.reader, "rita")
            self.maintainer = first.token(Role.maintainer, "mia")
        mirror = root.parent / MIRROR / "noarch"
        mirror.mkdir(parents=True)
        (mirror / "repodata.json").write_text('{"info": {"subdir": "noarch"}, "packages": {}}')
        self.shard = sorted((root / "channels/main/conda/noarch/shards").iterdir())[0].name
        upstream = f'[bridge]\nupstream_conda = ["{mirror.parent}"]\n'
        made = load_home(root)
        write_config(made, PRIVATE + upstream)  # on the database the home was made with
        self.private = AppClient(load_home(root))
        write_config(made, PUBLIC + upstream)
        self.public = AppClient(load_home(root))

    def close(self) -> None:
        self.private.close()
        self.public.close()


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stocked]:
    home = Stocked(tmp_path_factory.mktemp("stocked") / "home")
    yield home
    home.close()


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()}


#: a value for each path parameter, by name, then by route where one name means two things
PARAMETERS = {
    "channel": "main",
    "project": "demo",
    "version": "1.0",
    "letter": "d",
    "subdir": "noarch",
    "filename": WHEEL,
    "group": "devs",
    "user": "someone",
    "path": "index.html",
    "job_id": "1",
    "sha256": "0" * 64,
}


ROUTE_PARAMETERS = {
    "/{channel}/conda/{subdir}/{name}": {"name": CONDA},
    "/{channel}/packages/source/{letter}/{project}/{filename}": {"filename": SDIST},
    "/upstream/{name}/{subdir}/{filename}": {"name": MIRROR, "filename": "repodata.json"},
    "/upstream/{name}/{subdir}/shards/{filename}": {"name": MIRROR, "filename": "none.zst"},
    "/ui/recipes/{name}": {"name": RECIPE},
    "/ui/recipes/{name}/log": {"name": RECIPE},
    "/ui/recipes/{name}/jobs": {"name": RECIPE},
    "/ui/recipes/{name}/decision": {"name": RECIPE},
    "/api/admin/users/{name}/disable": {"name": "someone"},
    "/api/admin/users/{name}/enable": {"name": "someone"},
    "/api/admin/users/{name}/revoke-tokens": {"name": "someone"},
    "/static/api-docs/{name}": {"name": "swagger-ui-bundle.js"},
    "/api/files/sha256/{sha256}": {"sha256": "0" * 64},
}


#: routes that a reader's request answers with a 4xx on a server where reading is public too
REFUSED_TO_A_READER = {
    ("GET", "/upstream/{name}/{subdir}/shards/{filename}"): 404,  # the mirror has no shards
    ("GET", "/ui/recipes/{name}/log"): 404,  # not built yet
    ("GET", "/ui/jobs/{job_id}/log"): 404,  # no job was queued
    # acting on build jobs needs a builder's token (issue 19)
    **{
        (method, f"/api/agent/{path}"): 403
        for method, path in (
            ("POST", "claim"),
            ("GET", "jobs/{job_id}/recipe"),
            ("GET", "jobs/{job_id}/files/{path}"),
            ("GET", "jobs/{job_id}/sources/{sha256}"),
            ("POST", "jobs/{job_id}/heartbeat"),
            ("POST", "jobs/{job_id}/fail"),
            ("POST", "jobs/{job_id}/native"),
            ("POST", "jobs/{job_id}/finish"),
        )
    },
    ("HEAD", "/upstream/{name}/{subdir}/shards/{filename}"): 404,
    ("POST", "/{channel}/upload"): 403,  # uploading needs more than reading
    ("POST", "/{channel}/upload/"): 403,
    ("POST", "/{channel}/docs/{project}/{version}/"): 403,  # so does uploading docs
    ("GET", "/{channel}/docs/{project}/{version}/{path}"): 404,  # no docs uploaded
    ("HEAD", "/{channel}/docs/{project}/{version}/{path}"): 404,
    ("POST", "/api/lock"): 422,  # the walk sends no environment file
    ("POST", "/api/promote"): 403,  # so do promoting, deleting, changing mutability
    ("POST", "/api/delete"): 403,
    ("PUT", "/api/admin/channels/{channel}/mutability"): 403,
    # administering needs an admin's token (a channel's reviewers: a maintainer's)
    **{
        route: 403
        for route in (
            ("GET", "/api/admin/users"),
            ("POST", "/api/admin/users"),
            ("POST", "/api/admin/users/{name}/disable"),
            ("POST", "/api/admin/users/{name}/enable"),
            ("POST", "/api/admin/users/{name}/revoke-tokens"),
            ("GET", "/api/admin/groups"),
            ("POST", "/api/admin/groups"),
            ("PUT", "/api/admin/groups/{group}/members/{user}"),
            ("DELETE", "/api/admin/groups/{group}/members/{user}"),
            ("POST", "/api/admin/tokens"),
            ("POST", "/api/admin/channels"),
            ("GET", "/api/admin/channels/{channel}/permissions"),
            ("PUT", "/api/admin/channels/{channel}/permissions"),
            ("PUT", "/api/admin/channels/{channel}/projects/{project}/owner"),
            ("GET", "/api/admin/channels/{channel}/bases"),
            ("GET", "/ui/hooks"),
            ("PUT", "/api/admin/channels/{channel}/bases"),
        )
    },
}


def concrete(template: str, stocked: Stocked) -> str:
    values = {**PARAMETERS, **ROUTE_PARAMETERS.get(template, {})}
    if template == "/{channel}/conda/{subdir}/shards/{name}":
        values["name"] = stocked.shard
    return re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], template)


def call(client: AppClient, method: str, template: str, stocked: Stocked, headers: dict):
    """One request to the route, with what a real caller of it sends."""
    path = concrete(template, stocked)
    kwargs: dict = {"headers": headers}
    if template == "/api/requests" and method == "POST":
        kwargs["json"] = {"kind": "pip", "name": "wanted", "spec": "wanted>=1"}
    elif template == "/api/promote":
        kwargs["json"] = {"source": "main", "target": "main", "releases": ["demo"], "comment": "x"}
    elif template == "/api/delete":
        kwargs["json"] = {"channel": "main", "releases": ["demo"], "comment": "x"}
    elif template.endswith("/mutability"):
        kwargs["json"] = {"mutability": "volatile"}
    elif template.startswith("/{channel}/upload"):
        kwargs["files"] = {"content": (WHEEL, b"PK\x05\x06" + b"\0" * 18)}
    elif template.startswith("/api/agent/"):  # what an agent sends
        kwargs["headers"] = {**headers, "agent": "a1"}
        kwargs["json"] = {"agent": "a1", "platforms": ["linux-64"], "reason": "x", "found": []}
    elif template.endswith("/decision"):
        kwargs["data"] = {
            "token": stocked.maintainer,
            "decision": "reject",
            "sha256": stocked.recipe_sha256,
        }
    return client.request(method, path, **kwargs)


def test_private_reads_cover_every_route_but_liveness(stocked: Stocked):
    """Walks every route of the app: refused without a token; with a reader token, answered
    exactly as the same server answers when reading is public. A new route is walked too."""
    routes = every_route(stocked.private)
    assert {("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/redoc")} <= set(routes)
    assert {("POST", "/api/requests"), ("GET", "/ui/recipes/{name}")} <= set(routes)
    assert len(routes) >= 50
    refused_to_a_reader = {}
    for method, template in routes:
        anonymous = call(stocked.private, method, template, stocked, {})
        if template in OPEN_PATHS:
            assert anonymous.status_code == 200, (method, template)
            continue
        if template.startswith(REPLICA_FILES_PREFIX):  # the replica token, not a user's:
            assert anonymous.status_code == 404, (method, template)  # this one has none
            continue
        assert anonymous.status_code == 401, (method, template, anonymous.text)
        assert anonymous.headers["www-authenticate"] == 'Basic realm="drawbridge"'
        with_token = call(stocked.private, method, template, stocked, basic(stocked.reader))
        public = call(stocked.public, method, template, stocked, basic(stocked.reader))
        assert with_token.status_code == public.status_code, (method, template, with_token.text)
        if with_token.status_code >= 400:
            refused_to_a_reader[(method, template)] = with_token.status_code
    assert refused_to_a_reader == REFUSED_TO_A_READER


def test_every_route_that_changes_things_refuses_another_origin(stocked: Stocked):
    """Walks every route of an unsafe method (issue 16): a browser's request from a page of
    another origin is a 403 before authentication (never the 401 that makes a browser send
    its cached basic credentials), with a maintainer's token or none, reads public or
    private. A new route is walked too."""
    unsafe = [(m, t) for m, t in every_route(stocked.private) if m not in ("GET", "HEAD")]
    assert {("POST", "/{channel}/upload/"), ("POST", "/ui/recipes/{name}/decision")} <= set(unsafe)
    assert len(unsafe) >= 19
    foreign = {"Sec-Fetch-Site": "cross-site", "Origin": "https://attacker.example"}
    for method, template in unsafe:
        for client in (stocked.private, stocked.public):
            for headers in (foreign, {**foreign, **basic(stocked.maintainer)}):
                answer = call(client, method, template, stocked, headers)
                assert answer.status_code == 403, (method, template, answer.text)
                assert "Origin: https://attacker.example" in answer.text
                assert "www-authenticate" not in answer.headers


def test_the_token_travels_every_way_and_wrong_ones_are_refused(stocked: Stocked):
    private, token = stocked.private, stocked.reader
    for path in ("/", "/ui/recipes", f"/ui/recipes/{RECIPE}", "/docs", "/openapi.json"):
        assert private.get(path).status_code == 401, path
        assert private.get(path, headers=basic(token)).status_code == 200, path
        bearer = {"Authorization": f"Bearer {token}"}
        assert private.get(path, headers=bearer).status_code == 200, path
        assert private.get(f"/t/{token}{path}").status_code == 200, path
        assert private.get(f"/t/dbt-wrong{path}").status_code == 401, path
        assert private.get(path, headers=basic("dbt-" + "x" * 300)).status_code == 401, path


def test_health_is_a_bare_liveness_check(stocked: Stocked):
    for client in (stocked.private, stocked.public):
        answer = client.get(LIVENESS_PATH)
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        assert client.head(LIVENESS_PATH).status_code == 200


def test_anonymous_requests_are_not_filed_when_reads_are_private(stocked: Stocked):
    wanted = {"kind": "pip", "name": "sneaky", "spec": "sneaky"}
    assert stocked.private.post("/api/requests", json=wanted).status_code == 401
    filed = stocked.private.post("/api/requests", json=wanted, headers=basic(stocked.reader))
    assert filed.status_code == 201 and filed.json()["requested_by"] == "rita"
    listed = stocked.private.get("/api/requests", headers=basic(stocked.reader)).json()
    assert [r["requested_by"] for r in listed if r["name"] == "sneaky"] == ["rita"]


CACHED = [
    (f"/main/files/{WHEEL}", "max-age=31536000, immutable"),
    (f"/main/packages/source/d/demo/{SDIST}", "max-age=31536000, immutable"),
    (f"/main/files/{WHEEL}.metadata", "max-age=31536000, immutable"),
    (f"/main/conda/noarch/{CONDA}", "max-age=31536000, immutable"),
    ("/main/conda/noarch/repodata.json", "no-cache"),
    ("/main/conda/noarch/repodata.json.zst", "no-cache"),
    ("/main/conda/channeldata.json", "no-cache"),
    ("/main/simple/demo/", "no-cache"),
    ("/main/pypi/demo/json", "no-cache"),
    (f"/upstream/{MIRROR}/noarch/repodata.json", "no-cache"),
]


@pytest.mark.parametrize(("path", "caching"), CACHED)
def test_answers_that_need_a_token_are_private(stocked: Stocked, path: str, caching: str):
    public = stocked.public.get(path)
    assert public.status_code == 200
    expected_public = f"public, {caching}" if "immutable" in caching else caching
    assert public.headers["cache-control"] == expected_public
    private = stocked.private.get(path, headers=basic(stocked.reader))
    assert private.status_code == 200 and private.content == public.content
    assert private.headers["cache-control"] == f"private, {caching}"
    assert private.headers["etag"] == public.headers["etag"]
    prefixed = stocked.private.get(f"/t/{stocked.reader}{path}")  # conda's way
    assert prefixed.status_code == 200
    assert prefixed.headers["cache-control"] == f"private, {caching}"


def test_a_private_page_without_caching_headers_says_private(stocked: Stocked):
    answer = stocked.private.get("/ui/recipes", headers=basic(stocked.reader))
    assert answer.headers["cache-control"] == "private"
    assert "cache-control" not in stocked.public.get("/ui/recipes").headers


PAGES = [
    "/",
    "/main/",
    "/main/pypi/demo/",
    "/main/pypi/demo/1.0/",
    "/ui/recipes",
    f"/ui/recipes/{RECIPE}",
    "/ui/requests",
]


#: error pages: (path, Accept, status)
ERROR_PAGES = [
    ("/ui/recipes/%3Cscript%3Ealert(1)%3C%2Fscript%3E", None, 404),
    ("/ui/recipes/a%00b", None, 400),
    ("/nochannel/", BROWSER, 404),
    ("/main/files/missing.whl", BROWSER, 404),
    ("/ui/nothing-here", None, 404),
]


def _page_checks(answer: httpx.Response) -> None:
    """What every page of the UI must be: sent with the security headers, valid HTML as a
    browser parses it, and nothing in it that the CSP would block or that runs."""
    headers = answer.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    policy = dict(
        (directive.split(" ", 1) + [""])[:2]
        for directive in headers["content-security-policy"].split("; ")
    )
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and "unsafe" not in str(policy)
    document = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(answer.text)
    assert document.find("head/title") is not None
    styles = [element.text for element in document.iter("style")]
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert policy["style-src"] == f"'sha256-{digest}'"  # the stylesheet the page carries
    for element in document.iter():
        assert element.tag not in ("iframe", "object", "embed", "img", "link")
        if element.tag == "script":  # only the UI's own script file, nothing inline
            assert element.get("src", "").endswith("/static/ui.js") and not element.text
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on") and name.lower() != "style", element
            if name in ("href", "action", "src"):
                assert value.startswith("/") and not value.startswith("//"), value


@pytest.mark.parametrize("path", PAGES)
def test_ui_pages_send_security_headers_and_valid_html(stocked: Stocked, path: str):
    answer = stocked.public.get(path)
    assert answer.status_code == 200
    _page_checks(answer)
    private = stocked.private.get(path, headers={**basic(stocked.reader), "Accept": BROWSER})
    assert private.status_code == 200 and stocked.reader not in private.text
    _page_checks(private)
    if "$DRAWBRIDGE_TOKEN" not in private.text:  # a private channel's URLs name a placeholder
        assert private.text == answer.text


@pytest.mark.parametrize(("path", "accept", "status"), ERROR_PAGES)
def test_ui_errors_are_pages(stocked: Stocked, path: str, accept: str | None, status: int):
    headers = {"Accept": accept} if accept else {}
    answer = stocked.public.get(path, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    _page_checks(answer)
    assert f"<h1>{status} " in answer.text and "<a href='/'>Drawbridge home</a>" in answer.text
    assert "<script>" not in answer.text and "{&quot;detail" not in answer.text


def test_a_browser_without_a_token_gets_a_page_that_says_how_to_sign_in(stocked: Stocked):
    answer = stocked.private.get("/ui/recipes")  # the path alone makes it a UI request
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Basic realm="drawbridge"'
    _page_checks(answer)
    assert "<code>__token__</code>" in answer.text
    refused = stocked.private.get("/main/simple/", headers={"Accept": BROWSER})
    assert refused.status_code == 401 and refused.headers["content-type"].startswith("text/html")


def test_an_unexpected_error_is_json_for_a_tool():
    scope = {"type": "http", "method": "GET", "path": "/main/pypi/x/json", "headers": []}
    answer = asyncio.run(internal_error_response(Request(scope), OSError("secret path")))
    assert answer.status_code == 500 and answer.media_type == "application/json"
    assert answer.body == b'{"detail":"internal server error: the server\'s log names the cause"}'


def test_an_error_page_links_home_through_the_token_prefix(stocked: Stocked):
    token = stocked.reader
    answer = stocked.private.get(f"/t/{token}/ui/recipes/missing")
    assert answer.status_code == 404
    assert f"<a href='/t/{token}/'>Drawbridge home</a>" in answer.text


#: Accept headers of real clients: whether they get an HTML error (else JSON)
ACCEPTS = [
    (None, False),  # requests, twine, conda without a header of its own
    ("*/*", False),  # curl
    ("application/json", False),  # rattler, the environments client
    (
        "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
        "text/html; q=0.01",
        False,
    ),  # pip >= 22.2 and uv
    ("text/html", True),  # pip 19 and older: harmless, pip never shows the body
    (BROWSER, True),  # Firefox
    (
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
        "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
        True,
    ),  # Chrome
    ("application/json;q=0.5, text/html;q=0.4", False),
    ("application/json;q=0.5, text/html;q=0.9", True),
    ("text/html;q=0", False),
    ("text/html;q=nonsense", False),
]


@pytest.mark.parametrize(("accept", "html"), ACCEPTS)
def test_tools_get_json_errors_and_browsers_get_pages(
    stocked: Stocked, accept: str | None, html: bool
):
    assert prefers_html(accept) is html
    headers = {"Accept": accept} if accept else {}
    for method, path in (
        ("GET", "/main/files/missing.whl"),  # 404 from a route
        ("GET", "/main/pypi/missing/json"),  # 404 from the channel layer's error
        ("GET", "/main/simple/?format=nonsense"),  # 406
        ("GET", "/main/nothing/here"),  # 404 from the router
        ("PUT", "/main/simple/"),  # 405 from the router
        ("POST", "/api/requests"),  # 422: FastAPI's validation, no body
    ):
        answer = stocked.public.request(method, path, headers=headers)
        assert 400 <= answer.status_code < 500, path
        kind = answer.headers["content-type"]
        assert kind.startswith("text/html" if html else "application/json"), (path, kind)
        assert answer.headers["x-content-type-options"] == "nosniff"
        if not html:
            assert isinstance(answer.json()["detail"], (str, list)), path


def test_every_answer_says_nosniff(stocked: Stocked):
    """Routes, the fast path, 304s aside: a browser never guesses a file's type."""
    for client in (stocked.public, stocked.private):
        for method, template in every_route(client):
            answer = call(client, method, template, stocked, basic(stocked.reader))
            if answer.status_code != 304:
                assert answer.headers.get("x-content-type-options") == "nosniff", template
    for path, _ in CACHED:
        assert stocked.public.get(path).headers["x-content-type-options"] == "nosniff", path
    ranged = stocked.public.get(f"/main/files/{WHEEL}", headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.headers["x-content-type-options"] == "nosniff"


def test_role_names_take_the_right_article(tmp_path: Path):
    with serve_in_process(tmp_path / "home") as server:
        wheel = make_wheel(tmp_path, "grammar", "1.0")
        answer = server.post(
            "/main/upload/",
            files={"content": (wheel.name, wheel.read_bytes())},
            auth=("__token__", server.token(Role.reader, "rita")),
        )
    assert answer.status_code == 403
    assert (
        answer.json()["detail"] == "uploading to 'main' needs the uploader role; rita is a reader"
    )
    articles = {role: role.with_article for role in Role}
    assert articles == {
        Role.reader: "a reader",
        Role.builder: "a builder",
        Role.uploader: "an uploader",
        Role.maintainer: "a maintainer",
        Role.admin: "an admin",
    }


def test_the_command_line_names_an_uploader_as_such(tmp_path: Path):
    with serve_in_process(tmp_path / "home") as server:
        uploader = server.token(Role.uploader, "ulla")
    with pytest.raises(ChannelError, match="ulla is an uploader$"):
        CliContext(load_home(tmp_path / "home")).decider(uploader, "recipes")


def test_the_review_form_names_an_uploader_as_such(stocked: Stocked):
    uploader = stocked.public.token(Role.uploader, "ulla")
    form = {"token": uploader, "decision": "approve", "sha256": stocked.recipe_sha256}
    answer = stocked.public.post(f"/ui/recipes/{RECIPE}/decision", data=form)
    assert answer.status_code == 403
    assert "ulla is an uploader" in answer.text and answer.headers["content-type"].startswith(
        "text/html"
    )


@pytest.mark.parametrize("reads", ["public", "private"])
def test_hostile_urls_are_client_errors_in_process(stocked: Stocked, reads: str):
    """Every family × every hostile piece, plus 400 fuzzed URLs, through the token prefix,
    the fast path, the gate and the routes: no 5xx, no traceback, no exception."""
    client = stocked.public if reads == "public" else stocked.private
    auth = [(b"authorization", basic(stocked.reader)["Authorization"].encode())]
    statuses = set()
    for method, target in hostile_targets() + fuzzed_targets(400):
        answer = client.raw_request(method, target, auth)
        assert_no_server_error(answer, method, target)
        statuses.add(answer.status)
    assert statuses <= {200, 301, 307, 400, 401, 403, 404, 405, 406, 411, 422}, statuses


EXPECTED = [
    (b"/main/simple/a%00b/", 400),
    (b"/main/files/demo%00.whl", 400),
    (b"/t/%00/main/simple/", 400),
    (b"/main/simple/%ff/", 400),
    (b"/main/simple/%e2%80%ae/", 400),
    (b"/main/files/..%2fdrawbridge.db", 400),
    (b"/ui/recipes/%2e%2e", 400),
    (b"/api/requests?state=%00", 400),
    (b"/main/simple/" + b"a" * 225 + b"/", 404),
    (b"/main/pypi/" + b"a" * 225 + b"/json", 404),
    (b"/main/simple/" + b"a" * 256 + b"/", 404),
    (b"/main/files/" + b"a" * 300 + b".whl", 404),
    # issue 10's 225+-character project: its wheel's .metadata name passes 255 bytes
    (b"/main/files/" + b"a" * 226 + b"-1.0-py3-none-any.whl.metadata", 404),
    (b"/main/simple/%zz/", 404),
    (b"/main/simple/e%cc%81/", 404),
]


@pytest.mark.parametrize(("target", "status"), EXPECTED)
def test_what_a_hostile_url_is_answered(stocked: Stocked, target: bytes, status: int):
    answer = stocked.public.raw_request("GET", target)
    assert answer.status == status, answer.body
    page = target.startswith(b"/ui/")  # the web UI answers with a page, tools get JSON
    assert answer.headers["content-type"] == (
        "text/html; charset=utf-8" if page else "application/json"
    )


def test_malformed_names_what_is_wrong():
    assert malformed("/main/simple/demo/") is None
    assert malformed("/main/simple/é/") is None  # printable: the route says it does not exist
    assert malformed("/a\x00b") == (400, "the URL's path holds U+0000, which no name here contains")
    assert malformed("/a", b"state=%0a")[0] == 400
    assert malformed("/\ud800")[0] == 400
    assert "255 bytes" in malformed("/" + "é" * 128)[1]
    assert malformed("/" + "é" * 127) is None


def test_the_api_docs_serve_their_own_assets(stocked: Stocked):
    """/docs loads Swagger UI from this server (no CDN in the air gap), under a CSP that lets
    no other origin in; the assets are named, not any file of the package."""
    page = stocked.public.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text and "<script>" not in page.text
    assert "script-src 'self';" in page.headers["content-security-policy"]
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "api-docs.js"):
        asset = stocked.public.get(f"/static/api-docs/{name}")
        assert asset.status_code == 200 and len(asset.content) > 200, name
    assert stocked.public.get("/static/api-docs/core.py").status_code == 404
    assert stocked.public.get("/static/api-docs/..%2Fcore.py").status_code in (400, 404)
    moved = stocked.public.get("/redoc", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (308, "/docs")


def test_an_unexpected_error_is_a_500_page_without_a_traceback(tmp_path: Path):
    """A build log that cannot be read (a folder where a log should be) is a bug's 500."""
    with serve_in_process(tmp_path / "home") as server:
        make_sdist(tmp_path / "sdists", RECIPE, "1.0")
        book = RecipeBook(server.home, Database(server.home.database_url))
        book.generate(RECIPE, None, FolderUpstream(tmp_path / "sdists"), default_table(), "t")
        (server.home.root / "recipes" / RECIPE / "logs" / "broken.log").mkdir(parents=True)
        page = server.raw_request("GET", f"/ui/recipes/{RECIPE}/log".encode(), [], False)
    assert page.status == 500 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert b"internal server error: the server&#x27;s log names the cause" in page.body
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert b"Traceback" not in page.body and b"IsADirectoryError" not in page.body


@pytest.mark.parametrize("size", [10_000, 3 * 1024 * 1024])  # in memory; spooled to disk
def test_an_upload_leaves_no_file_to_the_garbage_collector(tmp_path: Path, size: int):
    """Starlette spools an uploaded file to a SpooledTemporaryFile; unclosed, the garbage
    collector closes it with a ResourceWarning, raised here as an error."""
    unraisable = []
    with serve_in_process(tmp_path / "home") as server:
        token = server.token(Role.uploader)
        wheel = make_wheel(tmp_path, "spooled", "1.0", extra_entries={"blob": b"\0" * size})
        gc.collect()  # what earlier tests left behind is not this upload's
        previous_hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ResourceWarning)
                answer = server.post(
                    "/main/upload/",
                    files={"content": (wheel.name, wheel.read_bytes())},
                    data={":action": "file_upload"},
                    auth=("__token__", token),
                )
                refused = server.post(
                    "/main/upload/",
                    files={"content": (wheel.name, wheel.read_bytes())},
                    data={":action": "remove_pkg"},
                    auth=("__token__", token),
                )
                gc.collect()
        finally:
            sys.unraisablehook = previous_hook
    assert answer.status_code == 200 and refused.status_code == 400
    assert [str(u.exc_value) for u in unraisable] == []


def test_the_openapi_document_has_one_operation_per_route_and_method(tmp_path: Path):
    """GET-and-HEAD routes are described as GET, each operation ID once, with no warning
    (FastAPI warned of a duplicate ID for every such route, 24 per test run)."""
    with serve_in_process(tmp_path / "home") as server:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            document = server.get("/openapi.json").json()
    operations = [
        (method, path, operation["operationId"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    ids = [operation_id for _method, _path, operation_id in operations]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert not [o for o in operations if o[0] == "head"]
    methods = {(method, path) for method, path, _id in operations}
    assert ("get", "/{channel}/simple/{project}/") in methods
    assert ("get", "/health") in methods
    assert all(not i.endswith("_head") for i in ids), ids
