"""Real pip (Python 2.7 to 3.13), uv and twine against a running Drawbridge."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from builders import make_sdist, make_wheel
from clients import (
    twine_upload,
    PY27,
    PYENV,
    client_env,
    imported_value,
    pip_install,
    pyenv_python,
    uv_install,
)
from databases import new_home, write_config
from packaging.version import Version
from relay import Relay
from servers import Server, start_server

from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role


def _pyenv_pythons() -> list[str]:
    found = [p.name for p in PYENV.glob("[23].*") if (p / "bin" / "python").exists()]
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


#: every pyenv Python on the machine, each with the pip it bundles (2.7: pip 19.2.3, 3.6:
#: 18.1, 3.7: 22.0.4, 3.8-3.10: 23.0.1, 3.11/3.12: 23.2.1, 3.13: 24.2)
PYENV_PYTHONS = _pyenv_pythons()
PY3 = [v for v in PYENV_PYTHONS if v.startswith("3.")]
MACHINE = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
#: the machine's Python, the newest and the oldest pyenv Pythons present
CLIENT_PYTHONS = sorted(
    {
        v
        for v in (MACHINE, PY3[-1] if PY3 else None, PY3[0] if PY3 else None)
        if v and (PYENV / v).exists()
    }
)
PY27_PYTHON = pyenv_python(PY27)
#: the clients of the matrix: each pyenv Python's own pip, and the newest pip (this venv's)
PIP_CLIENTS = [*PYENV_PYTHONS, "newest"]
HTML_ONLY = "text/html"
PEP691_JSON = "application/vnd.pypi.simple.v1+json"


def main_index(server: Server | Relay) -> str:
    """The main channel's pip index on `server`."""
    return f"{server.url}/main/simple/"


def client_python(client: str) -> Path:
    return Path(sys.executable) if client == "newest" else pyenv_python(client)


