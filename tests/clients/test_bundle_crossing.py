"""Across the gap with the real command and real clients: a bridged home exported, imported
into a home whose PyPI is unreachable, installed from with pip and py-rattler; an import
killed halfway goes on without reading its verified chunks again."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from builders import make_sdist, make_wheel
from clients import BIN, client_env, install_from_channels, pip_install, pyenv_python, run_with_path
from clients import run_drawbridge
from databases import new_home
from served_state import as_listed, served_bytes
from servers import start_server

from drawbridge.channel.database import Database
from drawbridge.channel.faults import CRASH_SAID, CRASH_VARIABLE
from drawbridge.channel.home import Home, load_home
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token

PYTHONS = {"3.9": "3.9.18", "3.12": "3.12.1"}


def configure(home: Home, upstream_pypi: str, upstream_conda: Path) -> None:
    config = home.config_path.read_text()
    for old, new in (
        ("upstream_conda = []", f'upstream_conda = ["{upstream_conda.as_uri()}"]'),
        ('pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]', 'pythons = ["3.9", "3.12"]'),
        (
            'platforms = ["linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"]',
            'platforms = ["linux-64"]',
        ),
        ("upstream_pypi = ", f'upstream_pypi = "{upstream_pypi}"\n# was: '),
    ):
        assert old in config, old
        config = config.replace(old, new)
    home.config_path.write_text(config)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory, upstream_39_312: Path) -> Home:
    """Home A, bridged from a drop folder: a pure project, a binary one whose targets get
    different versions (3.9: 1.0, 3.12: 2.0), and an sdist-only one built from a recipe."""
    root = tmp_path_factory.mktemp("outside")
    drop = root / "drop"
    make_wheel(drop, "pure-thing", "1.0", requires=["binary-thing"])
    make_wheel(drop, "binary-thing", "1.0", tag="cp39-cp39-manylinux_2_17_x86_64")
    make_wheel(drop, "binary-thing", "2.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    make_sdist(drop, "built-thing", "1.0", members={"built_thing-1.0/pyproject.toml": b""})
    home = new_home(root / "home")
    configure(home, str(drop), upstream_39_312)
    database = Database(home.database_url)
    Channels(home, database).create("main")
    token = create_token(database, "mia", Role.maintainer)
    database.close()
    ok(run_drawbridge("bridge", "pure-thing", home=home.root))
    ok(run_drawbridge("recipe", "generate", "built-thing", home=home.root))
    ok(
        run_drawbridge(
            "recipe", "approve", "built-thing", "--comment", "fine", token=token, home=home.root
        )
    )
    ok(run_drawbridge("build", "built-thing", home=home.root))
    ok(run_drawbridge("bundle", "keygen", home=home.root))
    return load_home(home.root)


def inside_home(root: Path, outside: Home, upstream_conda: Path) -> Home:
    """Home B: its PyPI unreachable, trusting A's key."""
    home = new_home(root)
    configure(home, "http://127.0.0.1:9/simple/", upstream_conda)
    ok(run_drawbridge("bundle", "keygen", home=home.root))
    (home.root / "keys" / "trusted").mkdir()
    shutil.copy(outside.signing_key_path.with_suffix(".pub"), home.root / "keys/trusted/a.pub")
    return load_home(home.root)


def test_a_bridged_channel_crosses_and_installs_with_pip_and_rattler(
    outside: Home, upstream_39_312: Path, tmp_path: Path
):
    bundle = tmp_path / "bundle"
    said = ok(
        run_drawbridge(
            "bundle", "export", "-o", str(bundle), "--chunk-size", "8K", home=outside.root
        )
    )
    assert "signed by key" in said
    inside = inside_home(tmp_path / "inside", outside, upstream_39_312)

    ok(run_drawbridge("bundle", "import", str(bundle), home=inside.root))

    assert as_listed(served_bytes(inside)) == as_listed(served_bytes(outside))
    adopted = ok(run_drawbridge("recipe", "list", home=inside.root))
    assert re.search(r"built-thing.*built", adopted), adopted
    server = start_server(inside.root)
    try:
        target = tmp_path / "pip-312"
        ok(
            pip_install(
                f"{server.url}/main/simple/",
                target,
                "pure-thing",
                "built-thing",  # the wheel the recipe build made on the way
                python=pyenv_python(PYTHONS["3.12"]),
            )
        )
        assert (
            run_with_path(
                target,
                "import binary_thing, built_thing; print(binary_thing.VALUE, built_thing.VALUE)",
                pyenv_python(PYTHONS["3.12"]),
            )
            == "2.0 1.0"
        )
        for python, version in (("3.9", "1.0"), ("3.12", "2.0")):
            installed = install_from_channels(
                [f"{server.url}/main/conda", upstream_39_312],
                [f"python {python}.*", "pure-thing", "built-thing"],
                tmp_path / f"env-{python}",
                tmp_path / "pkgs",
            )
            assert {f"binary-thing={version}", "pure-thing=1.0", "built-thing=1.0"} <= set(
                installed
            )
    finally:
        server.stop()


def test_an_import_killed_halfway_goes_on_without_rereading(
    outside: Home, upstream_39_312: Path, tmp_path: Path
):
    bundle = tmp_path / "bundle"
    ok(
        run_drawbridge(
            "bundle", "export", "-o", str(bundle), "--chunk-size", "3K", home=outside.root
        )
    )
    sizes = [p.stat().st_size for p in sorted((bundle / "chunks").glob("*.bin"))]
    assert len(sizes) >= 4
    inside = inside_home(tmp_path / "inside", outside, upstream_39_312)
    killed = subprocess.run(
        [str(BIN / "drawbridge"), "bundle", "import", str(bundle), "--home", str(inside.root)],
        env=client_env(**{CRASH_VARIABLE: "bundle-chunk#2"}),
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -9 and CRASH_SAID in killed.stderr, killed.stderr

    again = ok(run_drawbridge("bundle", "import", str(bundle), home=inside.root))

    assert f"read {sum(sizes[2:])} bytes ({len(sizes) - 2} chunk(s); 2 verified before)" in again
    uninterrupted = inside_home(tmp_path / "uninterrupted", outside, upstream_39_312)
    ok(run_drawbridge("bundle", "import", str(bundle), home=uninterrupted.root))
    assert as_listed(served_bytes(inside)) == as_listed(served_bytes(uninterrupted))


def test_an_export_of_requirements_carries_their_closure_and_names_what_is_missing(
    outside: Home, tmp_path: Path
):
    make_wheel(outside.root.parent / "drop", "never-bridged", "0.3")
    bundle = tmp_path / "bundle"
    said = ok(
        run_drawbridge(
            "bundle", "export", "-o", str(bundle), "pure-thing", "never-bridged", home=outside.root
        )
    )
    manifest = json.loads((bundle / "manifest.json").read_text())
    names = sorted(f["name"] for f in manifest["files"])
    channels = Channels(outside, Database(outside.database_url))
    closure = sorted(
        [
            row.filename
            for p in ("pure-thing", "binary-thing")
            for row in channels.project_files("main", p)
        ]
        + [
            row.filename
            for row in channels.conda_packages("main")
            if row.name in ("pure-thing", "binary-thing")
        ]
    )
    assert names == closure
    assert "never-bridged 0.3: never_bridged-0.3-py3-none-any.whl not in channel 'main'" in said
    assert "drawbridge bridge --channel main 'never-bridged==0.3'" in said
    assert manifest["missing"] and "never-bridged" in manifest["missing"][0]
