"""`drawbridge bridge` end to end against an offline upstream PyPI (another Drawbridge)."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from builders import make_conda_tar_bz2, make_sdist, make_wheel
from clients import client_env, PY27, PYENV, run_drawbridge, solve_and_install
from databases import new_home
from servers import Server, start_server
from served_state import conda_index_file

from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels

TARGET_ARGS = [
    "--platform",
    "linux-64",
    "--platform",
    "win-64",
    "--python",
    "3.11",
    "--python",
    "3.12",
]


def _bad_record_wheel(folder: Path) -> Path:
    wheel = make_wheel(folder, "broken-record", "1.0")
    with zipfile.ZipFile(wheel) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    entries["broken_record/__init__.py"] = b"VALUE = 'tampered'\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Server:
    """An upstream PyPI holding projects that exercise every route and refusal."""
    folder = tmp_path_factory.mktemp("upstream-dists")
    server = start_server(tmp_path_factory.mktemp("upstream") / "home")
    server.publish(
        make_wheel(
            folder,
            "app-tool",
            "1.0",
            requires_python=">=3.8",
            requires=[
                "helper>=1.0",
                'winonly; sys_platform == "win32"',
                'oldpy; python_version < "3.10"',
                'fancy; extra == "fancy"',
            ],
            entry_points={"console_scripts": {"app-tool": "app_tool:main"}},
        ),
        make_wheel(folder, "helper", "1.0", requires_python=">=3.8"),
        make_wheel(folder, "helper", "2.0", requires_python=">=3.8"),
        make_wheel(folder, "winonly", "1.0"),
        make_wheel(folder, "oldpy", "1.0"),
        make_wheel(
            folder,
            "twoway",
            "1.0",
            tag="py2.py3-none-any",
            entry_points={"console_scripts": {"twoway": "twoway:main"}},
        ),
        make_wheel(folder, "binary-thing", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64"),
        make_wheel(folder, "binary-thing", "1.0", tag="cp311-cp311-win_amd64"),
        make_sdist(folder, "sdist-only", "1.0"),
        _bad_record_wheel(folder),
        make_wheel(folder, "tampered", "1.0"),
    )
    tampered = server.channels.files_dir("main") / "tampered-1.0-py3-none-any.whl"
    tampered.write_bytes(tampered.read_bytes() + b"\0")  # the index still claims the old sha256
    yield server
    server.stop()


@pytest.fixture
def target_home(tmp_path: Path) -> Path:
    home = new_home(tmp_path / "home")
    Channels(home, Database(home.database_url)).create("main")
    return home.root


def bridge(home: Path, upstream_url: str, *args: str) -> subprocess.CompletedProcess:
    return run_drawbridge(
        "bridge", "--upstream-pypi", upstream_url, *TARGET_ARGS, *args, home=home, timeout=300
    )


def channel_state(home: Path) -> tuple[dict[str, list[str]], list[str]]:
    conda = {}
    for subdir in ("noarch", "linux-64", "win-64"):
        repodata = conda_index_file(home / "channels/main/conda" / subdir)
        conda[subdir] = sorted(repodata["packages.conda"])
    wheels = sorted(p.name for p in (home / "channels/main/pypi/files").glob("*.whl"))
    return conda, wheels


def test_dry_run_prints_the_plan_and_changes_nothing(upstream: Server, target_home: Path):
    before = channel_state(target_home)
    result = bridge(
        target_home, f"{upstream.url}/main/simple/", "--dry-run", "app-tool", "sdist-only"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in ("app-tool", "helper", "winonly", "wheel", "sdist-only", "recipe", "oldpy"):
        assert expected in result.stdout
    assert channel_state(target_home) == before


def test_bridge_follows_the_closure_and_splits_by_platform(upstream: Server, target_home: Path):
    result = bridge(target_home, f"{upstream.url}/main/simple/", "app-tool")
    assert result.returncode == 0, result.stdout + result.stderr
    conda, wheels = channel_state(target_home)
    # the home is configured for linux-aarch64 too, which this run did not work out: Linux
    # gets one package per subdir x Python; Windows is whole (win-64 is its only configured
    # subdir), so its packages are noarch for Windows alone (`__win`), winonly among them
    assert [n.split("-py")[0] for n in conda["linux-64"]] == ["app-tool-1.0"] * 2 + [
        "helper-2.0"
    ] * 2
    assert conda["win-64"] == []
    noarch = conda_index_file(target_home / "channels/main/conda/noarch")
    windows = {r["name"]: r["depends"] for r in noarch["packages.conda"].values()}
    assert sorted(windows) == ["app-tool", "helper", "winonly"]
    assert all("__win" in depends for depends in windows.values())
    assert "oldpy-1.0-py3-none-any.whl" not in wheels  # its marker is false on 3.11 and 3.12
    assert "app_tool-1.0-py3-none-any.whl" in wheels and "helper-2.0-py3-none-any.whl" in wheels
    assert "left out" in result.stdout and "oldpy" in result.stdout and "fancy" in result.stdout
    assert "winonly" in windows["app-tool"] and "helper >=1.0" in windows["app-tool"]
    linux = conda_index_file(target_home / "channels/main/conda/linux-64")
    app_tool = [r for r in linux["packages.conda"].values() if r["name"] == "app-tool"]
    assert app_tool and all("winonly" not in r["depends"] for r in app_tool)
    # each package records the wheel it was repacked from (promotion carries them along)
    home = new_home(target_home)
    made = {
        row.filename: (row.made_how, row.made_from)
        for row in Channels(home, Database(home.database_url)).conda_packages("main")
    }
    assert made and all(how == "wheel" for how, _ in made.values())
    assert {source for _, source in made.values()} <= set(wheels)
    helper = next(name for name in made if name.startswith("helper-2.0"))
    assert made[helper] == ("wheel", "helper-2.0-py3-none-any.whl")


def test_bad_inputs_are_refused_and_the_rest_still_bridged(upstream: Server, target_home: Path):
    result = bridge(
        target_home,
        f"{upstream.url}/main/simple/",
        "helper",
        "broken-record",
        "tampered",
        "no-such-project",
        "winonly>=9",
        "sdist-only",
    )
    assert result.returncode == 1
    out = result.stdout
    assert "RECORD does not match" in out
    assert "sha256" in out and "tampered" in out
    assert "no project 'no-such-project'" in out
    assert "no version satisfies winonly>=9" in out
    assert "needs a recipe" in out
    conda, wheels = channel_state(target_home)
    assert [n.rsplit("-", 1)[0] for n in conda["noarch"]] == ["helper-2.0"]
    assert wheels == ["helper-2.0-py3-none-any.whl"]
    assert not any(
        n.startswith(("broken", "tampered")) for subdir in conda.values() for n in subdir
    )


def test_binary_wheels_cover_only_their_targets(upstream: Server, target_home: Path):
    result = bridge(target_home, f"{upstream.url}/main/simple/", "binary-thing")
    assert result.returncode == 0, result.stdout + result.stderr
    conda, _ = channel_state(target_home)
    assert len(conda["linux-64"]) == 1 and conda["linux-64"][0].startswith(
        "binary-thing-1.0-py311h"
    )
    assert len(conda["win-64"]) == 1
    assert "1.0 has no wheel for Python 3.12 on linux-64" in result.stdout  # no sdist either
    assert "1.0 has no wheel for Python 3.12 on win-64" in result.stdout


def test_upstream_conda_carries_it(upstream: Server, target_home: Path, tmp_path: Path):
    import asyncio

    from rattler.index import index_fs

    mirror = tmp_path / "mirror"
    make_conda_tar_bz2(mirror / "noarch", "helper", "2.0", "pyh0_0", "noarch")
    asyncio.run(index_fs(mirror, force=True))
    result = bridge(
        target_home, f"{upstream.url}/main/simple/", "--upstream-conda", mirror.as_uri(), "app-tool"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "upstream conda has it" in result.stdout
    conda, wheels = channel_state(target_home)
    assert not any(n.startswith("helper") for n in conda["noarch"])
    assert any(n.startswith("app-tool") for n in conda["linux-64"])


def test_drop_folder_upstream(target_home: Path, tmp_path: Path):
    drop = tmp_path / "drop"
    make_wheel(drop, "dropped-in", "0.5", requires=["helper"])
    make_wheel(drop / "sub", "helper", "1.0")
    result = bridge(target_home, str(drop), "dropped-in")
    assert result.returncode == 0, result.stdout + result.stderr
    conda, wheels = channel_state(target_home)
    assert {n.rsplit("-", 1)[0] for n in conda["noarch"]} == {"dropped-in-0.5", "helper-1.0"}


def test_the_result_says_what_a_package_could_not_carry(target_home: Path, tmp_path: Path):
    """A noarch package's `#!python` script is no command on Windows (as conda-forge's are
    not): the bridge's result table says so for the project."""
    drop = tmp_path / "drop"
    make_wheel(drop, "scripted", "1.0", scripts={"scripted-run": b"#!python\nprint('ran')\n"})
    result = bridge(target_home, str(drop), "scripted")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "3 conda package(s), 1 wheel(s) to pip; script 'scripted-run' is a command on Linux "
        "and macOS; on Windows it lands as Scripts/scripted-run, to be run with python"
        in result.stdout
    ), result.stdout


