"""grayskull writes recipes with no route to the internet (inside the air gap there is none).

The sdist here is built to make grayskull reach out everywhere it can on our path: a GitHub
home page and no licence file (api.github.com, then `git clone`), a licence name to match
(spdx.org, opensource.org), a dependency (api.anaconda.org) and a setup.py importing a
module that is not installed (`pip install`). Each run is in a network namespace of its
own (`unshare --net`), where nothing is reachable; sealed grayskull must still succeed, and
must not even try: every attempt would be reported by its audit hook.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from builders import make_sdist
from clients import BIN, client_env, run_drawbridge
from databases import init_arguments

from drawbridge.bridge.recipes.grayskull_offline import (
    REFUSED_MARK,
    network_namespace,
    refused_attempts,
    unresolved_imports,
)

pytestmark = pytest.mark.skipif(
    not network_namespace(), reason="no network namespace here (`unshare --net` refused)"
)

SETUP_PY = b"""
from setuptools import setup
try:
    import not_installed_helper  # grayskull would `pip install` what setup.py imports
except ImportError:
    pass
setup(
    name="reachout",
    version="1.0",
    url="https://github.com/example/reachout",
    license="MIT License",
    install_requires=["six>=1.10"],
    packages=["reachout"],
)
"""
PKG_INFO = b"""Metadata-Version: 2.1
Name: reachout
Version: 1.0
Summary: grayskull would reach out for everything about me
Home-page: https://github.com/example/reachout
License: MIT License
Requires-Dist: six>=1.10
"""


@pytest.fixture
def reachout(tmp_path: Path) -> Path:
    return make_sdist(
        tmp_path / "drop",
        "reachout",
        "1.0",
        members={
            "reachout-1.0/setup.py": SETUP_PY,
            "reachout-1.0/PKG-INFO": PKG_INFO,
            "reachout-1.0/pyproject.toml": b"",
        },
    )


def offline(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*network_namespace(), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=client_env(),
    )


def test_sealed_grayskull_writes_a_recipe_without_trying_the_network(
    reachout: Path, tmp_path: Path
):
    out = tmp_path / "out"
    out.mkdir()
    started = time.monotonic()
    result = offline(
        sys.executable,
        "-m",
        "drawbridge.bridge.recipes.grayskull_offline",
        "pypi",
        "--no-use-v1-format",
        "--strict-conda-forge",
        "-o",
        str(out),
        str(reachout),
        cwd=out,
    )
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert refused_attempts(result.stderr) == [], result.stderr  # not one attempt to reach out
    assert unresolved_imports(result.stderr) == ["not_installed_helper"]  # not pip-installed
    meta = (out / "reachout" / "meta.yaml").read_text()
    assert "license: MIT" in meta  # "MIT License" matched offline, from the SPDX list on disk
    assert "license_file: PLEASE_ADD_LICENSE_FILE" in meta  # left for the reviewer
    assert "six >=1.10" in meta and "AddYourGitHubIdHere" not in meta
    assert took < 60, f"grayskull took {took:.0f} s offline"


def test_grayskull_unsealed_fails_offline(reachout: Path, tmp_path: Path):
    """The control: the same sdist, grayskull as it comes, the same namespace: it fails on
    api.github.com as it did for jieba, so the test above proves the seal."""
    result = offline(
        str(BIN / "grayskull"),
        "pypi",
        "--no-use-v1-format",
        "-o",
        str(tmp_path),
        str(reachout),
        cwd=tmp_path,
    )
    assert result.returncode != 0 and "api.github.com" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("code", "refused"),
    [
        ("import socket; socket.getaddrinfo('pypi.org', 443)", "name lookup 'pypi.org'"),
        (
            "import socket; socket.socket().connect(('192.0.2.1', 443))",
            "connection to ('192.0.2.1', 443)",
        ),
        ("import subprocess; subprocess.run(['git', 'clone', 'x'])", "child process ['git'"),
        (
            "import subprocess, sys; subprocess.run([sys.executable, '-m', 'pip', 'install', 'x'])",
            "child process [",
        ),
        ("import requests; requests.get('https://api.github.com')", "name lookup"),
    ],
    ids=["lookup", "connect", "git", "pip", "requests"],
)
def test_the_seal_refuses_what_no_patch_covers(code: str, refused: str):
    """Whatever a future grayskull (or a setup.py) tries is refused and reported."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from drawbridge.bridge.recipes.grayskull_offline import seal; seal()\n{code}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=client_env(),
    )
    assert result.returncode != 0
    assert f"{REFUSED_MARK} {refused}" in result.stderr, result.stderr


def test_recipe_generate_runs_with_no_network(tmp_path: Path, reachout: Path):
    """`drawbridge recipe generate` from a drop folder, the whole command in a namespace
    with no network: a recipe, its licence left for the reviewer, marked."""
    home = tmp_path / "home"
    init = run_drawbridge("init", "--home", str(home), *init_arguments(unix_socket=True))
    assert init.returncode == 0, init.stderr
    result = offline(
        str(BIN / "drawbridge"),
        "recipe",
        "generate",
        "reachout",
        "--upstream-pypi",
        str(tmp_path / "drop"),
        "--home",
        str(home),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    recipe = (home / "recipes" / "reachout" / "recipe.yaml").read_text()
    assert "# REVIEW: licence file missing" in recipe and "'MIT License'" in recipe
    assert "license: MIT\n" in recipe
    # a module setup.py imports and nothing here provides: the reviewer decides, not a guess
    assert "# REVIEW: setup.py imports not_installed_helper" in recipe
    assert "- not_installed_helper" not in recipe
