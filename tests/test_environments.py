"""`drawbridge lock` and `drawbridge env create` against a running server and the test upstream."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from builders import make_noarch_python_conda, make_wheel
from conftest import BIN, Server, client_env, start_server

from drawbridge.channel.home import initialise_home
from drawbridge.environments.lockfile import read_lock

MACHINE_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

ENVIRONMENT = f"""\
name: prod
channels: [main, conda-forge]
dependencies:
  - python {MACHINE_PYTHON}.*
  - demo-conda
  - bridged-tool
  - pip:
    - pip-only>=1
"""


def drawbridge(*args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "drawbridge"), *args], capture_output=True, text=True, env=client_env(COLUMNS="200", **extra), timeout=600
    )  # fmt: skip


@pytest.fixture(scope="module")
def env_server(tmp_path_factory: pytest.TempPathFactory, upstream_channel: Path) -> Server:
    """A Drawbridge passing the test upstream on as `conda-forge`, holding a conda package,
    a bridged wheel, and wheels for the pip section (one of which conda already provides)."""
    root = tmp_path_factory.mktemp("env-server")
    mirror = root / "conda-forge"
    mirror.symlink_to(upstream_channel)
    home = initialise_home(root / "home")
    home.config_path.write_text(
        home.config_path.read_text().replace("upstream_conda = []", f'upstream_conda = ["{mirror}"]')
    )
    drop = root / "drop"
    make_wheel(drop, "bridged-tool", "2.0", requires_python=">=3.8",
               entry_points={"console_scripts": {"bridged-tool": "bridged_tool:main"}})
    make_wheel(drop, "pip-only", "1.0", requires=["pip-helper>=1", "bridged-tool>=2"])
    make_wheel(drop, "pip-helper", "1.5")
    make_wheel(drop, "linux-wheel", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64")
    subprocess.run([str(BIN / "drawbridge"), "channel", "create", "main", "--home", str(home.root)], check=True, capture_output=True)
    bridged = drawbridge("bridge", "--home", str(home.root), "--upstream-pypi", str(drop),
                         "--platform", "linux-64", "--python", MACHINE_PYTHON, "bridged-tool")
    assert bridged.returncode == 0, bridged.stdout + bridged.stderr
    server = start_server(home.root)
    server.publish(make_noarch_python_conda(root / "pkgs", "demo-conda", "1.0", "demo_conda"))
    server.publish(*(w for w in sorted(drop.glob("*.whl")) if not w.name.startswith("bridged_tool")))
    yield server
    server.stop()


def write_environment(folder: Path, text: str = ENVIRONMENT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "environment.yml"
    path.write_text(text)
    return path


def lock(server: Server, environment: Path, *args: str) -> subprocess.CompletedProcess:
    return drawbridge("lock", "--server", server.url, str(environment), *args)


@pytest.fixture(scope="module")
def locked(env_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    environment = write_environment(tmp_path_factory.mktemp("project"))
    result = lock(env_server, environment)
    assert result.returncode == 0, result.stdout + result.stderr
    return environment.parent / "drawbridge.lock"


def test_lock_pins_conda_and_pip_parts(locked: Path):
    platform_lock = read_lock(locked, "linux-64")
    conda = {r.name.normalized: str(r.version) for r in platform_lock.conda}
    assert conda["demo-conda"] == "1.0" and conda["bridged-tool"] == "2.0"
    assert conda["python"].startswith(MACHINE_PYTHON) and "pip" in conda
    assert all(r.url.startswith("http://127.0.0.1:") for r in platform_lock.conda), "everything through Drawbridge"
    assert any("/upstream/conda-forge/" in r.url for r in platform_lock.conda)
    pip = {p.name: p for p in platform_lock.pip}
    assert sorted(pip) == ["pip-helper", "pip-only"], "bridged-tool comes from conda, not pip"
    for package in pip.values():
        assert package.url.endswith(".whl") and len(package.sha256) == 64


def test_relock_with_nothing_changed_is_identical(env_server: Server, locked: Path):
    first = locked.read_bytes()
    again = lock(env_server, locked.parent / "environment.yml", "-o", str(locked.parent / "again.lock"))
    assert again.returncode == 0, again.stderr
    assert (locked.parent / "again.lock").read_bytes() == first


#: conda-meta fields that name the machine's package cache, not what was installed
CACHE_FIELDS = ("extracted_package_dir", "package_tarball_full_path", "link")


def _tree_digest(prefix: Path) -> dict[str, str]:
    """Every installed file but bytecode caches, with its content hash (conda-meta records
    without the fields naming the package cache)."""
    digests = {}
    for path in sorted(prefix.rglob("*")):
        if not path.is_file() or path.is_symlink() or "__pycache__" in path.parts:
            continue
        data = path.read_bytes()
        if path.parent.name == "conda-meta" and path.suffix == ".json":
            record = {k: v for k, v in json.loads(data).items() if k not in CACHE_FIELDS}
            data = json.dumps(record, sort_keys=True).encode()
        digests[str(path.relative_to(prefix))] = hashlib.sha256(data).hexdigest()
    return digests


def test_env_create_installs_the_lock_the_same_way_every_time(locked: Path, tmp_path: Path):
    prefix = tmp_path / "env"
    created = drawbridge("env", "create", "--lock", str(locked), "--prefix", str(prefix), "--cache-dir", str(tmp_path / "cache"))
    assert created.returncode == 0, created.stdout + created.stderr
    probe = (
        "import demo_conda, bridged_tool, pip_only, pip_helper, importlib.metadata as m;"
        "print(demo_conda.VALUE, bridged_tool.VALUE, pip_only.VALUE, pip_helper.VALUE,"
        "m.distribution('pip-only').read_text('INSTALLER').strip(),"
        "m.distribution('bridged-tool').read_text('INSTALLER').strip())"
    )
    ran = subprocess.run([str(prefix / "bin" / "python"), "-c", probe], capture_output=True, text=True, env=client_env())
    assert ran.stdout.split() == ["1.0", "2.0", "1.0", "1.5", "pip", "conda"], ran.stderr
    tool = subprocess.run([str(prefix / "bin" / "bridged-tool")], capture_output=True, text=True, env=client_env())
    assert tool.stdout.strip() == "bridged-tool 2.0 ok", tool.stderr
    first = _tree_digest(prefix)
    again = drawbridge("env", "create", "--lock", str(locked), "--prefix", str(prefix), "--cache-dir", str(tmp_path / "cache"))
    assert again.returncode == 0, again.stderr
    assert _tree_digest(prefix) == first, "a second run changes nothing"
    shutil.rmtree(prefix)
    fresh = drawbridge("env", "create", "--lock", str(locked), "--prefix", str(prefix), "--cache-dir", str(tmp_path / "cache2"))
    assert fresh.returncode == 0, fresh.stderr
    assert _tree_digest(prefix) == first, "a fresh install gives the same files"