def test_bridged_package_installs_and_runs(
    upstream: Server, upstream_channel: Path, target_home: Path, tmp_path: Path
):
    result = bridge(target_home, f"{upstream.url}/main/simple/", "app-tool")
    assert result.returncode == 0, result.stdout + result.stderr
    server = start_server(target_home)
    try:
        prefix = tmp_path / "env"
        installed = solve_and_install(
            server, upstream_channel, prefix, ["python 3.11.*", "app-tool"], tmp_path / "cache"
        )
        assert {"app-tool=1.0", "helper=2.0"} <= set(installed)
        run = subprocess.run(
            [str(prefix / "bin" / "app-tool")], capture_output=True, text=True, env=client_env()
        )
        assert run.returncode == 0 and run.stdout.strip() == "app-tool 1.0 ok", run.stderr
    finally:
        server.stop()


@pytest.mark.skipif(not (PYENV / PY27).is_dir(), reason="no pyenv Python 2.7.18")
def test_bridged_py2_py3_wheel_in_a_python27_prefix(
    upstream: Server, upstream_channel: Path, target_home: Path, tmp_path: Path
):
    result = run_drawbridge(
        "bridge",
        "--home",
        str(target_home),
        "--upstream-pypi",
        f"{upstream.url}/main/simple/",
        "--platform",
        "linux-64",
        "--python",
        "2.7",
        "--python",
        "3.11",
        "twoway",
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    server = start_server(target_home)
    try:
        prefix = tmp_path / "env27"
        installed = solve_and_install(
            server, upstream_channel, prefix, ["python 2.7.*", "twoway"], tmp_path / "cache"
        )
        assert "twoway=1.0" in installed and "python=2.7.18" in installed
        imported = subprocess.run(
            [str(prefix / "bin" / "python"), "-c", "import twoway; print(twoway.VALUE)"],
            capture_output=True,
            text=True,
            env=client_env(),
        )
        assert imported.stdout.strip() == "1.0", imported.stderr
        assert (prefix / "lib" / "python2.7" / "site-packages" / "twoway" / "__init__.py").exists()
        launcher = subprocess.run(
            [str(prefix / "bin" / "twoway")], capture_output=True, text=True, env=client_env()
        )
        assert launcher.stdout.strip() == "twoway 1.0 ok", launcher.stderr
    finally:
        server.stop()


def test_manylinux_baseline_comes_from_the_configuration(target_home: Path, tmp_path: Path):
    drop = tmp_path / "drop"
    make_wheel(drop, "newglibc", "1.0", tag="cp311-cp311-manylinux_2_28_x86_64")
    refused = bridge(target_home, str(drop), "--dry-run", "newglibc")
    # the default baseline is 2_17, and the plan says how to change it
    assert "1.0 needs manylinux_2_28: raise manylinux_glibc_minor to 28 to get it" in refused.stdout
    config = target_home / "drawbridge.toml"
    config.write_text(
        config.read_text().replace("manylinux_glibc_minor = 17", "manylinux_glibc_minor = 28")
    )
    allowed = bridge(target_home, str(drop), "--dry-run", "newglibc")
    assert (
        "│ wheel  │ linux-64: py3.11" in allowed.stdout and "manylinux_2_28" not in allowed.stdout
    )


def test_macos_baseline_comes_from_the_configuration(target_home: Path, tmp_path: Path):
    """The fix the plan names for a wheel that needs a newer macOS is a key that exists:
    set it, and the same plan takes the wheel, repacked for osx-arm64 and installable."""
    drop = tmp_path / "drop"
    make_wheel(drop, "newmac", "1.0", tag="cp311-cp311-macosx_14_0_arm64")
    args = ("--platform", "osx-arm64", "--python", "3.11", "newmac")
    home_arg = ["--home", str(target_home), "--upstream-pypi", str(drop)]
    refused = run_drawbridge("bridge", *home_arg, "--dry-run", *args)
    said = " ".join(refused.stdout.split())
    assert "1.0 needs macOS 14.0: set [bridge] macos_baseline osx-arm64 to 14.0 to get it" in said
    config = target_home / "drawbridge.toml"
    text = config.read_text()
    assert 'macos_baseline = { osx-64 = "10.13", osx-arm64 = "11.0" }' in text  # the default
    config.write_text(text.replace('osx-arm64 = "11.0"', 'osx-arm64 = "14.0"'))
    published = run_drawbridge("bridge", *home_arg, *args)
    assert published.returncode == 0, published.stdout + published.stderr
    repodata = conda_index_file(target_home / "channels/main/conda/osx-arm64")
    (record,) = repodata["packages.conda"].values()
    assert (record["name"], record["version"]) == ("newmac", "1.0")


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ('{ osx-arm64 = "10.15" }', "macos_baseline osx-arm64 must be a macOS version from 11.0"),
        ("{ osx-arm64 = 12 }", "must be a macOS version from 11.0 on, as a string"),
        ('{ linux-64 = "12.0" }', "macos_baseline has 'linux-64'; its keys are the Mac subdirs"),
        ('{ osx-64 = "ten" }', "macos_baseline osx-64 must be a macOS version from 10.9"),
    ],
)
def test_a_wrong_macos_baseline_is_named_when_the_home_loads(
    target_home: Path, entry: str, said: str
):
    config = target_home / "drawbridge.toml"
    config.write_text(
        re.sub(r"macos_baseline = \{[^}]*\}", f"macos_baseline = {entry}", config.read_text())
    )
    answer = run_drawbridge("bridge", "--home", str(target_home), "--dry-run", "anything")
    assert answer.returncode != 0 and said in " ".join(answer.stderr.split()), answer.stderr


