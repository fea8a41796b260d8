"""Serving: package files on the fast path, fresh indexes, the access log, one ETag formula.

Most of it runs in-process through `httpx.ASGITransport(create_app(home))`; what depends on
granian (pathsend, the default log on stderr) or on a real client's cache runs end to end.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import httpx
import pytest
from builders import make_conda_tar_bz2, make_noarch_python_conda, make_sdist, make_wheel
from databases import new_home, write_config
from servers import AppClient

from drawbridge.channel.database import Database
from drawbridge.channel.home import Home, load_home
from drawbridge.channel.service import Channels
from drawbridge.channel.simple_pages import JSON_TYPE
from drawbridge.server.asgi.access_log import AccessLog
from drawbridge.channel.tokens import Role, create_token
from drawbridge.server.asgi.fast_path import single_range


#: Common log format plus seconds: host ident user [time] "request" status bytes seconds
CLF = re.compile(
    r"^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "  # host ident user [time]
    r'"([^"]*)" (\d{3}) (\d+|-) (\d+\.\d{6})$'  # "request" status bytes seconds
)


def make_home(root: Path, config: str = "") -> Home:
    write_config(new_home(root), config)  # on this run's database
    home = load_home(root)
    Channels(home, Database(home.database_url)).create("main")
    return home


def publish(home: Home, *paths: Path) -> None:
    _, refused = Channels(home, Database(home.database_url)).publish_many("main", list(paths))
    assert not refused, refused


def fetch(home: Home, requests: list[tuple[str, str, dict]]) -> list[httpx.Response]:
    """Send (method, path, headers) requests, in order, to a fresh in-process application."""
    with AppClient(home, lifespan=False) as client:
        return [client.request(method, path, headers=headers) for method, path, headers in requests]


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home with a wheel (and its .metadata), an sdist, a .conda and a .tar.bz2."""
    root = tmp_path_factory.mktemp("stocked")
    home = make_home(root / "home", '[server]\naccess_log = ""\n')
    publish(
        home,
        make_wheel(
            root / "d", "served", "1.0", extra_entries={"served/blob.bin": os.urandom(300_000)}
        ),
        make_sdist(root / "d", "served", "1.0"),
        make_noarch_python_conda(root / "d", "served-conda", "1.0", "served_conda"),
        make_conda_tar_bz2(root / "d", "served-bz2", "1.0", "0", "linux-64"),
    )
    return home


def _file_paths(home: Home) -> list[str]:
    conda = home.channel("main").conda_dir
    shard = next((conda / "noarch" / "shards").iterdir()).name
    return [
        "/main/files/served-1.0-py3-none-any.whl",
        "/files/served-1.0-py3-none-any.whl",
        "/main/files/served-1.0.tar.gz",
        "/main/files/served-1.0-py3-none-any.whl.metadata",
        "/main/conda/noarch/served-conda-1.0-pyh4616a5c_0.conda",
        "/main/conda/linux-64/served-bz2-1.0-0.tar.bz2",
        f"/main/conda/noarch/shards/{shard}",
        "/main/conda/channeldata.json",
        "/main/conda/noarch/repodata.json",
        "/main/conda/noarch/repodata_shards.msgpack.zst",
    ]


def test_fast_path_answers_files_exactly_as_the_routes_do(stocked: Home):
    """A query string sends a request past the fast path to the FastAPI route: both agree
    on status, bytes and every caching header, so there is one ETag formula."""
    paths = _file_paths(stocked)
    responses = fetch(
        stocked, [("GET", p + suffix, {}) for p in paths for suffix in ("", "?via=route")]
    )
    for path, fast, route in zip(paths, responses[::2], responses[1::2]):
        assert fast.status_code == route.status_code == 200, path
        assert fast.content == route.content, path
        for header in ("etag", "last-modified", "cache-control", "content-type", "content-length"):
            assert fast.headers[header] == route.headers[header], (path, header)
    wheel = stocked.channel("main").files_dir / "served-1.0-py3-none-any.whl"
    assert responses[0].content == wheel.read_bytes()
    stat = wheel.stat()
    assert responses[0].headers["etag"] == f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'