def pip_version(python: Path) -> Version:
    result = subprocess.run(
        [str(python), "-m", "pip", "--version"],
        env=client_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return Version(result.stdout.split()[1])


@pytest.fixture(scope="module")
def index(module_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Server:
    folder = tmp_path_factory.mktemp("dists")
    module_server.publish(
        make_wheel(folder, "pure-demo", "1.0", requires_python=">=3.6"),
        make_wheel(
            folder, "with-deps", "1.0", requires=["pure-demo>=1.0"], requires_python=">=3.6"
        ),
        make_wheel(folder, "picky", "1.0", tag="py2.py3-none-any"),
        make_wheel(folder, "picky", "2.0", tag="py2.py3-none-any", requires_python=">=3.99"),
        make_wheel(folder, "pair-lib", "1.0", tag="py2.py3-none-any"),
        make_wheel(folder, "pair-lib", "2.0", tag="py2.py3-none-any"),
        make_wheel(
            folder, "pair-app", "1.0", tag="py2.py3-none-any", requires=["pair-lib>=1.0,<2"]
        ),
        make_wheel(folder, "only-future", "1.0", requires_python=">=3.99"),
        make_wheel(folder, "twoway", "1.0", tag="py2.py3-none-any"),
    )
    return module_server


@pytest.mark.parametrize("pages", ["negotiated", "html"])
@pytest.mark.parametrize("client", PIP_CLIENTS)
def test_every_pip_installs_a_wheel_with_a_dependency(
    index: Server, tmp_path: Path, client: str, pages: str
):
    """Each pip people have installs from the pages it asks for (PEP 691 JSON from pip 22.2
    on) and from the PEP 503 HTML pages, honouring the dependency's range and
    Requires-Python. pip 22.3 to 23.0.1 crashed on a JSON page carrying `dist-info-metadata`."""
    python = client_python(client)
    with Relay(index.url, accept=HTML_ONLY if pages == "html" else None) as relay:
        result = pip_install(main_index(relay), tmp_path / "t", "pair-app", "picky", python=python)
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(tmp_path / "t", "pair_app", python) == "1.0"
    assert imported_value(tmp_path / "t", "pair_lib", python) == "1.0"
    assert imported_value(tmp_path / "t", "picky", python) == "1.0"  # 2.0 needs Python >= 3.99
    asks_json = pages == "negotiated" and pip_version(python) >= Version("22.2")
    expected = PEP691_JSON if asks_json else "text/html"
    for project in ("pair-app", "pair-lib", "picky"):
        assert {t.split(";")[0] for t in relay.page_types(project)} == {expected}, relay.relayed


@pytest.mark.parametrize("pages", ["negotiated", "html"])
def test_uv_installs_a_wheel_with_a_dependency(index: Server, tmp_path: Path, pages: str):
    with Relay(index.url, accept=HTML_ONLY if pages == "html" else None) as relay:
        result = uv_install(main_index(relay), tmp_path / "t", "pair-app", "picky")
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(tmp_path / "t", "pair_lib") == "1.0"
    assert imported_value(tmp_path / "t", "picky") == "1.0"
    expected = PEP691_JSON if pages == "negotiated" else "text/html"
    assert {t.split(";")[0] for t in relay.page_types("pair-lib")} == {expected}, relay.relayed


@pytest.mark.parametrize("version", CLIENT_PYTHONS)
def test_pip_honours_requires_python(index: Server, tmp_path: Path, version: str):
    python = pyenv_python(version)
    result = pip_install(main_index(index), tmp_path / "t", "picky", python=python)
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(tmp_path / "t", "picky", python) == "1.0"  # 2.0 excludes this Python
    refused = pip_install(main_index(index), tmp_path / "u", "only-future", python=python)
    assert refused.returncode != 0
    assert "No matching distribution" in refused.stdout + refused.stderr


@pytest.mark.skipif(not PY27_PYTHON.exists(), reason=f"no pyenv Python {PY27}")
def test_python27_pip19_installs_py2_py3_wheel(index: Server, tmp_path: Path):
    version = subprocess.run(
        [str(PY27_PYTHON), "-m", "pip", "--version"],
        capture_output=True,
        text=True,
        env=client_env(),
    )
    assert version.stdout.startswith("pip 19"), version.stdout + version.stderr
    result = pip_install(main_index(index), tmp_path / "t", "twoway", python=PY27_PYTHON)
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(tmp_path / "t", "twoway", PY27_PYTHON) == "1.0"
    # pure-demo needs Python >= 3.6: pip 19 reads data-requires-python and finds nothing.
    refused = pip_install(main_index(index), tmp_path / "u", "pure-demo", python=PY27_PYTHON)
    assert refused.returncode != 0


def test_uv_installs_from_the_index(index: Server, tmp_path: Path):
    result = uv_install(main_index(index), tmp_path / "t", "with-deps", "picky")
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(tmp_path / "t", "with_deps") == "1.0"
    assert imported_value(tmp_path / "t", "picky") == "1.0"


def test_twine_uploads_and_pip_installs_the_upload(index: Server, tmp_path: Path):
    dist = tmp_path / "dist"
    make_wheel(dist, "twined", "0.1", requires_python=">=3.6")
    make_sdist(dist, "twined", "0.1")
    token = index.token(Role.uploader, "ci-bot")
    upload = twine_upload(f"{index.url}/main/upload/", token, *sorted(dist.iterdir()))
    assert upload.returncode == 0, upload.stdout + upload.stderr

    def upload_again(path: Path) -> subprocess.CompletedProcess:
        return twine_upload(f"{index.url}/main/upload/", token, path)

    wheel = next(dist.glob("*.whl"))
    again = upload_again(wheel)  # the same bytes again: a retry after a lost answer succeeds
    assert again.returncode == 0, again.stdout + again.stderr
    other = make_wheel(
        tmp_path / "other", "twined", "0.1", requires_python=">=3.7"
    )  # same name, other bytes
    refused = upload_again(other)
    assert refused.returncode != 0 and "409" in refused.stdout + refused.stderr
    result = pip_install(main_index(index), tmp_path / "t", "twined")
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(tmp_path / "t", "twined") == "0.1"


def test_pip_with_a_token_on_a_private_server(tmp_path: Path):
    write_config(new_home(tmp_path / "private"), "[server]\nanonymous_read = false\n")
    server = start_server(tmp_path / "private")
    try:
        server.publish(make_wheel(tmp_path / "d", "secret-sauce", "1.0"))
        token = server.token(Role.reader)
        denied = pip_install(main_index(server), tmp_path / "a", "secret-sauce")
        assert denied.returncode != 0
        with_token = server.url.replace("http://", f"http://__token__:{token}@")
        authed = pip_install(f"{with_token}/main/simple/", tmp_path / "t", "secret-sauce")
        assert authed.returncode == 0, authed.stdout + authed.stderr
    finally:
        server.stop()


@pytest.mark.skipif(not (PYENV / "3.9.18").exists(), reason="no pyenv Python 3.9.18 (pip 23.0.1)")
def test_pages_an_older_drawbridge_wrote_are_rewritten_at_start(channels: Channels, tmp_path: Path):
    """A home whose JSON pages still carry `dist-info-metadata` (written before page format
    2) is fixed when the server starts: pip 23.0.1 installs from it without `drawbridge index`."""
    import json

    from drawbridge.channel.pip_view import FORMAT_STAMP

    home = channels.home  # made as `drawbridge serve` makes it: the main channel created
    channels.publish("main", make_wheel(tmp_path / "d", "pair-lib", "1.0", tag="py2.py3-none-any"))
    page = home.channel("main").simple_dir / "pair-lib" / "index.json"
    old = json.loads(page.read_text())
    for entry in old["files"]:
        entry["dist-info-metadata"] = entry["core-metadata"]
    page.write_text(json.dumps(old))
    (page.parent.parent / FORMAT_STAMP).unlink()

    server = start_server(home.root)
    try:
        deadline = time.monotonic() + 30
        while "dist-info-metadata" in page.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        python = pyenv_python("3.9.18")
        result = pip_install(main_index(server), tmp_path / "t", "pair-lib", python=python)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (page.parent.parent / FORMAT_STAMP).read_text() == "2"
    finally:
        server.stop()