def test_nothing_uninstallable_is_published(
    upstream: Server, upstream_channel: Path, target_home: Path, tmp_path: Path
):
    """A closure whose dependency cannot be made (its RECORD lies) leaves the dependent
    uninstallable: the installability check refuses it with the missing piece, and none of
    its conda packages is published, while an independent project still is."""
    drop = tmp_path / "drop"
    make_wheel(drop, "needs-broken", "1.0", requires=["broken-record"])
    _bad_record_wheel(drop)
    make_wheel(drop, "standalone", "1.0")
    result = run_drawbridge(
        "bridge",
        "--home",
        str(target_home),
        "--upstream-pypi",
        str(drop),
        "--upstream-conda",
        upstream_channel.as_uri(),
        "--platform",
        "linux-64",
        "--python",
        "3.11",
        "needs-broken",
        "standalone",
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "no solver could install them: needs-broken 1.0 (linux-64, py3.11): nothing provides "
        "broken-record" in result.stdout
    )
    conda, _ = channel_state(target_home)
    published = {n.rsplit("-", 1)[0] for subdir in conda.values() for n in subdir}
    assert published == {"standalone-1.0"}
    check = run_drawbridge(
        "bridge",
        "--home",
        str(target_home),
        "--check",
        "--upstream-conda",
        upstream_channel.as_uri(),
        "--platform",
        "linux-64",
        "--python",
        "3.11",
        timeout=300,
    )
    assert check.returncode == 0 and "0 failing" in check.stdout, check.stdout + check.stderr


def test_targets_without_a_wheel_get_a_pending_recipe(target_home: Path, tmp_path: Path):
    """A release with a Linux wheel and only an sdist for Windows: Linux gets its package,
    Windows a recipe that waits for review, named in the plan and in `recipe list`."""
    drop = tmp_path / "drop"
    make_wheel(drop, "partly", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64")
    make_sdist(drop, "partly", "1.0")
    result = bridge(target_home, str(drop), "partly")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "│ recipe │ win-64: py3.11" in result.stdout
    assert "recipe for partly 1.0 written, pending review" in result.stdout
    conda, _ = channel_state(target_home)
    assert [n.split("-py")[0] for n in conda["linux-64"]] == ["partly-1.0"]
    assert conda["win-64"] == []
    listed = run_drawbridge("recipe", "list", "--home", str(target_home))
    assert "partly" in listed.stdout and "pending" in listed.stdout, listed.stdout