def test_package_files_are_immutable_and_indexes_revalidate(stocked: Home):
    for path, response in zip(
        _file_paths(stocked), fetch(stocked, [("GET", p, {}) for p in _file_paths(stocked)])
    ):
        index = path.endswith((".json", "repodata_shards.msgpack.zst"))
        expected = "no-cache" if index else "public, max-age=31536000, immutable"
        assert response.headers["cache-control"] == expected, path


def test_range_head_and_conditional_requests_on_files(stocked: Home):
    url = "/main/conda/noarch/served-conda-1.0-pyh4616a5c_0.conda"
    (whole,) = fetch(stocked, [("GET", url, {})])
    size, etag = len(whole.content), whole.headers["etag"]
    part, suffix, tail, multi, beyond, head, by_etag, by_date, changed = fetch(
        stocked,
        [
            ("GET", url, {"Range": "bytes=10-19"}),
            ("GET", url, {"Range": "bytes=-7"}),
            ("GET", url, {"Range": f"bytes={size - 5}-"}),
            ("GET", url, {"Range": "bytes=0-1,4-5"}),  # the route answers several ranges
            ("GET", url, {"Range": f"bytes={size + 5}-"}),  # and unsatisfiable ones
            ("HEAD", url, {}),
            ("GET", url, {"If-None-Match": etag}),
            ("GET", url, {"If-Modified-Since": whole.headers["last-modified"]}),
            ("GET", url, {"If-None-Match": '"other"'}),
        ],
    )
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{size}" and part.headers["etag"] == etag
    assert suffix.status_code == 206 and suffix.content == whole.content[-7:]
    assert tail.status_code == 206 and tail.content == whole.content[-5:]
    assert multi.status_code == 206 and multi.headers["content-type"].startswith(
        "multipart/byteranges"
    )
    assert beyond.status_code == 416
    assert (
        head.status_code == 200
        and head.content == b""
        and int(head.headers["content-length"]) == size
    )
    assert by_etag.status_code == 304 and by_etag.content == b"" and by_etag.headers["etag"] == etag
    assert by_date.status_code == 304
    assert changed.status_code == 200 and changed.content == whole.content


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=90-", 100, (90, 99)),
        ("bytes=95-200", 100, (95, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=-200", 100, (0, 99)),
        ("Bytes = 3-4", 100, (3, 4)),
        ("bytes=100-", 100, None),  # unsatisfiable: the route answers 416
        ("bytes=5-1", 100, None),
        ("bytes=-0", 100, None),
        ("bytes=0-1,5-6", 100, None),  # several ranges: the route answers multipart
        ("items=0-9", 100, None),
        ("bytes=+1-2", 100, None),
        ("bytes=1_0-20", 100, None),
        ("bytes=0-0", 0, None),
        ("bytes=", 100, None),
    ],
)
def test_single_range(header: str, size: int, expected: tuple[int, int] | None):
    assert single_range(header, size) == expected


def test_unknown_files_and_odd_names_go_to_the_routes(stocked: Home):
    answers = fetch(
        stocked,
        [
            ("GET", "/main/files/missing-1.0.tar.gz", {}),
            ("GET", "/main/files/.hidden", {}),
            ("GET", "/nochannel/files/served-1.0.tar.gz", {}),
            ("GET", "/main/conda/noarch/repodata.json.bak", {}),
            ("GET", "/main/conda/nosubdir/served-bz2-1.0-0.tar.bz2", {}),
            ("GET", "/main/conda/linux-64/shards/0000.msgpack.zst", {}),
        ],
    )
    assert [a.status_code for a in answers] == [404] * len(answers)
    assert all("detail" in a.json() for a in answers)  # FastAPI's 404s, not the fast path's


