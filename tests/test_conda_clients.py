"""py-rattler (the engine of pixi) solves and installs from a running Drawbridge."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
import rattler
from builders import make_noarch_python_conda
from conftest import Server, client_env


def solve_and_install(server: Server, upstream: Path, prefix: Path, specs: list[str], cache: Path) -> list[str]:
    channels = [rattler.Channel(f"{server.url}/main/conda"), rattler.Channel(upstream.as_uri())]
    records = asyncio.run(
        rattler.solve(channels, specs, platforms=["linux-64", "noarch"])
    )
    asyncio.run(rattler.install(records, prefix, cache_dir=cache, show_progress=False))
    return sorted(f"{r.name.normalized}={r.version}" for r in records)


def test_rattler_installs_a_noarch_python_package(server: Server, upstream_channel: Path, tmp_path: Path):
    server.publish(make_noarch_python_conda(tmp_path / "pkgs", "demo-conda", "1.0", "demo_conda"))
    server.publish(make_noarch_python_conda(tmp_path / "pkgs", "demo-conda", "1.1", "demo_conda"))
    prefix = tmp_path / "env"
    installed = solve_and_install(server, upstream_channel, prefix, ["python 3.11.*", "demo-conda"], tmp_path / "cache")
    assert "demo-conda=1.1" in installed and any(p.startswith("python=3.11") for p in installed)
    result = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", "import demo_conda, sys; print(demo_conda.VALUE, sys.prefix)"],
        capture_output=True, text=True, env=client_env(), check=True,
    )  # fmt: skip
    value, where = result.stdout.split()
    assert value == "1.1" and Path(where) == prefix


def test_rattler_pins_an_older_version(server: Server, upstream_channel: Path, tmp_path: Path):
    server.publish(make_noarch_python_conda(tmp_path / "pkgs", "demo-conda", "1.0", "demo_conda"))
    server.publish(make_noarch_python_conda(tmp_path / "pkgs", "demo-conda", "2.0", "demo_conda"))
    prefix = tmp_path / "env"
    installed = solve_and_install(server, upstream_channel, prefix, ["python 3.11.*", "demo-conda <2"], tmp_path / "cache")
    assert "demo-conda=1.0" in installed


def test_unknown_package_fails_to_solve(server: Server, upstream_channel: Path, tmp_path: Path):
    with pytest.raises(Exception, match="no-such-package"):
        solve_and_install(server, upstream_channel, tmp_path / "env", ["no-such-package"], tmp_path / "cache")
