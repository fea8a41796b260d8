"""`drawbridge lock` and `drawbridge env create` against a running server and the test upstream."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from builders import (
    make_conda_tar_bz2,
    make_noarch_python_conda,
    make_wheel,
    wheel_from_installed,
)
from clients import client_env, PY27, PYENV, run_build_stage, run_drawbridge
from databases import new_home, write_config
from servers import Server, start_server

from drawbridge.channel.tokens import Role
from drawbridge.cli.common import STYLING_VARIABLES
from drawbridge.cli.lock_on_server import LOCAL_VARIABLE
from drawbridge.bridge.upstream.pypi import SimpleIndexUpstream
from drawbridge.bridge.translate.targets import Target
from drawbridge.environments.conda_solve import virtual_packages
from drawbridge.environments.defaults import SystemBaseline
from drawbridge.environments.lock import Lock, LockedPlatform, write_lock
from drawbridge.environments.lockfile import read_lock
from drawbridge.environments.pip_resolve import PipPackage, PipResolver

MACHINE_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
#: the client locks itself, without asking the server to (cli/lock_on_server.py)
LOCAL = {LOCAL_VARIABLE: "1"}
CP = f"cp{sys.version_info.major}{sys.version_info.minor}"  # the machine Python's wheel tag

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


@pytest.fixture(scope="module")
def env_server(tmp_path_factory: pytest.TempPathFactory, upstream_channel: Path) -> Server:
    """A Drawbridge passing the test upstream on as `conda-forge`, holding a conda package,
    a bridged wheel, and wheels for the pip section (one of which conda already provides)."""
    root = tmp_path_factory.mktemp("env-server")
    mirror = root / "conda-forge"
    mirror.symlink_to(upstream_channel)
    home = new_home(root / "home")
    drop = root / "drop"
    other_platforms = _other_platforms_mirror(root / "other-platforms")
    config = home.config_path.read_text().replace(
        "upstream_conda = []", f'upstream_conda = ["{mirror}", "{other_platforms}"]'
    )
    config = config.replace(
        'upstream_pypi = "https://pypi.org/simple/"', f'upstream_pypi = "{drop}"'
    )
    config = config.replace(
        'platforms = ["linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"]',
        'platforms = ["linux-64"]',
    )
    home.config_path.write_text(
        config.replace(
            'pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]', f'pythons = ["{MACHINE_PYTHON}"]'
        )
    )
    make_wheel(
        drop,
        "bridged-tool",
        "2.0",
        requires_python=">=3.8",
        entry_points={"console_scripts": {"bridged-tool": "bridged_tool:main"}},
    )
    make_wheel(drop, "pip-only", "1.0", requires=["pip-helper>=1", "bridged-tool>=2"])
    make_wheel(
        drop,
        "pip-helper",
        "1.5",
        entry_points={"console_scripts": {"pip-helper": "pip_helper:main"}},
    )
    make_wheel(drop, "windows-wheel", "1.0", tag=f"{CP}-{CP}-win_amd64")
    make_wheel(drop, "twoway", "1.0", tag="py2.py3-none-any")
    make_wheel(drop / "not-yet", "wanted-later", "3.0")  # in upstream PyPI, not in Drawbridge
    for platform_tag in (
        "win_amd64",
        "manylinux_2_17_x86_64",
        "macosx_11_0_arm64",
        "manylinux_2_17_aarch64",
    ):
        tag = f"{CP}-{CP}-{platform_tag}"
        make_wheel(
            drop, "platform-pick", "1.0", tag=tag, requires=['colorama; sys_platform == "win32"']
        )
    make_wheel(drop, "colorama", "0.4.6")
    make_wheel(drop, "new-glibc", "1.0", tag=f"{CP}-{CP}-manylinux_2_28_x86_64")
    make_wheel(drop, "new-mac", "1.0", tag=f"{CP}-{CP}-macosx_11_0_arm64")
    make_wheel(drop, "new-mac", "2.0", tag=f"{CP}-{CP}-macosx_12_0_arm64")
    run_drawbridge("channel", "create", "main", "--home", str(home.root), check=True)
    bridged = run_drawbridge(
        "bridge",
        "--home",
        str(home.root),
        "--upstream-pypi",
        str(drop),
        "--platform",
        "linux-64",
        "--python",
        MACHINE_PYTHON,
        "bridged-tool",
    )
    assert bridged.returncode == 0, bridged.stdout + bridged.stderr
    # a noarch package claims only the Pythons it was bridged for: twoway for 2.7 and this one
    bridged = run_drawbridge(
        "bridge",
        "--home",
        str(home.root),
        "--upstream-pypi",
        str(drop),
        "--platform",
        "linux-64",
        "--python",
        "2.7",
        "--python",
        MACHINE_PYTHON,
        "twoway",
    )
    assert bridged.returncode == 0, bridged.stdout + bridged.stderr
    server = start_server(home.root)
    server.publish(make_noarch_python_conda(root / "pkgs", "demo-conda", "1.0", "demo_conda"))
    server.publish(
        *(
            w
            for w in sorted(drop.glob("*.whl"))
            if not w.name.startswith(("bridged_tool", "twoway"))
        )
    )
    shutil.move(drop / "not-yet" / "wanted_later-3.0-py3-none-any.whl", drop)
    yield server
    server.stop()


def _other_platforms_mirror(folder: Path) -> Path:
    """A second mirror with stand-in Pythons for win-64, osx-arm64 and linux-aarch64: enough
    to solve for those platforms and to lay out an aarch64 image (nothing here runs them)."""
    import asyncio

    from rattler.index import index_fs

    for subdir in ("win-64", "osx-arm64", "linux-aarch64", "noarch"):
        (folder / subdir).mkdir(parents=True)
    for subdir in ("win-64", "osx-arm64", "linux-aarch64"):
        make_conda_tar_bz2(folder / subdir, "python", f"{MACHINE_PYTHON}.7", "0", subdir)
    asyncio.run(index_fs(folder, force=True))
    return folder


def write_environment(folder: Path, text: str = ENVIRONMENT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "environment.yml"
    path.write_text(text)
    return path


def lock(server: Server, environment: Path, *args: str) -> subprocess.CompletedProcess:
    return run_drawbridge("lock", "--server", server.url, str(environment), *args)


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
    assert all(r.url.startswith("http://127.0.0.1:") for r in platform_lock.conda), (
        "everything through Drawbridge"
    )
    assert any("/upstream/conda-forge/" in r.url for r in platform_lock.conda)
    pip = {p.name: p for p in platform_lock.pip}
    assert sorted(pip) == ["pip-helper", "pip-only"], "bridged-tool comes from conda, not pip"
    for package in pip.values():
        assert package.url.endswith(".whl") and len(package.sha256) == 64
    text = locked.read_text()
    assert "#sha256=" not in text and f"sha256: {pip['pip-only'].sha256}" in text, (
        "the hash is a field of its own"
    )


def test_lock_for_three_platforms_picks_each_ones_wheels_and_markers(
    env_server: Server, tmp_path: Path
):
    text = (
        "channels: [main, conda-forge, other-platforms]\ndependencies:\n  - python "
        f"{MACHINE_PYTHON}.*\n"
        "  - demo-conda\n  - pip:\n    - platform-pick\n"
    )
    environment = write_environment(tmp_path, text)
    result = lock(env_server, environment, "-p", "linux-64", "-p", "win-64", "-p", "osx-arm64")
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = {}
    for platform in ("linux-64", "win-64", "osx-arm64"):
        platform_lock = read_lock(tmp_path / "drawbridge.lock", platform)
        python = next(r for r in platform_lock.conda if r.name.normalized == "python")
        assert python.subdir == platform and "demo-conda" in {
            r.name.normalized for r in platform_lock.conda
        }
        wheels[platform] = sorted(p.url.rsplit("/", 1)[-1] for p in platform_lock.pip)
    assert wheels["linux-64"] == [f"platform_pick-1.0-{CP}-{CP}-manylinux_2_17_x86_64.whl"]
    assert wheels["osx-arm64"] == [f"platform_pick-1.0-{CP}-{CP}-macosx_11_0_arm64.whl"]
    assert wheels["win-64"] == [
        "colorama-0.4.6-py3-none-any.whl",
        f"platform_pick-1.0-{CP}-{CP}-win_amd64.whl",
    ]


def test_the_macos_baseline_decides_the_mac_wheels(env_server: Server, tmp_path: Path):
    """osx-arm64 takes what pip on the oldest Mac would: 1.0 by default (macOS 11), 2.0 once
    `--macos-arm 12.0` says no Mac is older; a version that is not one is refused."""
    text = (
        "channels: [main, conda-forge, other-platforms]\ndependencies:\n  - python "
        f"{MACHINE_PYTHON}.*\n  - pip:\n    - new-mac\n"
    )
    picked = {}
    for label, args in (("default", ()), ("12.0", ("--macos-arm", "12.0"))):
        environment = write_environment(tmp_path / label, text)
        result = lock(env_server, environment, "-p", "osx-arm64", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        pip = read_lock(tmp_path / label / "drawbridge.lock", "osx-arm64").pip
        picked[label] = [p.url.rsplit("/", 1)[-1] for p in pip]
    assert picked == {
        "default": [f"new_mac-1.0-{CP}-{CP}-macosx_11_0_arm64.whl"],
        "12.0": [f"new_mac-2.0-{CP}-{CP}-macosx_12_0_arm64.whl"],
    }
    refused = lock(env_server, tmp_path / "default/environment.yml", "--macos-arm", "10.15")
    assert refused.returncode == 2 and "from 11.0 on" in " ".join(refused.stderr.split())
    refused = lock(env_server, tmp_path / "default/environment.yml", "--macos-intel", "10.8")
    assert refused.returncode == 2 and "from 10.9 on" in " ".join(refused.stderr.split())


def test_the_intel_macos_baseline_sets_osx_and_the_wheels_allowed(tmp_path: Path):
    """What `--macos-intel 10.15` hands the two solvers for osx-64 (no osx-64 Python here
    to lock against): `__osx 10.15` to the conda solve, MACOSX_DEPLOYMENT_TARGET and the
    wheel tags to the pip part."""
    baseline = SystemBaseline(macos_x86="10.15")
    offered = {str(v.name.normalized): str(v.version) for v in virtual_packages("osx-64", baseline)}
    assert offered["__osx"] == "10.15"
    wheels = [
        "x-1.0-cp311-cp311-macosx_10_15_x86_64.whl",
        "x-1.0-cp311-cp311-macosx_11_0_x86_64.whl",
    ]
    osx_64 = Target("osx-64", "3.11")
    with SimpleIndexUpstream("http://127.0.0.1:1/simple/", cache=None) as index:  # type: ignore[arg-type]
        resolver = PipResolver([index], "uv", macos=baseline.macos())
        environment = resolver.uv_request([], "osx-64", "3.11", {}).environment()
        assert environment["MACOSX_DEPLOYMENT_TARGET"] == "10.15"
        assert resolver._best_wheel(wheels, osx_64) == wheels[0]
        assert PipResolver([index], "uv")._best_wheel(wheels, osx_64) is None  # 10.13 by default


def test_relock_with_nothing_changed_is_identical(env_server: Server, locked: Path):
    first = locked.read_bytes()
    again = lock(
        env_server, locked.parent / "environment.yml", "-o", str(locked.parent / "again.lock")
    )
    assert again.returncode == 0, again.stderr
    assert (locked.parent / "again.lock").read_bytes() == first


def entry_probe(before: str, at_exit: str) -> str:
    """A script (`python -c`) running `drawbridge ARGS` in its own process: `before` first,
    then the command, and `at_exit` (its lines indented once, `code` the exit status) when
    the command leaves through `os._exit`, as it always does."""
    return f"""
