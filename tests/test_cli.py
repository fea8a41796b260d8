"""The `drawbridge` command as users run it: a subprocess, clear errors, no tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from builders import make_conda_tar_bz2, make_wheel
from clients import BIN
from databases import init_arguments


def drawbridge(*args: str, env_home: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    env.pop("DRAWBRIDGE_HOME", None)
    if env_home:
        env["DRAWBRIDGE_HOME"] = str(env_home)
    return subprocess.run(
        [str(BIN / "drawbridge"), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_init_publish_list_index_through_the_environment(tmp_path: Path):
    home = tmp_path / "home"
    assert drawbridge("init", *init_arguments(), env_home=home).returncode == 0
    wheel = make_wheel(tmp_path / "d", "cli-demo", "1.0")
    package = make_conda_tar_bz2(tmp_path / "d", "cli-tool", "1.0", "0", "linux-64")
    result = drawbridge("publish", str(wheel), str(package), env_home=home)
    assert result.returncode == 0, result.stderr
    assert "cli-demo" in (home / "channels/main/pypi/simple/index.html").read_text()
    assert drawbridge("channel", "create", "team-a", env_home=home).returncode == 0
    listing = drawbridge("channel", "list", env_home=home).stdout
    assert "main" in listing and "team-a" in listing
    assert drawbridge("index", "--force", "--home", str(home)).returncode == 0
    repodata = json.loads((home / "channels/main/conda/linux-64/repodata.json").read_text())
    assert "cli-tool-1.0-0.tar.bz2" in repodata["packages"]


def test_publish_refusal_is_reported_without_traceback(tmp_path: Path):
    home = tmp_path / "home"
    drawbridge("init", "--home", str(home), *init_arguments())
    liar = make_wheel(tmp_path / "d", "liar", "1.0", metadata_name="truth")
    good = make_wheel(tmp_path / "d", "good", "1.0")
    result = drawbridge("publish", "--home", str(home), str(liar), str(good))
    assert result.returncode == 1
    assert "refused" in result.stderr and "metadata says 'truth'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "good" in (home / "channels/main/pypi/simple/index.html").read_text()


def test_errors_name_the_fix(tmp_path: Path):
    missing = drawbridge("publish", "--home", str(tmp_path / "none"), "x.whl")
    assert (
        missing.returncode == 1
        and "drawbridge init" in missing.stderr
        and "Traceback" not in missing.stderr
    )
    drawbridge("init", "--home", str(tmp_path / "home"), *init_arguments())
    unknown = drawbridge("publish", "--home", str(tmp_path / "home"), "--channel", "nope", "x.whl")
    assert "drawbridge channel create nope" in unknown.stderr
    bad_name = drawbridge("channel", "create", "Bad/Name", "--home", str(tmp_path / "home"))
    assert bad_name.returncode == 1 and "not a valid channel name" in bad_name.stderr


def test_token_create_prints_a_working_token_once(tmp_path: Path):
    home = tmp_path / "home"
    drawbridge("init", "--home", str(home), *init_arguments())
    result = drawbridge(
        "token", "create", "--user", "alice", "--role", "maintainer", "--home", str(home)
    )
    assert result.returncode == 0 and re.fullmatch(r"dbt-[A-Za-z0-9]{43}", result.stdout.strip())
    from drawbridge.channel.database import Database
    from drawbridge.channel.home import load_home
    from drawbridge.channel.tokens import Role, identify_token

    identity = identify_token(Database(load_home(home).database_url), result.stdout.strip())
    assert identity is not None and identity.user == "alice" and identity.role is Role.maintainer
    assert drawbridge("token", "revoke", "--user", "alice", "--home", str(home)).returncode == 0
    assert identify_token(Database(load_home(home).database_url), result.stdout.strip()) is None
    bad_role = drawbridge("token", "create", "--user", "bob", "--role", "king", "--home", str(home))
    assert bad_role.returncode != 0 and "king" in bad_role.stderr