def test_private_channel_files_need_a_token(tmp_path: Path):
    home = make_home(tmp_path / "home", '[server]\nanonymous_read = false\naccess_log = ""\n')
    publish(
        home,
        make_wheel(tmp_path / "d", "secret", "1.0"),
        make_conda_tar_bz2(tmp_path / "d", "hidden", "1.0"),
    )
    token = create_token(Database(home.database_url), "reader", Role.reader)
    basic = {"Authorization": httpx.BasicAuth("__token__", token)._auth_header}
    wheel, package = (
        "/main/files/secret-1.0-py3-none-any.whl",
        "/main/conda/noarch/hidden-1.0-0.tar.bz2",
    )
    answers = fetch(
        home,
        [
            ("GET", wheel, {}),
            ("HEAD", wheel, {}),
            ("GET", package, {}),
            ("GET", package, {"Range": "bytes=0-3"}),
            ("GET", wheel, basic),
            ("GET", f"/t/{token}{package}", {}),
            ("GET", "/t/dbt-wrong" + package, {}),
        ],
    )
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 200, 200, 401]
    assert answers[4].content[:2] == b"PK" and answers[5].content[:3] == b"BZh"


def _pages(home: Home) -> list[tuple[str, dict]]:
    return [
        ("/main/conda/noarch/repodata.json", {"Accept-Encoding": "gzip"}),
        ("/main/conda/noarch/repodata.json.zst", {}),
        ("/main/conda/noarch/repodata_shards.msgpack.zst", {}),
        ("/main/conda/channeldata.json", {}),
        ("/main/simple/", {}),
        ("/main/simple/", {"Accept": JSON_TYPE}),
        ("/main/simple/fresh/", {"Accept": JSON_TYPE}),
    ]


def test_a_publish_is_visible_to_the_next_conditional_request(tmp_path: Path):
    """What a caching client (conda, rattler, pip, uv) does: keep the index, revalidate it
    on every use as `no-cache` says, and send If-None-Match/If-Modified-Since."""
    home = make_home(tmp_path / "home", '[server]\naccess_log = ""\n')
    publish(
        home,
        make_wheel(tmp_path / "d", "fresh", "1.0"),
        make_conda_tar_bz2(tmp_path / "d", "fresh", "1.0"),
    )
    first = fetch(home, [("GET", path, headers) for path, headers in _pages(home)])
    assert [r.status_code for r in first] == [200] * len(first)
    for response in first:
        assert response.headers["cache-control"] == "no-cache"

    def conditional() -> list[httpx.Response]:
        return fetch(
            home,
            [
                (
                    "GET",
                    path,
                    {
                        **headers,
                        "If-None-Match": old.headers["etag"],
                        "If-Modified-Since": old.headers["last-modified"],
                    },
                )
                for (path, headers), old in zip(_pages(home), first)
            ],
        )

    unchanged = conditional()
    assert [r.status_code for r in unchanged] == [304] * len(first)
    assert all(
        r.content == b"" and r.headers["etag"] == old.headers["etag"]
        for r, old in zip(unchanged, first)
    )
    time.sleep(0.01)
    publish(
        home,
        make_wheel(tmp_path / "e", "fresh", "2.0"),
        make_conda_tar_bz2(tmp_path / "e", "fresh", "2.0"),
    )
    changed = conditional()
    statuses = {path: r.status_code for (path, _), r in zip(_pages(home), changed)}
    # every index that lists versions changed; the root page lists names only and may not
    assert all(code == 200 for path, code in statuses.items() if path != "/main/simple/"), statuses
    assert "fresh-2.0-0.tar.bz2" in changed[0].json()["packages"]
    assert "2.0" in changed[6].json()["versions"]


