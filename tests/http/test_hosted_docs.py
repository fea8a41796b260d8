"""Hosted documentation: a release's docs zip checked like any archive, served under its
channel with the channel's read rule and a sandboxing CSP, linked from the project's page,
carried by promotion; the devpi-style `:action=doc_upload` too."""

from __future__ import annotations

from pathlib import Path

import pytest
from bombs import wheel_data_bomb
from builders import DOCS_SITE, make_docs_zip, make_wheel
from servers import AppClient

from drawbridge.channel.accounts import Accounts
from drawbridge.channel.releases import ReleaseSpec
from drawbridge.channel.tokens import Role


def upload(client: AppClient, token: str, path: Path, channel: str = "main") -> None:
    """Publish `path` over HTTP with `token`: its user owns the project."""
    with path.open("rb") as handle:
        answer = client.post(
            f"/{channel}/upload/", files={"content": (path.name, handle)}, auth=("__token__", token)
        )
    assert answer.status_code == 200, answer.text


def put_docs(client: AppClient, token: str, archive: Path, channel: str = "main"):  # type: ignore[no-untyped-def]
    with archive.open("rb") as handle:
        return client.post(
            f"/{channel}/docs/demo/1.0/",
            files={"content": ("docs.zip", handle)},
            auth=("__token__", token),
        )


@pytest.fixture
def client(app_client: AppClient, tmp_path: Path) -> AppClient:
    app_client.uploader = app_client.token(Role.uploader)  # type: ignore[attr-defined]
    upload(app_client, app_client.uploader, make_wheel(tmp_path, "demo", "1.0"))  # type: ignore[attr-defined]
    return app_client


def served_files(client: AppClient) -> list[Path]:
    return sorted((client.home.channel("main").root / "docs").rglob("*.*"))


@pytest.mark.parametrize(
    "members, refusal",
    [
        ({"../escape.html": b"x", "index.html": b"x"}, "climbs out of the archive"),
        ({"/etc/cron.d/x": b"x", "index.html": b"x"}, "absolute path"),
        ({"readme.txt": b"no index"}, "no index.html at the top"),
    ],
)
def test_a_bad_docs_zip_is_refused_and_nothing_is_kept(
    client: AppClient, tmp_path: Path, members: dict, refusal: str
):
    answer = put_docs(client, client.uploader, make_docs_zip(tmp_path, members))  # type: ignore[attr-defined]
    assert answer.status_code == 400 and refusal in answer.json()["detail"]
    assert served_files(client) == []
    assert client.get("/main/docs/demo/1.0/").status_code == 404


def test_a_zip_bomb_is_refused(client: AppClient, tmp_path: Path):
    answer = put_docs(client, client.uploader, wheel_data_bomb(tmp_path / "bomb"))  # type: ignore[attr-defined]
    assert answer.status_code == 400 and "decompression bomb" in answer.json()["detail"]
    assert served_files(client) == []


def test_docs_are_served_sandboxed_linked_and_promoted(client: AppClient, tmp_path: Path):
    assert put_docs(client, client.token(Role.reader), make_docs_zip(tmp_path)).status_code == 403
    uploaded = put_docs(client, client.uploader, make_docs_zip(tmp_path, prefix="html/"))  # type: ignore[attr-defined]
    assert uploaded.status_code == 200, uploaded.text
    for path in ("/main/docs/demo/1.0/", "/main/docs/demo/latest/"):
        page = client.get(path)
        assert page.status_code == 200 and page.content == DOCS_SITE["index.html"]
        csp = page.headers["content-security-policy"]
        assert "sandbox allow-scripts" in csp and "allow-same-origin" not in csp
    assert client.get("/main/docs/demo/1.0/_static/docs.js").content == DOCS_SITE["_static/docs.js"]
    assert client.get("/main/docs/demo/1.0", follow_redirects=False).status_code == 308
    assert client.get("/main/docs/demo/1.0/%2e%2e/%2e%2e/").status_code in (400, 404)
    assert client.get("/main/docs/demo/2.0/").status_code == 404
    project = client.get("/main/pypi/demo/")
    assert "href='/main/docs/demo/1.0/'" in project.text
    assert "href='/main/docs/demo/latest/'" in project.text
    assert client.get("/docs").status_code == 200  # /docs stays the API's documentation

    channels = client.channels
    channels.create("prod")
    channels.promote(
        "main", "prod", channels.release_rows("main", [ReleaseSpec("demo")]), False, "ci", ""
    )
    assert client.get("/prod/docs/demo/1.0/api.html").content == DOCS_SITE["api.html"]


def test_devpi_style_doc_upload_and_private_channels(client: AppClient, tmp_path: Path):
    channels = client.channels
    Accounts(channels.db).create_user("rita")
    channels.create("hidden")
    channels.access.set_permissions("hidden", read=["user:rita"], upload=["user:rita"])
    rita = client.token(Role.uploader, "rita")
    upload(client, rita, make_wheel(tmp_path, "demo", "1.0"), channel="hidden")
    with make_docs_zip(tmp_path).open("rb") as handle:
        answer = client.post(
            "/hidden/upload/",
            data={":action": "doc_upload", "name": "demo", "version": "1.0"},
            files={"content": ("demo-1.0.doc.zip", handle)},
            auth=("__token__", rita),
        )
    assert answer.status_code == 200, answer.text
    assert client.get("/hidden/docs/demo/1.0/").status_code == 404  # anonymous
    shown = client.get("/hidden/docs/demo/1.0/", auth=("__token__", rita))
    assert shown.status_code == 200 and shown.content == DOCS_SITE["index.html"]
