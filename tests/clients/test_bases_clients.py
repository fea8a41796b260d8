"""Channels that inherit, through real clients and a real server: pip and uv install an
ancestor's package through a descendant's URL (3 levels), py-rattler solves through
company/dev what company/base holds, the nearest file of a name wins for pip and rattler,
and an HTTP upstream mirror as a base serves its packages through the channel.

The tree is built with the `drawbridge` command, as an operator would:

```
company/base        <- base-lib 1.0 (wheel), base-lib 1.1 (yanked), basetool (conda)
└── company/internal    <- internal-tool (needs base-lib)
    └── company/dev     <- dev-app (needs internal-tool); shadow and shade, nearer
customer/release    <- flat: sees nothing of the others
```
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from builders import make_conda_tar_bz2, make_noarch_python_conda, make_wheel
from clients import (
    imported_value,
    install_records,
    pip_install,
    run_drawbridge,
    run_with_path,
    solve,
    uv_install,
)
from databases import init_arguments
from relay import Relay
from servers import Server, start_server, static_http_server

from drawbridge.channel.database import Database
from drawbridge.channel.home import load_home
from drawbridge.channel.service import Channels

HTML_ONLY = "text/html"


def _cli(home: Path, *args: str) -> None:
    done = run_drawbridge(*args, home=home)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Path]]]:
    folder = tmp_path_factory.mktemp("bases")
    home = folder / "home"
    done = run_drawbridge("init", *init_arguments(), home=home)
    assert done.returncode == 0, done.stderr
    _cli(home, "channel", "create", "company/base")
    _cli(home, "channel", "create", "company/internal", "--base", "company/base")
    _cli(home, "channel", "create", "company/dev", "--base", "company/internal")
    _cli(home, "channel", "create", "customer/release")
    files = {
        "base-lib": make_wheel(folder / "w", "base-lib", "1.0"),
        "base-lib-yanked": make_wheel(folder / "w", "base-lib", "1.1"),
        "internal-tool": make_wheel(folder / "w", "internal-tool", "2.0", requires=["base-lib"]),
        "dev-app": make_wheel(folder / "w", "dev-app", "0.1", requires=["internal-tool"]),
        "shadow-far": make_wheel(
            folder / "far", "shadow", "1.0", extra_entries={"shadow_origin.py": b"WHERE = 'base'\n"}
        ),
        "shadow-near": make_wheel(
            folder / "near", "shadow", "1.0", extra_entries={"shadow_origin.py": b"WHERE = 'dev'\n"}
        ),
        "basetool": make_noarch_python_conda(folder / "c", "basetool", "1.0", "basetool"),
        "shade-far": make_conda_tar_bz2(
            folder / "far", "shade", "1.0", members={"share/shade/origin": b"base"}
        ),
        "shade-near": make_conda_tar_bz2(
            folder / "near", "shade", "1.0", members={"share/shade/origin": b"dev"}
        ),
    }
    for channel, names in (
        ("company/base", ["base-lib", "base-lib-yanked", "shadow-far", "basetool", "shade-far"]),
        ("company/internal", ["internal-tool"]),
        ("company/dev", ["dev-app", "shadow-near", "shade-near"]),
    ):
        _cli(home, "publish", "--channel", channel, *(str(files[name]) for name in names))
    loaded = load_home(home)
    database = Database(loaded.database_url)
    Channels(loaded, database).yank("company/base", files["base-lib-yanked"].name, "broken")
    database.close()
    server = start_server(home)
    yield server, files
    server.stop()


def _index(server_url: str, channel: str) -> str:
    """`channel`'s pip index on the server (or relay) at `server_url`."""
    return f"{server_url}/{channel}/simple/"


@pytest.mark.parametrize("pages", ["negotiated", "html"])
def test_pip_installs_through_three_levels(tree, tmp_path: Path, pages: str):
    """dev-app (company/dev) needs internal-tool (company/internal), which needs base-lib
    (company/base): all from the dev URL; base-lib 1.1 is yanked in the base, so 1.0."""
    server, _files = tree
    with Relay(server.url, accept=HTML_ONLY if pages == "html" else None) as relay:
        done = pip_install(_index(relay.url, "company/dev"), tmp_path / "t", "dev-app", "shadow")
    assert done.returncode == 0, done.stdout + done.stderr
    target = tmp_path / "t"
    assert imported_value(target, "base_lib") == "1.0"
    assert imported_value(target, "internal_tool") == "2.0"
    assert run_with_path(target, "import shadow_origin; print(shadow_origin.WHERE)") == "dev"
    expected = "application/vnd.pypi.simple.v1+json" if pages == "negotiated" else HTML_ONLY
    assert {t.split(";")[0] for t in relay.page_types("base-lib")} == {expected}, relay.relayed


def test_pip_on_a_middle_level_gets_the_far_shadow_and_never_the_near_level(tree, tmp_path):
    server, _files = tree
    done = pip_install(_index(server.url, "company/internal"), tmp_path / "t", "shadow")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        run_with_path(tmp_path / "t", "import shadow_origin; print(shadow_origin.WHERE)") == "base"
    )
    refused = pip_install(_index(server.url, "company/internal"), tmp_path / "u", "dev-app")
    assert refused.returncode != 0


