"""Channels named `owner/name` with real clients: the CLI creates, publishes to and lists
one; pip, uv, twine and py-rattler work through the two-segment URLs, a private one's
`/t/<token>/company/dev/conda` URL included.

What every URL family serves for them is tested in-process in `http/test_owned_channels.py`."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import make_conda_tar_bz2, make_wheel
from clients import (
    twine_upload,
    imported_value,
    install_records,
    names_and_versions,
    pip_install,
    solve,
    uv_install,
)
from databases import new_home, write_config
from servers import Server, start_server

from drawbridge.channel.tokens import Role
from clients import (
    run_drawbridge,
)


OWNED = "company/dev"


def test_the_cli_creates_publishes_and_lists_an_owned_channel(tmp_path: Path):
    home = new_home(tmp_path / "home")

    assert run_drawbridge("channel", "create", "alice/sandbox", home=home.root).returncode == 0
    wheel = make_wheel(tmp_path / "d", "sandboxed", "0.1")
    published = run_drawbridge("publish", "--channel", "alice/sandbox", str(wheel), home=home.root)
    assert published.returncode == 0, published.stderr
    assert (home.channels_dir / "alice/sandbox/pypi/files" / wheel.name).is_file()
    listing = run_drawbridge("channel", "list", home=home.root).stdout
    assert "alice/sandbox" in listing
    for command in ("index", "verify"):
        done = run_drawbridge(command, "--channel", "alice/sandbox", home=home.root)
        assert done.returncode == 0 and "alice/sandbox" in done.stdout, done.stderr
    clash = run_drawbridge("channel", "create", "alice", home=home.root)
    assert clash.returncode == 1 and "owns channels" in clash.stderr
    assert "Traceback" not in clash.stderr
    reserved = run_drawbridge("channel", "create", "company/simple", home=home.root)
    assert reserved.returncode == 1 and "not a valid channel name" in reserved.stderr


@pytest.fixture(scope="module")
def owned_server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    folder = tmp_path_factory.mktemp("owned-server")
    server = start_server(folder / "home")
    try:
        server.channels.create(OWNED)
        dists = folder / "dists"
        server.publish(
            make_wheel(dists, "dev-lib", "1.0"),
            make_wheel(dists, "dev-app", "1.0", requires=["dev-lib>=1.0"]),
            make_conda_tar_bz2(dists / "noarch", "dev-data", "1.0"),
            channel=OWNED,
        )
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_pip_and_uv_install_from_an_owned_channel(
    owned_server: Server, tmp_path: Path, client: str
):
    index = f"{owned_server.url}/{OWNED}/simple/"
    install = {"pip": pip_install, "uv": uv_install}[client]
    result = install(index, tmp_path / "t", "dev-app")
    assert result.returncode == 0, result.stdout + result.stderr
    assert imported_value(tmp_path / "t", "dev_app") == "1.0"
    assert imported_value(tmp_path / "t", "dev_lib") == "1.0"


def test_twine_uploads_to_an_owned_channel_and_pip_installs_it(
    owned_server: Server, tmp_path: Path
):
    wheel = make_wheel(tmp_path / "dist", "twined-dev", "0.2")
    token = owned_server.token(Role.uploader, "ci-bot")
    upload = twine_upload(f"{owned_server.url}/{OWNED}/upload/", token, wheel)
    assert upload.returncode == 0, upload.stdout + upload.stderr
    assert owned_server.channels.project_files(OWNED, "twined-dev")[0].uploaded_by == "ci-bot"
    install = pip_install(f"{owned_server.url}/{OWNED}/simple/", tmp_path / "t", "twined-dev")
    assert install.returncode == 0, install.stdout + install.stderr
    assert imported_value(tmp_path / "t", "twined_dev") == "0.2"


def test_py_rattler_solves_and_installs_from_an_owned_channel(owned_server: Server, tmp_path: Path):
    records = solve([f"{owned_server.url}/{OWNED}/conda"], ["dev-data"])
    assert names_and_versions(records) == ["dev-data=1.0"]
    install_records(records, tmp_path / "env", tmp_path / "c")
    assert (tmp_path / "env/share/dev-data/README").read_text() == "dev-data 1.0\n"
    with pytest.raises(Exception):
        solve([f"{owned_server.url}/main/conda"], ["dev-data"])  # not in main


def test_a_token_url_reaches_a_private_owned_channel(tmp_path: Path):
    home = new_home(tmp_path / "private")
    write_config(home, "[server]\nanonymous_read = false\n")
    server = start_server(home.root)
    try:
        server.channels.create(OWNED)
        server.publish(
            make_conda_tar_bz2(tmp_path / "p" / "noarch", "secret", "1.0"), channel=OWNED
        )
        token = server.token(Role.reader)
        with pytest.raises(Exception):
            solve([f"{server.url}/{OWNED}/conda"], ["secret"])  # no token: 401
        records = solve([f"{server.url}/t/{token}/{OWNED}/conda"], ["secret"])
        assert names_and_versions(records) == ["secret=1.0"]
        install_records(records, tmp_path / "env", tmp_path / "c")
        assert (tmp_path / "env/share/secret/README").read_text() == "secret 1.0\n"
    finally:
        server.stop()