import os, sys
{before}
exit_ = os._exit
def report(code):
{textwrap.indent(at_exit.strip(), "    ")}
    exit_(code)
os._exit = report
sys.argv = ["drawbridge", *sys.argv[1:]]
from drawbridge.cli.entry import main
main()
"""


#: `drawbridge lock` with, at each start of `uv pip compile`, which of typer, rattler,
#: httpx and packaging are loaded; printed as the last line
UV_START_PROBE = entry_probe(
    before="""
import subprocess
started = []
class Spy(subprocess.Popen):
    def __init__(self, args, *rest, **kwargs):
        if "compile" in args:
            loaded = ("typer", "rattler", "httpx", "packaging")
            started.append(sorted(m for m in loaded if m in sys.modules))
        super().__init__(args, *rest, **kwargs)
subprocess.Popen = Spy
""",
    at_exit="print(started, flush=True)",
)


def test_a_relock_starts_uv_before_its_imports_and_writes_the_same_file(
    env_server: Server, locked: Path, tmp_path: Path
):
    """The second lock of a command line starts the uv run the first made before typer,
    rattler, httpx and packaging load (uv resolves while they do), takes it, and writes the
    same file."""
    args = ["lock", "--server", env_server.url, str(locked.parent / "environment.yml")]
    args += ["-o", str(tmp_path / "relock.lock")]

    def uv_starts() -> str:
        probe = subprocess.run(
            [sys.executable, "-c", UV_START_PROBE, *args],
            capture_output=True,
            text=True,
            # the client's own lock (the server's: tests/clients/test_lock_on_server.py)
            env=client_env(XDG_CACHE_HOME=str(tmp_path / "cache"), **LOCAL),
            cwd=tmp_path,
            timeout=300,
        )
        assert probe.returncode == 0, probe.stdout + probe.stderr
        return probe.stdout.strip().splitlines()[-1]

    # no guess yet: after the solve
    assert uv_starts() == "[['httpx', 'packaging', 'rattler', 'typer']]"
    assert (tmp_path / "relock.lock").read_bytes() == locked.read_bytes()
    (tmp_path / "relock.lock").unlink()
    assert uv_starts() == "[[]]"  # once, before any of them
    assert (tmp_path / "relock.lock").read_bytes() == locked.read_bytes()


#: `drawbridge lock`, printing at its exit which of the modules it should not need are
#: loaded, and whether the cyclic collector runs and start-up's objects are frozen
LIGHT_START_PROBE = entry_probe(
    before="import gc",
    at_exit="""
