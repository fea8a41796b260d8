"""The `drawbridge` command as users run it: a subprocess, clear errors, no tracebacks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from builders import make_conda_tar_bz2, make_wheel
from commands import invoke_drawbridge
from clients import run_drawbridge
from databases import init_arguments
from served_state import conda_index_file


@pytest.mark.database
def test_init_publish_list_index_through_the_environment(tmp_path: Path):
    home = tmp_path / "home"
    assert (
        run_drawbridge("init", *init_arguments(), env={"DRAWBRIDGE_HOME": str(home)}).returncode
        == 0
    )
    wheel = make_wheel(tmp_path / "d", "cli-demo", "1.0")
    package = make_conda_tar_bz2(tmp_path / "d", "cli-tool", "1.0", "0", "linux-64")
    result = run_drawbridge("publish", str(wheel), str(package), env={"DRAWBRIDGE_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "cli-demo" in (home / "channels/main/pypi/simple/index.html").read_text()
    assert (
        run_drawbridge("channel", "create", "team-a", env={"DRAWBRIDGE_HOME": str(home)}).returncode
        == 0
    )
    listing = run_drawbridge("channel", "list", env={"DRAWBRIDGE_HOME": str(home)}).stdout
    assert "main" in listing and "team-a" in listing
    assert run_drawbridge("index", "--force", "--home", str(home)).returncode == 0
    repodata = conda_index_file(home / "channels/main/conda/linux-64")
    assert "cli-tool-1.0-0.tar.bz2" in repodata["packages"]


def test_publish_refusal_is_reported_without_traceback(tmp_path: Path):
    home = tmp_path / "home"
    run_drawbridge("init", "--home", str(home), *init_arguments())
    liar = make_wheel(tmp_path / "d", "liar", "1.0", metadata_name="truth")
    good = make_wheel(tmp_path / "d", "good", "1.0")
    result = run_drawbridge("publish", "--home", str(home), str(liar), str(good))
    assert result.returncode == 1
    assert "refused" in result.stderr and "metadata says 'truth'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "good" in (home / "channels/main/pypi/simple/index.html").read_text()


def test_errors_name_the_fix(tmp_path: Path):
    missing = run_drawbridge("publish", "--home", str(tmp_path / "none"), "x.whl")
    assert (
        missing.returncode == 1
        and "drawbridge init" in missing.stderr
        and "Traceback" not in missing.stderr
    )
    run_drawbridge("init", "--home", str(tmp_path / "home"), *init_arguments())
    unknown = run_drawbridge(
        "publish", "--home", str(tmp_path / "home"), "--channel", "nope", "x.whl"
    )
    assert "drawbridge channel create nope" in unknown.stderr
    bad_name = run_drawbridge("channel", "create", "Bad/Name", "--home", str(tmp_path / "home"))
    assert bad_name.returncode == 1 and "not a valid channel name" in bad_name.stderr


@pytest.mark.database
def test_token_create_prints_a_working_token_once(tmp_path: Path):
    home = tmp_path / "home"
    run_drawbridge("init", "--home", str(home), *init_arguments())
    result = run_drawbridge(
        "token", "create", "--user", "alice", "--role", "maintainer", "--home", str(home)
    )
    assert result.returncode == 0 and re.fullmatch(r"dbt-[A-Za-z0-9]{43}", result.stdout.strip())
    from drawbridge.channel.database import Database
    from drawbridge.channel.home import load_home
    from drawbridge.channel.tokens import Role, identify_token

    identity = identify_token(Database(load_home(home).database_url), result.stdout.strip())
    assert identity is not None and identity.user == "alice" and identity.role is Role.maintainer
    assert run_drawbridge("token", "revoke", "--user", "alice", "--home", str(home)).returncode == 0
    assert identify_token(Database(load_home(home).database_url), result.stdout.strip()) is None
    bad_role = run_drawbridge(
        "token", "create", "--user", "bob", "--role", "king", "--home", str(home)
    )
    assert bad_role.returncode != 0 and "king" in bad_role.stderr


def run_in(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`drawbridge ARGS` as an operator runs it in `folder`: no $DRAWBRIDGE_HOME, no $COLUMNS
    (empty: so piped output takes its own width), output captured (not a terminal)."""
    return run_drawbridge(*args, env={"COLUMNS": "", **env}, cwd=folder, timeout=120)


