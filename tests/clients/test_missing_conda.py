"""Every place that needs a conda package the channels lack names it and says how to provide
it: `build`, `lock` and `request approve`; a request for something that is not a PyPI
project ends as *failed* with the reason, never as approved or bridged."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from builders import make_sdist, make_wheel
from clients import run_drawbridge
from databases import new_home
from servers import Server, serve_in_process, start_server

from drawbridge.channel.database import Database
from drawbridge.channel.home import load_home
from drawbridge.channel.tokens import Role, create_token

MACHINE_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def said(result: subprocess.CompletedProcess) -> str:
    return " ".join((result.stdout + result.stderr).split())


@pytest.fixture
def bare_home(tmp_path: Path) -> Path:
    """A fresh home, as `init` makes it (no conda mirror), reading PyPI from a drop folder."""
    home = new_home(tmp_path / "home")
    drop = tmp_path / "drop"
    make_sdist(drop, "sdist-demo", "1.0")
    make_wheel(drop, "pip-part", "1.0")
    home.config_path.write_text(
        home.config_path.read_text()
        .replace('upstream_pypi = "https://pypi.org/simple/"', f'upstream_pypi = "{drop}"')
        .replace(
            'pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]', f'pythons = ["{MACHINE_PYTHON}"]'
        )
    )
    assert run_drawbridge("channel", "create", "main", "--home", str(home.root)).returncode == 0
    return home.root


def test_build_names_what_no_channel_has_and_builds_once_a_mirror_is_connected(
    bare_home: Path, upstream_channel: Path
):
    maintainer = create_token(Database(load_home(bare_home).database_url), "mia", Role.maintainer)
    assert (
        run_drawbridge("recipe", "generate", "sdist-demo", "--home", str(bare_home)).returncode == 0
    )
    approved = run_drawbridge(
        "recipe", "approve", "sdist-demo", "--home", str(bare_home), token=maintainer
    )
    assert approved.returncode == 0, said(approved)
    failed = run_drawbridge("build", "--home", str(bare_home))
    assert failed.returncode == 1
    text = said(failed)
    needs = re.search(r"needs python, ([a-z, ]+), which no channel has", text)
    assert needs and "pip" in needs.group(1).split(", "), text
    assert "no conda mirror is connected" in text
    assert "drawbridge upstream add NAME URL|FOLDER" in text
    assert "Failed to resolve dependencies" not in text and "…" not in text
    log = run_drawbridge("recipe", "log", "sdist-demo", "--home", str(bare_home))
    assert needs.group(0) in said(log)
    added = run_drawbridge(
        "upstream", "add", "conda-forge", str(upstream_channel), "--home", str(bare_home)
    )
    assert added.returncode == 0, said(added)
    built = run_drawbridge("build", "--home", str(bare_home))
    assert built.returncode == 0, said(built)
    assert "built" in run_drawbridge("recipe", "list", "--home", str(bare_home)).stdout


@pytest.fixture
def bare_server(bare_home: Path) -> Server:
    running = start_server(bare_home)
    yield running
    running.stop()


def test_lock_without_a_mirror_says_to_connect_one_and_requests_only_what_bridging_can_give(
    bare_server: Server, tmp_path: Path
):
    environment = tmp_path / "project" / "environment.yml"
    environment.parent.mkdir()
    environment.write_text(
        f"channels: [main]\ndependencies:\n  - python {MACHINE_PYTHON}.*\n  - somelib\n"
        "  - pip:\n    - pip-part\n"
    )
    refused = run_drawbridge("lock", "--server", bare_server.url, str(environment), "--request")
    assert refused.returncode == 1
    text = said(refused)
    assert f"python {MACHINE_PYTHON}.*, pip: a Python interpreter" in text, text
    assert "it passes on no conda mirror yet" in text
    assert (
        "connect a conda mirror that has python: `drawbridge upstream add NAME URL|FOLDER`" in text
    )
    requested = httpx.get(f"{bare_server.url}/api/requests").json()
    assert sorted((r["kind"], r["name"]) for r in requested) == [
        ("conda", "somelib"),  # bridging may provide these two,
        ("pip", "pip-part"),  # never python, nor pip while python is missing
    ]


def test_a_request_for_python_fails_with_the_reason(bare_home: Path):
    database = Database(load_home(bare_home).database_url)
    maintainer = create_token(database, "mia", Role.maintainer)
    with serve_in_process(bare_home) as app:
        for body in (
            {
                "kind": "conda",
                "name": "python",
                "spec": "python 3.12.*",
                "reason": "not in any channel",
            },
            {"kind": "pip", "name": "no-such-project", "spec": "no-such-project>=1"},
        ):
            assert app.post("/api/requests", json=body).status_code == 201
        home = ("--home", str(bare_home))
        python = run_drawbridge("request", "approve", "1", *home, token=maintainer)
        assert python.returncode == 1
        assert "python is not a PyPI project" in said(python)
        assert "drawbridge upstream add NAME URL|FOLDER" in said(python)
        unknown = run_drawbridge("request", "approve", "2", *home, token=maintainer)
        assert unknown.returncode == 1
        assert "no project 'no-such-project'" in said(unknown)
        listed = run_drawbridge("request", "list", *home, "--state", "failed")
        assert "python 3.12.*" in listed.stdout and "no-such-project" in listed.stdout
        assert "failed by mia" in said(listed) and "not a PyPI project" in said(listed)
        assert "approved" not in run_drawbridge("request", "list", *home).stdout
        page = app.get("/ui/requests").text
        assert page.count("class='failed'") == 2 and "python is not a PyPI project" in page
        assert "class='approved'" not in page
