"""Channels named `owner/name` (`company/dev`): every URL family serves them as it serves a
plain channel, paths read one way only, and real clients (pip, uv, twine, py-rattler) work
through the two-segment URLs, a `/t/<token>/company/dev/conda` URL included."""

from __future__ import annotations

import asyncio
import gzip
import html
from pathlib import Path
from urllib.parse import urljoin

import pytest
import zstandard
from builders import make_conda_tar_bz2, make_sdist, make_target_tar_bz2, make_wheel
from servers import AppClient, serve_in_process

from drawbridge.channel.errors import InvalidName
from drawbridge.channel.simple_pages import JSON_TYPE
from drawbridge.channel.tokens import Role


OWNED = "company/dev"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> AppClient:
    """A home with `company/dev` and `main`, the same files in each; a plain `dev` holding
    a project named `company`; and `conda`, a plain channel named after a view word."""
    folder = tmp_path_factory.mktemp("owned")
    with serve_in_process(folder / "home") as client:
        for channel in (OWNED, "dev", "conda"):
            client.channels.create(channel)
        dists = folder / "dists"
        files = [
            make_wheel(dists, "tool", "1.0", requires=["helper>=1"]),
            make_sdist(dists, "tool", "1.0"),
            make_conda_tar_bz2(dists / "noarch", "tool-data", "1.0"),
            make_target_tar_bz2(dists, "tool-bin", "1.0", "3.11"),
        ]
        client.publish(*files, channel="main")
        client.publish(*files, channel=OWNED)
        client.publish(make_wheel(dists / "c", "company", "2.0"), channel="dev")
        client.publish(make_wheel(dists / "k", "in-conda", "3.0"), channel="conda")
        yield client


def shard_name(app: AppClient, channel: str) -> str:
    return next(app.home.channel(channel).conda_dir.glob("linux-64/shards/*")).name


#: (URL below a channel, media type or None, what the body must hold)
URL_FAMILIES = [
    ("/simple/", "text/html", b"tool"),
    ("/simple/tool/", "text/html", b"tool-1.0-py3-none-any.whl"),
    ("/files/tool-1.0-py3-none-any.whl", "application/octet-stream", b"PK"),
    ("/files/tool-1.0-py3-none-any.whl.metadata", "text/plain", b"Requires-Dist: helper>=1"),
    ("/packages/source/t/tool/tool-1.0.tar.gz", "application/octet-stream", b"\x1f\x8b"),
    ("/pypi/tool/json", "application/json", b'"version": "1.0"'),
    ("/pypi/tool/1.0/json", "application/json", b"tool-1.0.tar.gz"),
    ("/conda/noarch/repodata.json", "application/json", b"tool-data-1.0-0.tar.bz2"),
    ("/conda/noarch/repodata.json.zst", "application/zstd", b"\x28\xb5\x2f\xfd"),
    ("/conda/linux-64/repodata_shards.msgpack.zst", None, b"\x28\xb5\x2f\xfd"),
    ("/conda/channeldata.json", "application/json", b"tool-data"),
    ("/conda/noarch/tool-data-1.0-0.tar.bz2", "application/octet-stream", b"BZh"),
    ("/", "text/html", b"pip install --index-url"),
]


@pytest.mark.parametrize("channel", ["main", OWNED])
@pytest.mark.parametrize(("below", "media_type", "holds"), URL_FAMILIES)
def test_every_url_family_serves_both_forms_alike(
    app: AppClient, channel: str, below: str, media_type: str | None, holds: bytes
):
    """The fast path (no query string) and the routes (a query string skips the fast path)
    answer the same bytes for `main` and for `company/dev`."""
    fast = app.get(f"/{channel}{below}")
    routed = app.get(f"/{channel}{below}?via=routes")
    assert fast.status_code == routed.status_code == 200, (fast.text[:200], routed.text[:200])
    assert fast.content == routed.content
    if media_type:
        assert fast.headers["content-type"].startswith(media_type)
    assert holds in fast.content
    main = app.get(f"/main{below}").content
    if below.startswith(("/files/", "/packages/", "/conda/noarch/tool-data")):
        assert fast.content == main  # the same file in both channels
    if below in ("/", "/pypi/tool/json", "/pypi/tool/1.0/json"):
        assert f"/{channel}/".encode() in fast.content  # its URLs name its own channel


@pytest.mark.parametrize("channel", ["main", OWNED])
def test_shards_project_pages_and_redirects_of_both_forms(app: AppClient, channel: str):
    shard = app.get(f"/{channel}/conda/linux-64/shards/{shard_name(app, channel)}")
    assert shard.status_code == 200 and shard.content[:4] == b"\x28\xb5\x2f\xfd"
    assert b"tool-bin" in zstandard.decompress(shard.content, max_output_size=1 << 20)
    page_url = f"http://testserver/{channel}/simple/tool/"
    page = app.get(page_url, headers={"Accept": JSON_TYPE}).json()
    for listed in page["files"]:  # relative links land in the channel's own files
        url = urljoin(page_url, listed["url"])
        assert url == f"http://testserver/{channel}/files/{listed['filename']}"
        assert app.get(url).status_code == 200
    redirect = app.get(f"/{channel}/simple/Tool")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == f"/{channel}/simple/tool/"
    slashless = app.get(f"/{channel}")
    assert slashless.status_code == 307 and slashless.headers["location"] == f"/{channel}/"
    raw = app.raw("GET", f"/{channel}/simple/", headers={"Accept-Encoding": "gzip"})
    assert b"tool" in gzip.decompress(raw)