def test_pip_on_the_customer_url_cannot_see_internal_projects(tree, tmp_path: Path):
    server, _files = tree
    assert httpx.get(f"{server.url}/customer/release/simple/base-lib/").status_code == 404
    refused = pip_install(_index(server.url, "customer/release"), tmp_path / "t", "base-lib")
    assert refused.returncode != 0


def test_uv_installs_through_three_levels(tree, tmp_path: Path):
    """uv reads the PEP 691 JSON pages and PEP 658 metadata through the dev URL."""
    server, _files = tree
    with Relay(server.url) as relay:
        done = uv_install(
            _index(relay.url, "company/dev"),
            tmp_path / "t",
            "dev-app",
            "shadow",
            extra=["--no-cache"],
        )
    assert done.returncode == 0, done.stdout + done.stderr
    target = tmp_path / "t"
    assert imported_value(target, "base_lib") == "1.0"
    assert run_with_path(target, "import shadow_origin; print(shadow_origin.WHERE)") == "dev"
    paths = [path for path, _accept, _type in relay.relayed]
    assert any(path.endswith(".metadata") for path in paths), paths  # PEP 658, inherited


def test_py_rattler_solves_through_dev_what_base_holds_nearest_first(
    tree, tmp_path: Path, upstream_channel: Path
):
    server, files = tree
    channels = [f"{server.url}/company/dev/conda", upstream_channel.as_uri()]
    records = solve(channels, ["basetool", "shade", "python 3.11.*"])
    chosen = {r.name.normalized: r for r in records}
    assert chosen["basetool"].url.startswith(f"{server.url}/company/dev/conda/noarch/")
    near = files["shade-near"].read_bytes()
    assert chosen["shade"].sha256 == hashlib.sha256(near).digest()
    prefix = tmp_path / "env"
    install_records(records, prefix, tmp_path / "cache")
    assert (prefix / "share/shade/origin").read_bytes() == b"dev"
    assert list(prefix.glob("lib/python3.11/site-packages/basetool/__init__.py"))


@pytest.fixture
def http_mirror(tmp_path: Path, upstream_channel: Path) -> Iterator[str]:
    """The test upstream served by a plain HTTP server at /conda-forge/."""
    root = tmp_path / "mirror-root"
    root.mkdir()
    (root / "conda-forge").symlink_to(upstream_channel)
    with static_http_server(root) as httpd:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/conda-forge"


def test_an_upstream_mirror_as_a_base_serves_ours_plus_its_packages_at_one_url(
    tmp_path: Path, http_mirror: str
):
    home = tmp_path / "home"
    assert run_drawbridge("init", *init_arguments(), home=home).returncode == 0
    _cli(home, "upstream", "add", "conda-forge", http_mirror)
    _cli(home, "channel", "create", "company/base")
    _cli(
        home,
        "channel",
        "create",
        "company/dev",
        "--base",
        "company/base",
        "--base",
        "upstream:conda-forge",
    )
    tool = make_noarch_python_conda(tmp_path / "c", "basetool", "1.0", "basetool")
    _cli(home, "publish", "--channel", "company/base", str(tool))
    server = start_server(home)
    try:
        dev = f"{server.url}/company/dev/conda"
        records = solve([dev], ["basetool", "python 3.11.*"])
        chosen = {r.name.normalized: r for r in records}
        assert chosen["python"].url.startswith(f"{dev}/linux-64/python-3.11")
        assert chosen["basetool"].url.startswith(f"{dev}/noarch/")
        prefix = tmp_path / "env"
        install_records(records, prefix, tmp_path / "cache")
        assert (prefix / "bin/python3.11").exists()
        cached = home / "cache" / "upstream-conda" / "conda-forge" / "linux-64"
        assert (cached / "repodata.json").is_file()  # through the relay's cache
        assert list(cached.glob("python-3.11*"))
        # a channel with a mirror among its levels offers no shard index: clients read
        # repodata.json, which holds everything
        assert httpx.get(f"{dev}/linux-64/repodata_shards.msgpack.zst").status_code == 404
    finally:
        server.stop()


def test_a_cli_publish_into_the_base_reaches_both_workers_at_the_next_request(tree, tmp_path):
    """Another process publishes into company/base; each of the server's two workers
    answers the descendant's next conditional request with the new page (no index run)."""
    server, _files = tree
    url = f"{server.url}/company/dev/simple/late/"
    repodata_url = f"{server.url}/company/dev/conda/noarch/repodata.json"
    assert httpx.get(url).status_code == 404
    before = httpx.get(repodata_url)
    wheel = make_wheel(tmp_path / "w", "late", "1.0")
    package = make_conda_tar_bz2(tmp_path / "c", "late-tool", "1.0")
    _cli(server.home.root, "publish", "--channel", "company/base", str(wheel), str(package))
    for _ in range(8):  # new connections: both workers answer some of them
        page = httpx.get(url)
        assert page.status_code == 200 and wheel.name in page.text
        again = httpx.get(repodata_url, headers={"If-None-Match": before.headers["etag"]})
        assert again.status_code == 200 and package.name in again.json()["packages"]
