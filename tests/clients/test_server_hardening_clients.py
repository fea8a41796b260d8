"""The server's edges where a real `drawbridge serve` is the point: its HTTP parser meets
hostile URLs first, an unexpected error is a page without a traceback, an upload leaves no
file to the garbage collector, role names read right on the command line, and the OpenAPI
document has one operation per route and method.

The in-process half is `http/test_server_hardening.py`."""

from __future__ import annotations

import gc
import sys
import warnings
from pathlib import Path

import pytest
from builders import make_conda_tar_bz2, make_sdist, make_wheel
from servers import serve_in_process, start_server

from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.upstream.pypi import FolderUpstream
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.channel.database import Database
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.home import load_home
from drawbridge.channel.tokens import Role
from drawbridge.cli.context import CliContext
from hostile_urls import assert_no_server_error, fuzzed_targets, hostile_targets


WHEEL = "demo-1.0-py3-none-any.whl"


RECIPE = "sdist-demo"


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
        Role.uploader: "an uploader",
        Role.maintainer: "a maintainer",
        Role.admin: "an admin",
    }


def test_the_command_line_names_an_uploader_as_such(tmp_path: Path):
    with serve_in_process(tmp_path / "home") as server:
        uploader = server.token(Role.uploader, "ulla")
    with pytest.raises(ChannelError, match="ulla is an uploader$"):
        CliContext(load_home(tmp_path / "home")).decider(uploader, "recipes")


def test_hostile_urls_against_a_real_server(tmp_path: Path):
    """The same table over TCP to `drawbridge serve` (granian decoding the URLs, the fast
    path streaming files): no 5xx, and no traceback in the server's log."""
    server = start_server(tmp_path / "home")
    try:
        drop = tmp_path / "drop"
        server.publish(
            make_wheel(drop, "demo", "1.0"), make_conda_tar_bz2(drop, "democonda", "1.0")
        )
        for method, target in hostile_targets() + fuzzed_targets(150, seed=12):
            assert_no_server_error(server.raw_request(method, target), method, target)
        assert server.raw_request("GET", f"/main/files/{WHEEL}".encode()).status == 200
    finally:
        server.stop()
    log = (tmp_path / f"server-{server.url.rsplit(':', 1)[1]}.log").read_text()
    assert "Traceback" not in log and " 500 " not in log


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