FAST_PATHS = [
    "/simple/",
    "/simple/tool/",
    "/files/tool-1.0-py3-none-any.whl",
    "/files/tool-1.0-py3-none-any.whl.metadata",
    "/conda/noarch/repodata.json",
    "/conda/linux-64/repodata_shards.msgpack.zst",
    "/conda/channeldata.json",
    "/conda/noarch/tool-data-1.0-0.tar.bz2",
]


@pytest.mark.parametrize("channel", ["main", OWNED])
def test_the_fast_path_answers_an_owned_channel_itself(app: AppClient, channel: str):
    """The fast path, with an application behind it that must never be called, answers
    every hot read of `company/dev` as it does `main`'s; what it cannot read one way only
    goes on to the application."""
    from drawbridge.channel.database import Database
    from drawbridge.channel.service import Channels
    from drawbridge.server.context import Context
    from drawbridge.server.asgi.fast_path import IndexFastPath

    passed_on: list[str] = []

    async def application(scope, receive, send):  # type: ignore[no-untyped-def]
        passed_on.append(scope["path"])

    database = Database(app.home.database_url)
    channels = Channels(app.home, database)
    context = Context(home=app.home, database=database, channels=channels)
    context.known_channels = set(channels.names())
    fast = IndexFastPath(application, context)

    async def status(path: str) -> int | None:
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
        await fast(scope, None, send)
        return sent[0]["status"] if sent else None

    shard = f"/conda/linux-64/shards/{shard_name(app, channel)}"
    for below in [*FAST_PATHS, shard]:
        assert asyncio.run(status(f"/{channel}{below}")) == 200, below
    declined = [
        "/company/simple/",
        "/a/b/c/simple/",
        "/company/dev/simple/Tool/",
        "/nobody/x/simple/",
    ]
    for path in declined:
        assert asyncio.run(status(path)) is None, path
    assert passed_on == declined
    database.close()


#: (path, status, what the body holds) where a path could be read two ways
AMBIGUOUS = [
    ("/company/dev/simple/", 200, b"tool"),  # the channel company/dev ...
    ("/dev/simple/company/", 200, b"company-2.0-py3-none-any.whl"),  # ... project company in dev
    ("/dev/simple/", 200, b"company"),
    ("/company/simple/", 404, b"no channel 'company'"),  # an owner is no channel
    ("/company/dev/simple/company/", 404, b"no project 'company'"),
    ("/company/", 404, b"no channel 'company'"),
    ("/company/dev", 307, b""),
    ("/nobody/here", 404, b"no channel 'nobody/here'"),
    ("/a/b/c/simple/", 404, b""),  # three segments name no channel
    ("/conda/simple/in-conda/", 200, b"in_conda-3.0"),  # a plain channel named `conda`
    ("/conda/conda/noarch/repodata.json", 200, b"packages"),
    ("/simple/tool/", 200, b"tool-1.0-py3-none-any.whl"),  # the default channel's alias
    ("/files/tool-1.0.tar.gz", 200, b"\x1f\x8b"),
    ("/company/dev/conda/linux-64/repodata.json", 200, b"tool-bin-1.0"),
    ("/dev/conda/linux-64/repodata.json", 200, b'"packages":{}'),
    ("/api/channels", 200, b'"company/dev":{"conda":"http://testserver/company/dev/conda"'),
]


@pytest.mark.parametrize(("path", "status", "holds"), AMBIGUOUS)
def test_paths_read_one_way(app: AppClient, path: str, status: int, holds: bytes):
    for variant in (path, f"{path}?via=routes"):
        response = app.get(variant)
        assert response.status_code == status, (variant, response.text[:300])
        said = html.unescape(response.text).encode()  # an error page for a browser is HTML
        assert holds in response.content or holds in said, (variant, response.text[:300])


def test_an_owner_is_never_also_a_plain_channel(app: AppClient):
    with pytest.raises(InvalidName, match="'company': it owns channels"):
        app.channels.create("company")
    with pytest.raises(InvalidName, match="'main' is a channel"):
        app.channels.create("main/sandbox")
    app.channels.create(OWNED)  # creating an existing channel again is fine


def test_uploads_and_token_urls_reach_an_owned_channel(app: AppClient, tmp_path: Path):
    token = app.token(Role.uploader, "ci")
    wheel = make_wheel(tmp_path, "uploaded", "1.0")
    for path in (f"/{OWNED}/upload/", f"/t/{token}/{OWNED}/upload/"):
        answer = app.post(
            path,
            data={":action": "file_upload"},
            files={"content": (wheel.name, wheel.read_bytes())},
            auth=("__token__", token) if "/t/" not in path else None,
        )
        assert answer.status_code == 200, answer.text
    assert b"uploaded" in app.get(f"/{OWNED}/simple/").content
    assert b"uploaded" not in app.get("/main/simple/").content
    listed = app.get(f"/t/{token}/{OWNED}/simple/uploaded/").text
    assert "uploaded-1.0-py3-none-any.whl" in listed