def test_access_log_lines(tmp_path: Path):
    home = make_home(tmp_path / "home", '[server]\naccess_log = "logs/access.log"\n')
    publish(home, make_wheel(tmp_path / "d", "logged", "1.0"))
    token = create_token(Database(home.database_url), "reader", Role.reader)
    basic = {"Authorization": httpx.BasicAuth("__token__", token)._auth_header}
    wheel = "/main/files/logged-1.0-py3-none-any.whl"
    size = (home.channel("main").files_dir / "logged-1.0-py3-none-any.whl").stat().st_size
    fetch(
        home,
        [
            ("GET", wheel, {}),
            ("HEAD", wheel, {}),
            ("GET", f"/t/{token}/main/simple/", {}),
            ("GET", "/main/simple/logged/?format=json", basic),
            ("GET", "/nothing/here", {}),
            ("GET", f"/%74/{token}/main/simple/logged/", {}),  # the prefix, percent-encoded
        ],
    )
    text = (home.root / "logs" / "access.log").read_text()
    assert token not in text
    lines = [CLF.match(line) for line in text.splitlines()]
    assert all(lines), text
    requests = [(m.group(3), m.group(4), m.group(5)) for m in lines]
    assert requests[0] == (f"GET {wheel} HTTP/1.1", "200", str(size))
    assert requests[1] == (f"HEAD {wheel} HTTP/1.1", "200", "-")
    assert requests[2][:2] == ("GET /t/***/main/simple/ HTTP/1.1", "200")
    assert requests[3][:2] == ("GET /main/simple/logged/?format=json HTTP/1.1", "200")
    assert requests[4][:2] == ("GET /nothing/here HTTP/1.1", "404")
    assert requests[5][:2] == ("GET /t/***/main/simple/logged/ HTTP/1.1", "200")
    assert all(0 <= float(m.group(6)) < 5 for m in lines)


def test_access_log_escapes_what_would_forge_a_line():
    """A raw request target with quotes, a newline or non-ASCII stays on one parsable line."""
    import io

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"gone"})

    stream = io.BytesIO()
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "raw_path": b'/a"b\\c\n1.2.3.4 - - \xff',
        "query_string": b"",
        "http_version": "1.1",
        "client": ("10.0.0.1", 5),
        "headers": [],
    }
    asyncio.run(AccessLog(stream).wrap(app)(scope, None, lambda message: asyncio.sleep(0)))
    line = stream.getvalue().decode("ascii")
    assert line.count("\n") == 1 and line.endswith("\n")
    match = CLF.match(line.rstrip("\n"))
    assert match and match.group(1) == "10.0.0.1" and match.group(4, 5) == ("404", "4")
    assert match.group(3) == "GET /a\\x22b\\x5cc\\x0a1.2.3.4 - - \\xff HTTP/1.1"


def test_access_log_names_http_1_0_as_such():
    """granian reports an HTTP/1.0 request's version as "1" (nginx's default to its
    upstream): the log still writes `HTTP/1.0`, as every log reader expects."""
    import io

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    stream = io.BytesIO()
    for version in ("1", "1.0", "1.1", "2"):
        scope = {"type": "http", "method": "GET", "path": "/x", "http_version": version}
        asyncio.run(AccessLog(stream).wrap(app)(scope, None, lambda message: asyncio.sleep(0)))
    lines = stream.getvalue().decode("ascii").splitlines()
    assert [CLF.match(line).group(3) for line in lines] == [
        "GET /x HTTP/1.0",
        "GET /x HTTP/1.0",
        "GET /x HTTP/1.1",
        "GET /x HTTP/2",
    ]


