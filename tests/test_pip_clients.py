"""Real pip (Python 2.7 to 3.13), uv and twine against a running Drawbridge."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from builders import make_sdist, make_wheel
from conftest import BIN, PYENV, Server, client_env, start_server

from drawbridge.server.auth import Role


def _python3_versions() -> list[str]:
    found = [p.name for p in PYENV.glob("3.*") if (p / "bin" / "python").exists()]
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


PY3 = _python3_versions()
MACHINE = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
#: the machine's Python, the newest and the oldest pyenv Pythons present
CLIENT_PYTHONS = sorted({v for v in (MACHINE, PY3[-1] if PY3 else None, PY3[0] if PY3 else None) if v and (PYENV / v).exists()})
PY27 = PYENV / "2.7.18" / "bin" / "python"


@pytest.fixture(scope="module")
def index(module_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Server:
    folder = tmp_path_factory.mktemp("dists")
    module_server.publish(
        make_wheel(folder, "pure-demo", "1.0", requires_python=">=3.6"),
        make_wheel(folder, "with-deps", "1.0", requires=["pure-demo>=1.0"], requires_python=">=3.6"),
        make_wheel(folder, "picky", "1.0"),
        make_wheel(folder, "picky", "2.0", requires_python=">=3.99"),
        make_wheel(folder, "only-future", "1.0", requires_python=">=3.99"),
        make_wheel(folder, "twoway", "1.0", tag="py2.py3-none-any"),
    )
    return module_server


def pip_install(python: Path, server: Server, target: Path, *requirements: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "pip", "install", "--no-cache-dir", "--target", str(target), "--index-url",
         f"{server.url}/main/simple/", *requirements],
        env=client_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def imported_value(python: Path, target: Path, module: str) -> str:
    result = subprocess.run(
        [str(python), "-c", f"import {module}; print({module}.VALUE)"],
        env=client_env(PYTHONPATH=str(target)), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


@pytest.mark.parametrize("version", CLIENT_PYTHONS)
def test_pip_installs_pure_wheel_with_dependencies(index: Server, tmp_path: Path, version: str):
    python = PYENV / version / "bin" / "python"
    result = pip_install(python, index, tmp_path / "t", "with-deps")
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(python, tmp_path / "t", "with_deps") == "1.0"
    assert imported_value(python, tmp_path / "t", "pure_demo") == "1.0"


@pytest.mark.parametrize("version", CLIENT_PYTHONS)
def test_pip_honours_requires_python(index: Server, tmp_path: Path, version: str):
    python = PYENV / version / "bin" / "python"
    result = pip_install(python, index, tmp_path / "t", "picky")
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(python, tmp_path / "t", "picky") == "1.0"  # 2.0 excludes this Python
    refused = pip_install(python, index, tmp_path / "u", "only-future")
    assert refused.returncode != 0
    assert "No matching distribution" in refused.stdout + refused.stderr


@pytest.mark.skipif(not PY27.exists(), reason="no pyenv Python 2.7.18")
def test_python27_pip19_installs_py2_py3_wheel(index: Server, tmp_path: Path):
    version = subprocess.run([str(PY27), "-m", "pip", "--version"], capture_output=True, text=True, env=client_env())
    assert version.stdout.startswith("pip 19"), version.stdout + version.stderr
    result = pip_install(PY27, index, tmp_path / "t", "twoway")
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(PY27, tmp_path / "t", "twoway") == "1.0"
    # pure-demo needs Python >= 3.6: pip 19 reads data-requires-python and finds nothing.
    assert pip_install(PY27, index, tmp_path / "u", "pure-demo").returncode != 0


def test_uv_installs_from_the_index(index: Server, tmp_path: Path):
    result = subprocess.run(
        [str(BIN / "uv"), "pip", "install", "--python", sys.executable, "--target", str(tmp_path / "t"),
         "--index-url", f"{index.url}/main/simple/", "with-deps", "picky"],
        env=client_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(Path(sys.executable), tmp_path / "t", "with_deps") == "1.0"
    assert imported_value(Path(sys.executable), tmp_path / "t", "picky") == "1.0"


def test_twine_uploads_and_pip_installs_the_upload(index: Server, tmp_path: Path):
    dist = tmp_path / "dist"
    make_wheel(dist, "twined", "0.1", requires_python=">=3.6")
    make_sdist(dist, "twined", "0.1")
    token = index.token(Role.uploader, "ci-bot")
    upload = subprocess.run(
        [str(BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", f"{index.url}/main/upload/", "-u", "__token__", "-p", token,
         *map(str, sorted(dist.iterdir()))],
        env=client_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert upload.returncode == 0, upload.stdout + upload.stderr
    again = subprocess.run(
        [str(BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", f"{index.url}/main/upload/", "-u", "__token__", "-p", token,
         str(next(dist.glob("*.whl")))],
        env=client_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode != 0 and "409" in again.stdout + again.stderr
    result = pip_install(Path(sys.executable), index, tmp_path / "t", "twined")
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(Path(sys.executable), tmp_path / "t", "twined") == "0.1"


def test_pip_with_a_token_on_a_private_server(tmp_path: Path):
    from drawbridge.channel.home import initialise_home

    initialise_home(tmp_path / "private").config_path.write_text("[server]\nanonymous_read = false\n")
    server = start_server(tmp_path / "private")
    try:
        server.publish(make_wheel(tmp_path / "d", "secret-sauce", "1.0"))
        token = server.token(Role.reader)
        denied = pip_install(Path(sys.executable), server, tmp_path / "a", "secret-sauce")
        assert denied.returncode != 0
        authed = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--target", str(tmp_path / "t"), "--index-url",
             server.url.replace("http://", f"http://__token__:{token}@") + "/main/simple/", "secret-sauce"],
            env=client_env(), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert authed.returncode == 0, authed.stdout + authed.stderr
    finally:
        server.stop()
