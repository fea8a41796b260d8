"""The thin `drawbridge lock` (cli/lock_on_server.py): what it takes as a plain lock, and
everything it leaves to the full client. Its locks against a server: tests/clients."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import typer.main

from drawbridge.cli.env_commands import client_app
from drawbridge.cli.lock_on_server import (
    DEFAULT_SERVER,
    LOCAL_VARIABLE,
    SERVER_VARIABLE,
    TOKEN_VARIABLE,
    VALUE_OPTIONS,
    host_subdir,
    lock_on_server,
)
from drawbridge.environments import defaults
from drawbridge.environments.install import host_platform


def _lock_command():  # type: ignore[no-untyped-def]
    return typer.main.get_command(client_app).commands["lock"]  # type: ignore[attr-defined]


def test_it_takes_exactly_the_options_of_the_typer_command_but_request():
    """An option added to `drawbridge lock` and not here would be refused here, which only
    costs a fallback; one here that the command lost would lock what the command refuses."""
    params = {p.name: p for p in _lock_command().params}
    assert set(params) == {"environment", "request", *VALUE_OPTIONS}
    for name, spellings in VALUE_OPTIONS.items():
        assert tuple(params[name].opts) == spellings, name
        assert not getattr(params[name], "is_flag", False), name
    assert params["request"].is_flag  # filing requests is the full client's
    assert (params["server"].envvar, params["token"].envvar) == (SERVER_VARIABLE, TOKEN_VARIABLE)
    assert (defaults.SERVER_VARIABLE, defaults.TOKEN_VARIABLE, defaults.DEFAULT_SERVER) == (
        SERVER_VARIABLE,
        TOKEN_VARIABLE,
        DEFAULT_SERVER,
    )


def test_this_machine_s_subdir_is_the_one_the_full_client_locks_for():
    assert host_subdir() == host_platform()  # rattler's name for it


def _nothing_listens() -> str:
    """A URL where nothing listens (a port just bound and let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "arguments, environ",
    [
        (["--help"], {}),
        (["{env}", "--request"], {}),
        (["{env}", "--unknown"], {}),
        (["{env}", "--serv", "{url}"], {}),  # an abbreviation: typer takes none
        (["{env}", "{env}"], {}),
        ([], {}),
        (["{env}", "--server", "http://__token__:secret@h:1"], {}),
        (["{env}", "--server", "http://h:1/t/secret"], {}),
        (["{env}", "--server", "ftp://h/"], {}),
        (["{env}", "--server", "http://h:port"], {}),
        (["{env}"], {LOCAL_VARIABLE: "1"}),
        (["{env}"], {"https_proxy": "http://proxy:3128"}),
        (["{env}"], {"HTTP_PROXY": "http://proxy:3128"}),
        (["{missing}"], {}),
        (["{env}"], {}),  # nothing listens at the server's URL
    ],
)
def test_anything_but_a_plain_lock_a_server_made_is_left_to_the_full_client(
    tmp_path: Path, arguments: list[str], environ: dict[str, str]
):
    environment = tmp_path / "environment.yml"
    environment.write_text("dependencies: [python]\n")
    url = _nothing_listens()
    given = [
        a.format(env=environment, url=url, missing=tmp_path / "missing.yml") for a in arguments
    ]
    assert lock_on_server(given, {SERVER_VARIABLE: url, **environ}) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["environment.yml"]  # nothing written