def test_with_a_proxy_cache_anonymous_files_are_sent_and_token_reads_still_redirected(
    tmp_path: Path,
):
    """`proxy_cache_seconds` beside `accel_redirect_prefix` (docs/operating.md): nginx keeps
    what it is sent, not what it is redirected to, so the fast path's anonymous file reads
    carry their bytes (keepable N seconds); a read with a token is still named for nginx
    to send, and marked never to be kept."""
    home = new_home(tmp_path / "home")
    write_config(home, '[server]\nproxy_cache_seconds = 5\naccel_redirect_prefix = "/_files/"\n')
    home = load_home(home.root)
    package = make_conda_tar_bz2(tmp_path / "d", "kept-data", "1.0", members={"b": b"y" * 1000})
    database = Database(home.database_url)
    try:
        channels = Channels(home, database)
        channels.create("main")
        channels.publish("main", package)
        token = create_token(database, "reader-user", Role.reader)
    finally:
        database.close()
    path = "/main/conda/noarch/kept-data-1.0-0.tar.bz2"
    with AppClient(home) as client:
        anonymous = client.get(path)
        assert anonymous.status_code == 200
        assert anonymous.content == package.read_bytes()
        assert "x-accel-redirect" not in anonymous.headers
        assert anonymous.headers["x-accel-expires"] == "5"
        part = client.get(path, headers={"Range": "bytes=0-9"})
        assert part.status_code == 206 and part.content == package.read_bytes()[:10]
        assert part.headers["x-accel-expires"] == "0"  # a part is never kept as the file
        with_token = client.get(path, auth=("__token__", token))
        assert with_token.status_code == 200 and with_token.content == b""
        assert with_token.headers["x-accel-redirect"].startswith("/_files/channels/main/")
        assert with_token.headers["x-accel-expires"] == "0"


def test_with_a_proxy_cache_files_above_the_limit_are_redirected_and_never_kept(
    tmp_path: Path,
):
    """`proxy_cache_max_file_mb` beside the cache and `accel_redirect_prefix`: an anonymous
    read of a file up to the limit is sent for nginx to keep; a larger one is named for nginx
    to send from the home and marked never to be kept (its 304 too), so the cache never
    holds a copy of a large package."""
    home = new_home(tmp_path / "home")
    write_config(
        home,
        "[server]\nproxy_cache_seconds = 5\nproxy_cache_max_file_mb = 1\n"
        'accel_redirect_prefix = "/_files/"\n',
    )
    home = load_home(home.root)
    small = make_conda_tar_bz2(tmp_path / "d", "small-data", "1.0", members={"b": b"s" * 1000})
    large = make_conda_tar_bz2(
        tmp_path / "d", "large-data", "1.0", members={"b": os.urandom(1024 * 1024 + 1)}
    )
    database = Database(home.database_url)
    try:
        channels = Channels(home, database)
        channels.create("main")
        channels.publish("main", small)
        channels.publish("main", large)
    finally:
        database.close()
    with AppClient(home) as client:
        kept = client.get("/main/conda/noarch/small-data-1.0-0.tar.bz2")
        assert kept.status_code == 200 and kept.content == small.read_bytes()
        assert kept.headers["x-accel-expires"] == "5"
        assert "x-accel-redirect" not in kept.headers
        path = "/main/conda/noarch/large-data-1.0-0.tar.bz2"
        redirected = client.get(path)
        assert redirected.status_code == 200 and redirected.content == b""
        assert redirected.headers["x-accel-redirect"] == (
            "/_files/channels/main/conda/noarch/large-data-1.0-0.tar.bz2"
        )
        assert redirected.headers["x-accel-expires"] == "0"
        again = client.get(path, headers={"If-None-Match": redirected.headers["etag"]})
        assert again.status_code == 304 and again.headers["x-accel-expires"] == "0"
        head = client.head(path)  # nothing to send: answered here, and still never kept
        assert head.status_code == 200 and head.headers["x-accel-expires"] == "0"
        assert int(head.headers["content-length"]) == large.stat().st_size
    # without accel_redirect_prefix, a large file is sent here, still never to be kept
    write_config(home, "[server]\nproxy_cache_seconds = 5\nproxy_cache_max_file_mb = 1\n")
    with AppClient(load_home(home.root)) as client:
        sent = client.get(path)
        assert sent.status_code == 200 and sent.content == large.read_bytes()
        assert sent.headers["x-accel-expires"] == "0"
        assert "x-accel-redirect" not in sent.headers
        kept = client.get("/main/conda/noarch/small-data-1.0-0.tar.bz2")
        assert kept.headers["x-accel-expires"] == "5"