unneeded = ("rich", "html.parser", "drawbridge.channel.home", "pydantic")
print(sorted(m for m in unneeded if m in sys.modules), flush=True)
print(gc.isenabled(), gc.get_freeze_count() > 10_000, flush=True)
""",
)


def test_a_lock_in_a_pipe_starts_light_and_prints_its_lines_as_they_are(
    env_server: Server, locked: Path, tmp_path: Path
):
    """A lock whose output is not a terminal writes its summary lines itself: rich (~20 ms
    of a lock's imports), html.parser (JSON pages only) and the home's configuration
    classes are never loaded, and the lines are the ones rich printed, brackets and all.
    The garbage collector skipped start-up (cli/startup.py) and runs again for the work,
    start-up's objects frozen out of its sight."""
    project = tmp_path / "odd [bold]name :smile:"
    shutil.copytree(locked.parent, project)
    environment = {k: v for k, v in client_env(**LOCAL).items() if k not in STYLING_VARIABLES}
    probe = subprocess.run(
        [sys.executable, "-c", LIGHT_START_PROBE, "lock", "--server", env_server.url]
        + [str(project / "environment.yml")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stdout + probe.stderr
    *lines, loaded, collector = probe.stdout.splitlines()
    assert loaded == "[]" and collector == "True True"
    platform_lock = read_lock(locked, "linux-64")
    assert lines == [
        f"linux-64: {len(platform_lock.conda)} conda and {len(platform_lock.pip)} pip packages",
        f"wrote {project / 'drawbridge.lock'}",
    ]
    assert (project / "drawbridge.lock").read_bytes() == locked.read_bytes()


def test_a_guess_the_solve_disagrees_with_is_not_used(env_server: Server, tmp_path: Path):
    """The same command line on a changed environment file: the run started on the last
    lock's request resolves the old pip part; the lock is the one made without a guess."""
    project = tmp_path / "project"
    environment = write_environment(project)
    args = ("lock", "--server", env_server.url, str(environment))
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    run_drawbridge(*args, env=cache, cwd=tmp_path, check=True)
    write_environment(project, ENVIRONMENT.replace("pip-only>=1", "pip-only>=1\n    - colorama"))
    run_drawbridge(*args, env=cache, cwd=tmp_path, check=True)
    guessed = (project / "drawbridge.lock").read_bytes()
    no_guess = {"XDG_CACHE_HOME": str(tmp_path / "no-guesses")}
    run_drawbridge(*args, env=no_guess, cwd=tmp_path, check=True)
    assert (project / "drawbridge.lock").read_bytes() == guessed
    assert b"/colorama-0.4.6-" in guessed


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
    created = run_drawbridge(
        "env",
        "create",
        "--lock",
        str(locked),
        "--prefix",
        str(prefix),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert created.returncode == 0, created.stdout + created.stderr
    probe = (
        "import demo_conda, bridged_tool, pip_only, pip_helper, importlib.metadata as m;"
        "print(demo_conda.VALUE, bridged_tool.VALUE, pip_only.VALUE, pip_helper.VALUE,"
        "m.distribution('pip-only').read_text('INSTALLER').strip(),"
        "m.distribution('bridged-tool').read_text('INSTALLER').strip())"
    )
    ran = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        env=client_env(),
    )
    # the pip part goes in with uv (its INSTALLER), the conda part with rattler
    assert ran.stdout.split() == ["1.0", "2.0", "1.0", "1.5", "uv", "conda"], ran.stderr
    tool = subprocess.run(
        [str(prefix / "bin" / "bridged-tool")], capture_output=True, text=True, env=client_env()
    )
    assert tool.stdout.strip() == "bridged-tool 2.0 ok", tool.stderr
    first = _tree_digest(prefix)
    again = run_drawbridge(
        "env",
        "create",
        "--lock",
        str(locked),
        "--prefix",
        str(prefix),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert again.returncode == 0, again.stderr
    assert _tree_digest(prefix) == first, "a second run changes nothing"
    shutil.rmtree(prefix)
    fresh = run_drawbridge(
        "env",
        "create",
        "--lock",
        str(locked),
        "--prefix",
        str(prefix),
        "--cache-dir",
        str(tmp_path / "cache2"),
    )
    assert fresh.returncode == 0, fresh.stderr
    assert _tree_digest(prefix) == first, "a fresh install gives the same files"


def _lock_refused(env_server: Server, folder: Path, text: str, *args: str) -> str:
    """Lock `text`, expecting a refusal; the lock file already there must be left untouched."""
    environment = write_environment(folder, text)
    previous = folder / "drawbridge.lock"
    previous.write_text("the previous lock\n")
    result = lock(env_server, environment, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert previous.read_text() == "the previous lock\n" and sorted(
        p.name for p in folder.iterdir()
    ) == ["drawbridge.lock", "environment.yml"], "nothing written, no partial file left"
    assert "Traceback" not in result.stderr
    return " ".join((result.stdout + result.stderr).split())


def test_missing_packages_are_named_with_reasons(env_server: Server, tmp_path: Path):
    text = (
        ENVIRONMENT.replace("  - demo-conda\n", "  - demo-conda\n  - no-such-conda >=1\n")
        + "    - no-such-pip[extra]\n"
    )
    said = _lock_refused(env_server, tmp_path, text)
    assert "no-such-conda >=1" in said and "not in any channel" in said
    assert "no-such-pip[extra]" in said and "not in Drawbridge's pip index" in said
    assert "nothing was written" in said and "--request" in said


def test_no_build_for_the_platform(env_server: Server, tmp_path: Path):
    said = _lock_refused(
        env_server,
        tmp_path / "conda",
        ENVIRONMENT,
        "--platform",
        "linux-64",
        "--platform",
        "osx-arm64",
    )
    assert "osx-arm64" in said and "no build for osx-arm64 (builds exist for linux-64)" in said
    text = ENVIRONMENT + "    - windows-wheel\n"
    said = _lock_refused(env_server, tmp_path / "pip", text)
    assert f"no wheel for linux-64 with Python {MACHINE_PYTHON} (has: win_amd64.whl)" in said
    newer_glibc = ENVIRONMENT + "    - new-glibc\n"
    said = _lock_refused(env_server, tmp_path / "glibc", newer_glibc)
    assert "no wheel for linux-64" in said and "manylinux_2_28_x86_64.whl" in said
    allowed = lock(
        env_server, write_environment(tmp_path / "glibc-2.28", newer_glibc), "--glibc", "2.28"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "new-glibc" in {
        p.name for p in read_lock(tmp_path / "glibc-2.28/drawbridge.lock", "linux-64").pip
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dependencies: [python\n", "is not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("dependencies:\n  - pip:\n    - --index-url http://elsewhere/\n", "is not supported"),
        (
            "channels: [nowhere]\ndependencies: [python]\n",
            "'nowhere' is neither a Drawbridge channel",
        ),
        ("dependencies: [python]\nwhatever: 1\n", "unknown keys ['whatever']"),
    ],
)
def test_malformed_environment_files(env_server: Server, tmp_path: Path, text: str, message: str):
    assert message in _lock_refused(env_server, tmp_path, text)


@pytest.mark.skipif(not (PYENV / PY27).is_dir(), reason="no pyenv Python 2.7 in the test upstream")
def test_python27_environment(env_server: Server, tmp_path: Path):
    text = "channels: [main, conda-forge]\ndependencies:\n  - python 2.7.*\n  - twoway\n  - pip\n"
    environment = write_environment(tmp_path / "py27", text)
    locked = lock(env_server, environment)
    assert locked.returncode == 0, locked.stdout + locked.stderr
    prefix = tmp_path / "env27"
    created = run_drawbridge(
        "env", "create", "--lock", str(tmp_path / "py27/drawbridge.lock"), "--prefix", str(prefix)
    )
    assert created.returncode == 0, created.stdout + created.stderr
    probe = (
        "import sys, twoway; "
        "sys.stdout.write('%d.%d %s' % (sys.version_info[0], sys.version_info[1], twoway.VALUE))"
    )
    ran = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        env=client_env(),
    )
    assert ran.stdout.split() == ["2.7", "1.0"], ran.stderr
    _python27_pip_part_goes_in_with_its_own_pip(env_server, tmp_path, prefix)
    said = _lock_refused(env_server, tmp_path / "py27-pip", text + "  - pip:\n    - pip-helper\n")
    assert "needs Python 3.6+" in said and "list those packages in the conda part" in said


def _python27_pip_part_goes_in_with_its_own_pip(
    env_server: Server, tmp_path: Path, prefix: Path
) -> None:
    """A 2.7 lock with a pip part (`drawbridge lock` makes none, another tool may): uv cannot
    install into Python 2.7, so the environment's own pip (19.x here) does, hashes required."""
    wheel = make_wheel(tmp_path / "py27-wheels", "old-friend", "1.0", tag="py2.py3-none-any")
    env_server.publish(wheel)
    page = f"{env_server.url}/main/simple/old-friend/"
    listed = httpx.get(page, headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
    listed = listed["files"][0]
    conda = read_lock(tmp_path / "py27/drawbridge.lock", "linux-64")
    with_pip = tmp_path / "py27/with-pip.lock"
    friend = PipPackage(
        "old-friend", "1.0", urljoin(page, listed["url"]), listed["hashes"]["sha256"]
    )
    write_lock(
        Lock(
            channels=[f"{env_server.url}/main/conda"],
            platforms=[LockedPlatform("linux-64", conda.conda, [friend])],
        ),
        with_pip,
    )
    created = run_drawbridge("env", "create", "--lock", str(with_pip), "--prefix", str(prefix))
    assert created.returncode == 0, created.stdout + created.stderr
    ran = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", "import old_friend; print(old_friend.VALUE)"],
        capture_output=True,
        text=True,
        env=client_env(),
    )
    installer = prefix / "lib/python2.7/site-packages/old_friend-1.0.dist-info/INSTALLER"
    assert ran.stdout.strip() == "1.0", ran.stderr
    assert installer.read_text().strip() == "pip"


def test_unknown_platform_is_refused(env_server: Server, tmp_path: Path):
    said = _lock_refused(env_server, tmp_path, ENVIRONMENT, "--platform", "amiga-68k")
    assert "'amiga-68k' is not a platform Drawbridge locks for" in said


def test_request_files_bridging_requests_that_a_maintainer_approves(
    env_server: Server, tmp_path: Path
):
    text = ENVIRONMENT + "    - wanted-later>=3\n"
    said = _lock_refused(env_server, tmp_path, text, "--request")
    assert "request #" in said and "waiting for a maintainer" in said
    home = str(env_server.home.root)
    listed = run_drawbridge("request", "list", "--home", home)
    assert "wanted-later>=3" in listed.stdout and "pending" in listed.stdout, listed.stdout
    number = listed.stdout.split("wanted-later>=3")[0].rsplit("│", 3)[-3].strip()
    page = httpx.get(f"{env_server.url}/ui/requests").text
    assert "wanted-later&gt;=3" in page and "pending" in page and "not in Drawbridge" in page
    refused = run_drawbridge(
        "request", "approve", number, "--home", home, "--token", env_server.token(Role.reader)
    )
    assert refused.returncode == 1 and "only maintainers and admins" in refused.stderr
    approved = run_drawbridge(
        "request", "approve", number, "--home", home, "--token", env_server.token(Role.maintainer)
    )
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert (
        "bridged" in run_drawbridge("request", "list", "--home", home, "--state", "bridged").stdout
    )
    relocked = lock(env_server, tmp_path / "environment.yml")
    assert relocked.returncode == 0, relocked.stderr
    assert "wanted-later" in {
        p.name for p in read_lock(tmp_path / "drawbridge.lock", "linux-64").pip
    }


def _skopeo_inspect(archive: Path) -> dict:
    result = subprocess.run(
        ["skopeo", "inspect", f"oci-archive:{archive}"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _unpack(archive: Path, folder: Path) -> Path:
    """The image's root filesystem, unpacked by umoci (via an OCI layout skopeo copies to)."""
    layout = folder / "layout"
    copied = subprocess.run(
        ["skopeo", "copy", f"oci-archive:{archive}", f"oci:{layout}:latest"],
        capture_output=True,
        text=True,
    )
    assert copied.returncode == 0, copied.stderr
    bundle = folder / "bundle"
    unpacked = subprocess.run(
        ["umoci", "unpack", "--rootless", "--image", f"{layout}:latest", str(bundle)],
        capture_output=True,
        text=True,
    )
    assert unpacked.returncode == 0, unpacked.stderr
    return bundle / "rootfs"


needs_oci_tools = pytest.mark.skipif(
    not (shutil.which("skopeo") and shutil.which("umoci")),
    reason="skopeo and umoci (Debian packages) check the images",
)


def test_env_create_refuses_a_tampered_lock(locked: Path, tmp_path: Path):
    pip_only = next(p for p in read_lock(locked, "linux-64").pip if p.name == "pip-only")
    tampered = tmp_path / "tampered.lock"
    tampered.write_text(locked.read_text().replace(pip_only.sha256, "0" * 64))
    prefix = tmp_path / "env"
    result = run_drawbridge(
        "env",
        "create",
        "--lock",
        str(tampered),
        "--prefix",
        str(prefix),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    said = " ".join(result.stderr.split())
    assert result.returncode == 1 and "does not match the sha256 the lock records" in said, said
    assert f"Expected: sha256:{'0' * 64} Computed: sha256:{pip_only.sha256}" in said, said
    assert "Traceback" not in result.stderr
    assert not list(prefix.glob("lib/python*/site-packages/pip_*")), (
        "none of the pip part installed, the tampered package nor its neighbours"
    )


@needs_oci_tools
def test_image_archive_holds_a_runnable_environment(locked: Path, tmp_path: Path):
    archive = tmp_path / "image.tar"
    made = run_drawbridge("image", "--lock", str(locked), "-o", str(archive), "--tag", "prod")
    assert made.returncode == 0, made.stdout + made.stderr
    inspected = _skopeo_inspect(archive)
    assert (
        inspected["Architecture"] == "amd64"
        and inspected["Os"] == "linux"
        and len(inspected["Layers"]) == 1
    )
    assert (
        "PATH=/opt/env/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        in inspected["Env"]
    )
    rootfs = _unpack(archive, tmp_path)
    python = rootfs / "opt/env/bin/python"
    probe = (
        "import demo_conda, bridged_tool, pip_only, pip_helper; "
        "print(demo_conda.VALUE, pip_only.VALUE)"
    )
    ran = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, env=client_env()
    )
    assert ran.stdout.split() == ["1.0", "1.0"], ran.stderr
    pip_script = rootfs / "opt/env/bin/pip-helper"
    assert pip_script.read_bytes().startswith(b"#!/opt/env/bin/python"), (
        "pip's script points into the image"
    )
    ran = subprocess.run(
        [str(python), str(pip_script)], capture_output=True, text=True, env=client_env()
    )
    assert ran.stdout.strip() == "pip-helper 1.5 ok", ran.stderr
    record = next(
        (rootfs / "opt/env/lib").glob("python*/site-packages/pip_helper-1.5.dist-info/RECORD")
    ).read_text()
    script_row = next(
        line for line in record.splitlines() if line.split(",")[0].endswith("bin/pip-helper")
    )
    assert script_row.split(",")[2] == str(pip_script.stat().st_size), "RECORD matches the script"
    assert not any(
        str(tmp_path).encode() in p.read_bytes()
        for p in (rootfs / "opt/env/bin").iterdir()
        if p.is_file() and not p.is_symlink()
    ), "no script points at the staging folder"
    again = tmp_path / "again.tar"
    assert (
        run_drawbridge("image", "--lock", str(locked), "-o", str(again), "--tag", "prod").returncode
        == 0
    )
    assert _skopeo_inspect(again)["Digest"] == inspected["Digest"], (
        "the same lock gives the same image"
    )


@needs_oci_tools
def test_image_for_another_architecture(env_server: Server, tmp_path: Path):
    text = (
        "channels: [main, conda-forge, other-platforms]\ndependencies:\n  - python "
        f"{MACHINE_PYTHON}.*\n"
        "  - demo-conda\n  - pip:\n    - platform-pick\n"
    )
    environment = write_environment(tmp_path / "project", text)
    locked = lock(env_server, environment, "-p", "linux-aarch64")
    assert locked.returncode == 0, locked.stdout + locked.stderr
    archive = tmp_path / "arm.tar"
    made = run_drawbridge(
        "image",
        "--lock",
        str(tmp_path / "project/drawbridge.lock"),
        "-p",
        "linux-aarch64",
        "-o",
        str(archive),
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert _skopeo_inspect(archive)["Architecture"] == "arm64"
    site = next((_unpack(archive, tmp_path) / "opt/env/lib").glob("python*/site-packages"))
    assert (site / "demo_conda/__init__.py").is_file() and (
        site / "platform_pick/__init__.py"
    ).is_file()
    wheel_tag = (site / "platform_pick-1.0.dist-info/WHEEL").read_text()
    assert "manylinux_2_17_aarch64" in wheel_tag and not (site / "colorama").exists()


@needs_oci_tools
def test_image_on_a_base_image(locked: Path, tmp_path: Path):
    from drawbridge.environments.oci import ImageRequest, write_image

    base_files = tmp_path / "base-etc"
    base_files.mkdir()
    (base_files / "os-release").write_text("ID=test-base\n")
    base = tmp_path / "base.tar"
    write_image(
        ImageRequest(environment=base_files, prefix_in_image="/etc", platform="linux-64"), base
    )
    archive = tmp_path / "image.tar"
    made = run_drawbridge("image", "--lock", str(locked), "-o", str(archive), "--base", str(base))
    assert made.returncode == 0, made.stdout + made.stderr
    assert len(_skopeo_inspect(archive)["Layers"]) == 2
    rootfs = _unpack(archive, tmp_path)
    assert (rootfs / "etc/os-release").read_text() == "ID=test-base\n" and (
        rootfs / "opt/env/bin/python"
    ).exists()


def test_image_refusals_leave_nothing(locked: Path, tmp_path: Path):
    not_an_image = tmp_path / "base.tar"
    not_an_image.write_bytes(b"not a tar")
    refused = run_drawbridge(
        "image",
        "--lock",
        str(locked),
        "-o",
        str(tmp_path / "image.tar"),
        "--base",
        str(not_an_image),
    )
    assert refused.returncode == 1 and "cannot read base image" in refused.stderr
    absent = run_drawbridge(
        "image",
        "--lock",
        str(locked),
        "-o",
        str(tmp_path / "image.tar"),
        "--base",
        str(tmp_path / "debian-12-slim.tar"),
    )
    said = " ".join(absent.stderr.split())
    assert absent.returncode == 1 and "no base image archive at" in said, said
    assert "skopeo copy docker://debian:12-slim oci-archive:debian-12-slim.tar" in said
    missing = run_drawbridge(
        "image", "--lock", str(tmp_path / "nope.lock"), "-o", str(tmp_path / "image.tar")
    )
    assert missing.returncode == 1 and "no lock file" in missing.stderr
    pip_helper = next(p for p in read_lock(locked, "linux-64").pip if p.name == "pip-helper")
    tampered = tmp_path / "tampered.lock"
    tampered.write_text(locked.read_text().replace(pip_helper.sha256, "0" * 64))
    refused = run_drawbridge("image", "--lock", str(tampered), "-o", str(tmp_path / "image.tar"))
    assert refused.returncode == 1 and "does not match the lock" in refused.stderr, refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.tar", "tampered.lock"]


def test_dockerfile_builds_from_the_lock_s_server_alone(
    env_server: Server, locked: Path, tmp_path: Path
):
    """No Docker engine here: the build stage's instructions run as Docker would run them,
    in a fresh venv of a pyenv Python (python:3.12-slim's stand-in) and a scratch root,
    reaching nothing but the server the lock came from."""
    context = tmp_path / "context"
    refused = run_drawbridge(
        "image", "--lock", str(locked), "--dockerfile", "-o", f"{context}/Dockerfile"
    )
    assert refused.returncode == 1 and "lacks it" in refused.stderr, refused.stderr
    assert "drawbridge bridge py-rattler" in " ".join(refused.stderr.split())
    assert not context.exists(), "nothing written when the build could not work"
    env_server.channels.create("tools")
    env_server.publish(wheel_from_installed("py-rattler", tmp_path / "wheels"), channel="tools")
    made = run_drawbridge(
        "image",
        "--lock",
        str(locked),
        "--dockerfile",
        "-o",
        f"{context}/Dockerfile",
        "--channel",
        "tools",
        "--tag",
        "2026.1",
    )
    assert made.returncode == 0, made.stderr
    assert "docker build -t drawbridge-env:2026.1 " in made.stdout, made.stdout
    assert sorted(p.name for p in context.iterdir()) == [
        "Dockerfile",
        "drawbridge-install.py",
        locked.name,
    ]
    text = (context / "Dockerfile").read_text()
    assert "# syntax=" not in text, "a frontend image from Docker Hub cannot be pulled"
    build, final = text.split("\nFROM ${BASE_IMAGE}\n")
    assert f"ARG DRAWBRIDGE_URL={env_server.url}\n" in build, "the lock's server, not 8080"
    assert "pip install" not in build and "drawbridge env create" not in build
    assert final.count("COPY") == 1 and "COPY --from=build /opt/env /opt/env" in final
    assert not any(word in final for word in ("RUN", "pip", "gcc", "compiler"))

    builder = next(
        (v for v in ("3.12.1", "3.13.0", "3.11.7", "3.10.13") if (PYENV / v).is_dir()), None
    )
    if builder is None:
        pytest.skip("no pyenv Python 3.10+ to stand in for the builder image")
    root = tmp_path / "root"
    venv = tmp_path / "builder"
    subprocess.run([str(PYENV / builder / "bin" / "python"), "-m", "venv", str(venv)], check=True)
    run_build_stage(build, context, root, venv / "bin" / "python")
    prefix = root / "opt" / "env"
    probe = subprocess.run(
        [
            str(prefix / "bin" / "python"),
            "-c",
            "import demo_conda, bridged_tool, pip_only, pip_helper, sys; print(sys.prefix)",
        ],
        capture_output=True,
        text=True,
        env=client_env(),
    )
    assert probe.returncode == 0 and probe.stdout.strip() == str(prefix), probe.stderr
    assert not (prefix / "lib" / f"python{MACHINE_PYTHON}" / "site-packages" / "rattler").exists()


def test_private_server_needs_the_token_and_the_lock_keeps_none(
    upstream_channel: Path, tmp_path: Path
):
    mirror = tmp_path / "conda-forge"
    mirror.symlink_to(upstream_channel)
    home = new_home(tmp_path / "private")
    write_config(
        home, f'[server]\nanonymous_read = false\n[bridge]\nupstream_conda = ["{mirror}"]\n'
    )
    run_drawbridge("channel", "create", "main", "--home", str(home.root), check=True)
    server = start_server(home.root)
    try:
        server.publish(
            make_noarch_python_conda(tmp_path / "pkgs", "demo-conda", "1.0", "demo_conda"),
            make_wheel(tmp_path / "w", "pip-helper", "1.5"),
        )
        text = (
            f"channels: [main, conda-forge]\ndependencies:\n  - python {MACHINE_PYTHON}.*\n"
            "  - demo-conda\n  - pip:\n    - pip-helper\n"
        )
        environment = write_environment(tmp_path / "project", text)
        denied = lock(server, environment)
        assert denied.returncode == 1 and "pass a reader token" in denied.stderr, denied.stderr
        token = server.token(Role.reader)
        allowed = lock(server, environment, "--token", token)
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        lock_file = tmp_path / "project" / "drawbridge.lock"
        assert token not in lock_file.read_text(), "the lock never holds the token"
        by_variable = tmp_path / "by-variable.lock"
        for _ in range(2):  # the second starts the first's uv run at once, with $DRAWBRIDGE_TOKEN
            again = run_drawbridge(
                *("lock", "--server", server.url, str(environment), "-o", str(by_variable)),
                token=token,
                env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
                cwd=tmp_path,
            )
            assert again.returncode == 0, again.stdout + again.stderr
            assert by_variable.read_bytes() == lock_file.read_bytes()
        prefix = tmp_path / "env"
        refused = run_drawbridge(
            "env",
            "create",
            "--lock",
            str(lock_file),
            "--prefix",
            str(prefix),
            "--cache-dir",
            str(tmp_path / "c1"),
        )
        assert refused.returncode == 1 and "401" in refused.stderr, refused.stderr
        created = run_drawbridge(
            "env",
            "create",
            "--lock",
            str(lock_file),
            "--prefix",
            str(prefix),
            "--cache-dir",
            str(tmp_path / "c2"),
            token=token,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        ran = subprocess.run(
            [
                str(prefix / "bin" / "python"),
                "-c",
                "import demo_conda, pip_helper; print(pip_helper.VALUE)",
            ],
            capture_output=True,
            text=True,
            env=client_env(),
        )
        assert ran.stdout.strip() == "1.5", ran.stderr
    finally:
        server.stop()
