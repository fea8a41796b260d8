"""`drawbridge upstream add|list|remove`: a conda mirror connected with one command, checked on
the spot, written into drawbridge.toml with the operator's comments kept, served at once."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from clients import run_drawbridge
from databases import new_home
from servers import free_port, serve_in_process, static_http_server

from drawbridge.channel.home import load_home


@pytest.fixture
def http_mirror(tmp_path: Path, upstream_channel: Path) -> Iterator[str]:
    """The test upstream behind a plain HTTP server, at /conda/conda-forge."""
    root = tmp_path / "web"
    (root / "conda").mkdir(parents=True)
    (root / "conda" / "conda-forge").symlink_to(upstream_channel)
    with static_http_server(root) as httpd:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/conda/conda-forge/"


def test_add_checks_the_mirror_keeps_comments_and_is_served_at_once(
    tmp_path: Path, upstream_channel: Path, http_mirror: str
):
    home = new_home(tmp_path / "home").root
    config = home / "drawbridge.toml"
    config.write_text(config.read_text().replace("[bridge]", "[bridge]\n# ops: ticket OPS-42"))
    app = serve_in_process(home)  # a server already running: it must see the new mirror
    try:
        assert app.get("/api/channels").json()["upstream"] == {}
        added = run_drawbridge("upstream", "add", "corp", http_mirror, home=home)
        assert added.returncode == 0, added.stdout + added.stderr
        said = " ".join(added.stdout.split())
        machine_python = f"{sys.version_info.major}.{sys.version_info.minor}"
        assert "linux-64" in said and "noarch" in said, said
        assert f"python {machine_python}" in said or f", {machine_python} " in said, said
        assert "served at /upstream/corp/" in said
        folder = run_drawbridge("upstream", "add", "local", str(upstream_channel), home=home)
        assert folder.returncode == 0, folder.stderr
        text = config.read_text()
        assert "# ops: ticket OPS-42" in text, "the operator's comment survives"
        assert "# The company's conda mirror(s)" in text
        entries = tomllib.loads(text)["bridge"]["upstream_conda"]
        assert entries == [
            {"name": "corp", "url": http_mirror.rstrip("/")},
            {"name": "local", "url": str(upstream_channel)},
        ]
        assert list(load_home(home).bridge.upstream_conda) == entries
        listing = app.get("/api/channels").json()["upstream"]
        assert list(listing) == ["corp", "local"]
        repodata = app.get("/upstream/corp/linux-64/repodata.json")
        assert repodata.status_code == 200 and "python" in repodata.text
        listed = run_drawbridge("upstream", "list", home=home)
        assert listed.stdout.index("corp") < listed.stdout.index("local"), listed.stdout
        assert http_mirror.rstrip("/") in listed.stdout
        removed = run_drawbridge("upstream", "remove", "corp", home=home)
        assert removed.returncode == 0, removed.stderr
        assert list(app.get("/api/channels").json()["upstream"]) == ["local"]
        assert "# ops: ticket OPS-42" in config.read_text()
    finally:
        app.close()


def test_an_old_bare_location_keeps_working_beside_named_ones(
    tmp_path: Path, upstream_channel: Path
):
    home = new_home(tmp_path / "home").root
    config = home / "drawbridge.toml"
    config.write_text(
        config.read_text().replace(
            "upstream_conda = []", f'upstream_conda = ["{upstream_channel}"]'
        )
    )
    listed = run_drawbridge("upstream", "list", home=home)
    assert upstream_channel.name in listed.stdout, listed.stdout
    clash = run_drawbridge(
        "upstream", "add", upstream_channel.name, str(upstream_channel), home=home
    )
    assert clash.returncode == 1 and "already connected" in clash.stderr
    assert f"drawbridge upstream remove {upstream_channel.name}" in " ".join(clash.stderr.split())
    assert (
        run_drawbridge("upstream", "add", "second", str(upstream_channel), home=home).returncode
        == 0
    )
    with serve_in_process(home) as app:
        assert list(app.get("/api/channels").json()["upstream"]) == [
            upstream_channel.name,
            "second",
        ]
    assert run_drawbridge("upstream", "remove", upstream_channel.name, home=home).returncode == 0
    assert tomllib.loads(config.read_text())["bridge"]["upstream_conda"] == [
        {"name": "second", "url": str(upstream_channel)}
    ]


@pytest.mark.parametrize(
    ("location", "said"),
    [
        ("{tmp}/nowhere", "is not a folder"),
        ("{tmp}/empty", "has no repodata.json in any subdir"),
        ("http://127.0.0.1:{port}/conda-forge", "cannot reach http://127.0.0.1:"),
        ("{mirror}/linux-64", "has no repodata.json in any subdir"),
    ],
)
def test_a_mirror_that_cannot_serve_is_refused_and_nothing_is_written(
    tmp_path: Path, upstream_channel: Path, location: str, said: str
):
    home = new_home(tmp_path / "home").root
    (tmp_path / "empty").mkdir()
    before = (home / "drawbridge.toml").read_text()
    location = location.format(tmp=tmp_path, port=free_port(), mirror=upstream_channel)
    refused = run_drawbridge("upstream", "add", "corp", location, home=home)
    assert refused.returncode == 1, refused.stdout
    assert said in " ".join(refused.stderr.split()) and "Traceback" not in refused.stderr
    assert (home / "drawbridge.toml").read_text() == before


def test_names_that_cannot_be_served_and_unknown_removals(tmp_path: Path, upstream_channel: Path):
    home = new_home(tmp_path / "home").root
    bad = run_drawbridge("upstream", "add", "Corp/Mirror", str(upstream_channel), home=home)
    assert bad.returncode == 1 and "cannot name an upstream mirror" in bad.stderr
    missing = run_drawbridge("upstream", "remove", "nope", home=home)
    assert missing.returncode == 1 and "no upstream mirror named 'nope'" in missing.stderr
    empty = run_drawbridge("upstream", "list", home=home)
    assert "drawbridge upstream add NAME URL|FOLDER" in " ".join(empty.stderr.split())


def test_a_mirror_without_python_is_connected_with_a_warning(tmp_path: Path):
    from builders import make_conda_tar_bz2

    mirror = tmp_path / "tools"
    make_conda_tar_bz2(mirror / "linux-64", "sometool", "1.0", "0", "linux-64")
    import asyncio

    from rattler.index import index_fs

    asyncio.run(index_fs(mirror, force=True))
    home = new_home(tmp_path / "home").root
    added = run_drawbridge("upstream", "add", "tools", str(mirror), home=home)
    assert added.returncode == 0, added.stderr
    assert "has no python package" in " ".join(added.stderr.split())
    assert load_home(home).bridge.upstream_conda == [{"name": "tools", "url": str(mirror)}]