def test_a_command_outside_the_home_folder_says_where_it_looked_and_how_to_point(tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    said = " ".join(run_in(elsewhere, "publish", "x.whl").stderr.split())
    assert f"looked for ./drawbridge-home in {elsewhere}" in said, said
    assert "--home PATH" in said and "DRAWBRIDGE_HOME" in said and "Traceback" not in said
    from_env = " ".join(
        run_in(elsewhere, "publish", "x.whl", DRAWBRIDGE_HOME=str(tmp_path / "gone")).stderr.split()
    )
    assert f"{tmp_path / 'gone'} (from $DRAWBRIDGE_HOME) is not a Drawbridge home" in from_env
    from_option = " ".join(run_in(elsewhere, "index", "--home", "typo").stderr.split())
    assert f"{elsewhere / 'typo'} (from --home) is not a Drawbridge home" in from_option
    home = tmp_path / "home"
    assert run_in(tmp_path, "init", "--home", str(home), *init_arguments()).returncode == 0
    found = run_in(elsewhere, "channel", "list", DRAWBRIDGE_HOME=str(home))
    assert found.returncode == 0 and "main" in found.stdout


def test_deciding_without_a_token_says_where_tokens_come_from(tmp_path: Path):
    home = tmp_path / "home"
    run_in(tmp_path, "init", "--home", str(home), *init_arguments())
    said = " ".join(run_in(tmp_path, "request", "reject", "1", "--home", str(home)).stderr.split())
    assert "no bridging request #1" in said  # an unknown number first
    said = " ".join(
        run_in(tmp_path, "recipe", "approve", "docopt", "--home", str(home)).stderr.split()
    )
    assert "needs a maintainer's token" in said
    assert "drawbridge token create --user NAME --role maintainer" in said


def _help(*command: str) -> str:
    result = invoke_drawbridge(*command, "--help", env={"COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_help_shows_no_placeholder_for_flags_and_one_default_each():
    import typer.main

    from drawbridge.cli.app import app

    group = typer.main.get_command(app)
    commands = [[name] for name in group.commands]
    commands += [
        [name, sub] for name, cmd in group.commands.items() for sub in getattr(cmd, "commands", {})
    ]
    for command in commands:
        text = _help(*command)
        assert "<bool>" not in text, (command, text)
    serve = " ".join(_help("serve").split())
    assert (
        "Worker processes (default: one per CPU)" in serve
        and "[default: " not in serve.split("Worker processes")[1].split("--init")[0]
    ), serve
    assert "--dry-run" in _help("bridge") and "--init --no-init" in serve
    assert "default: ./drawbridge-home" in " ".join(_help("publish").split())


def test_tables_piped_to_a_file_are_not_cut(tmp_path: Path):
    home = tmp_path / "home"
    run_in(tmp_path, "init", "--home", str(home), *init_arguments())
    long_url = "https://mirror.example.corp/" + "/".join(["conda-forge-nightly-snapshot"] * 6)
    config = home / "drawbridge.toml"
    config.write_text(
        config.read_text().replace(
            "upstream_conda = []", f'upstream_conda = [{{ name = "nightly", url = "{long_url}" }}]'
        )
    )
    piped = run_in(tmp_path, "upstream", "list", "--home", str(home))
    assert long_url in piped.stdout and "…" not in piped.stdout, piped.stdout
    narrow = run_in(tmp_path, "upstream", "list", "--home", str(home), COLUMNS="60")
    assert "…" not in narrow.stdout and max(map(len, narrow.stdout.splitlines())) <= 60
    cells = "".join(
        line.split("│")[2].strip() for line in narrow.stdout.splitlines() if line.count("│") == 4
    )
    assert long_url in cells, narrow.stdout  # folded onto several lines, every character kept


def test_serve_refuses_a_port_already_taken_naming_it(tmp_path: Path):
    from servers import start_server

    first = start_server(tmp_path / "first")
    first.channels.create("only-first")
    try:
        port = first.url.rsplit(":", 1)[1]
        second = run_in(tmp_path, "serve", "--home", str(tmp_path / "second"), "--port", port)
        assert second.returncode == 1, second.stdout + second.stderr
        said = " ".join(second.stderr.split())
        assert f"port {port} on 127.0.0.1 is taken" in said and "--port" in said
        assert "Traceback" not in said
        assert not (tmp_path / "second").exists(), "a refused serve creates no home"
        import httpx

        for _ in range(6):  # every request still reaches the first home, none the second
            listed = httpx.get(f"{first.url}/api/channels").json()["channels"]
            assert sorted(listed) == ["main", "only-first"]
    finally:
        first.stop()
