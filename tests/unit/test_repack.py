"""Wheels repacked into conda packages: layout per target, metadata, entry points, refusals."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest
from builders import WHEEL_SCRIPTS, make_wheel
from conda_archive import conda_json, conda_members, conda_modes

from drawbridge.bridge.errors import InvalidWheel
from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.wheels.repack import repack
from drawbridge.bridge.translate.targets import Target


NAMES = default_table()


ENTRY_POINTS = {
    "console_scripts": {"demo-cli": "demo_tool:main"},
    "gui_scripts": {"demo-gui": "demo_tool:main"},
}


@pytest.fixture
def pure_wheel(tmp_path: Path) -> Path:
    return make_wheel(
        tmp_path / "w",
        "demo-tool",
        "1.2",
        requires_python=">=3.8",
        entry_points=ENTRY_POINTS,
        license_text="MIT License\n",
    )


def test_pure_wheel_becomes_noarch_python(pure_wheel: Path, tmp_path: Path):
    package = repack(pure_wheel, None, tmp_path / "out", NAMES, ["python >=3.8", "six"])
    assert package.subdir == "noarch" and package.path.name.startswith("demo-tool-1.2-pyh")
    index = conda_json(package.path, "info/index.json")
    assert index["noarch"] == "python" and index["depends"] == ["python >=3.8", "six"]
    link = conda_json(package.path, "info/link.json")
    assert sorted(link["noarch"]["entry_points"]) == [
        "demo-cli = demo_tool:main",
        "demo-gui = demo_tool:main",
    ]
    members = conda_members(package.path)
    assert "site-packages/demo_tool/__init__.py" in members
    assert members["site-packages/demo_tool-1.2.dist-info/INSTALLER"] == b"conda\n"
    assert not any(name.startswith(("bin/", "python-scripts/")) for name in members)
    record = members["site-packages/demo_tool-1.2.dist-info/RECORD"].decode()
    assert "drawbridge-entry-point" not in record and "demo_tool/__init__.py" in record
    about = conda_json(package.path, "info/about.json")
    assert about["summary"].startswith("demo-tool") and about["license"] == "MIT"
    assert any(name.startswith("info/licenses/") for name in members)
    listed = [entry["_path"] for entry in conda_json(package.path, "info/paths.json")["paths"]]
    assert "site-packages/demo_tool/__init__.py" in listed
    assert not any(path.startswith("info/") for path in listed), (
        "info/link.json is metadata, not payload"
    )


@pytest.mark.parametrize(
    ("target", "tag", "site", "script"),
    [
        (
            Target("win-64", "3.11"),
            "cp311-cp311-win_amd64",
            "Lib/site-packages",
            "Scripts/demo-cli.exe",
        ),
        (
            Target("osx-arm64", "3.12"),
            "cp312-cp312-macosx_11_0_arm64",
            "lib/python3.12/site-packages",
            "bin/demo-cli",
        ),
        (
            Target("linux-aarch64", "3.9"),
            "cp39-cp39-manylinux_2_17_aarch64",
            "lib/python3.9/site-packages",
            "bin/demo-cli",
        ),
    ],
)
def test_binary_wheel_layout_per_target(
    tmp_path: Path, target: Target, tag: str, site: str, script: str
):
    wheel = make_wheel(
        tmp_path / "w",
        "demo-tool",
        "1.2",
        tag=tag,
        entry_points={"console_scripts": ENTRY_POINTS["console_scripts"]},
    )
    package = repack(wheel, target, tmp_path / "out", NAMES, ["six"])
    assert package.subdir == target.subdir
    index = conda_json(package.path, "info/index.json")
    major, minor = target.python_tuple
    assert f"python >={major}.{minor},<{major}.{minor + 1}.0a0" in index["depends"]
    assert f"python_abi {major}.{minor}.* *_cp{major}{minor}" in index["depends"]
    assert "noarch" not in index and index["subdir"] == target.subdir
    members = conda_members(package.path)
    assert f"{site}/demo_tool/__init__.py" in members
    assert script in members
    if target.os != "win":
        assert members[script].startswith(b"#!") and b"demo_tool" in members[script]
    else:
        assert members[script].startswith(b"MZ") and not package.notes


def _rewrite_member(wheel: Path, name: str, data: bytes) -> None:
    with zipfile.ZipFile(wheel) as zf:
        entries = {info.filename: zf.read(info) for info in zf.infolist()}
    entries[name] = data
    with zipfile.ZipFile(wheel, "w") as zf:
        for entry, content in entries.items():
            zf.writestr(entry, content)


def test_wrong_record_hash_is_refused(pure_wheel: Path, tmp_path: Path):
    _rewrite_member(pure_wheel, "demo_tool/__init__.py", b"VALUE = 'tampered'\n")
    with pytest.raises(InvalidWheel, match="RECORD does not match"):
        repack(pure_wheel, None, tmp_path / "out", NAMES, [])
    assert not list((tmp_path / "out").glob("*.conda"))


def test_path_traversal_is_refused(tmp_path: Path):
    evil = make_wheel(tmp_path / "w", "evil", "1.0", extra_entries={"../../outside.py": b"x"})
    with pytest.raises(InvalidWheel, match="climbs out"):
        repack(evil, None, tmp_path / "out", NAMES, [])
    assert not (tmp_path / "outside.py").exists()


def test_missing_metadata_is_refused(tmp_path: Path):
    wheel = tmp_path / "hollow-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("hollow/__init__.py", "")
    with pytest.raises(InvalidWheel, match="hollow"):
        repack(wheel, None, tmp_path / "out", NAMES, [])


def test_names_are_mapped(tmp_path: Path):
    wheel = make_wheel(tmp_path / "w", "torch", "2.0.0", tag="cp311-cp311-manylinux_2_17_x86_64")
    package = repack(wheel, Target("linux-64", "3.11"), tmp_path / "out", NAMES, [])
    assert package.name == "pytorch" and package.path.name.startswith("pytorch-2.0.0-py311h")


def test_repack_refuses_a_decompression_bomb_quickly(tmp_path: Path):
    """A wheel whose payload inflates to 256 MiB (in a few hundred KB) is refused by the
    bounded reader before anything is inflated, as publishing refuses it."""
    import time

    from bombs import wheel_data_bomb

    from drawbridge.bridge.errors import InvalidWheel

    bomb = wheel_data_bomb(tmp_path / "in")
    started = time.monotonic()
    with pytest.raises(InvalidWheel, match="bomb"):
        repack(bomb, None, tmp_path / "out", default_table(), ["python >=3.8"])
    assert time.monotonic() - started < 10
    assert not list((tmp_path / "out").glob("*.conda"))


def _paths(package: Path) -> dict[str, dict]:
    return {entry["_path"]: entry for entry in conda_json(package, "info/paths.json")["paths"]}


@pytest.mark.parametrize(
    ("target", "tag", "scripts"),
    [
        (None, "py3-none-any", "python-scripts"),
        (Target("linux-64", "3.11"), "cp311-cp311-manylinux_2_17_x86_64", "bin"),
        (Target("osx-arm64", "3.12"), "cp312-cp312-macosx_11_0_arm64", "bin"),
    ],
)
def test_python_scripts_name_a_prefix_placeholder(
    tmp_path: Path, target: Target | None, tag: str, scripts: str
):
    """A `#!python` script names the environment's Python through a prefix placeholder
    that paths.json lists as text, which conda and rattler replace at install; a script
    that is not Python's is copied as it is; both are executable."""
    bare = b"#!python\nprint('stored without a mode, as a wheel built on Windows has it')\n"
    wheel = make_wheel(
        tmp_path / "w",
        "demo-tool",
        "1.2",
        tag=tag,
        scripts=WHEEL_SCRIPTS,
        entry_points=ENTRY_POINTS,
        extra_entries={"demo_tool-1.2.data/scripts/demo-bare": bare},
    )
    package = repack(wheel, target, tmp_path / "out", NAMES, ["python >=3.8"])
    members, modes, paths = (
        conda_members(package.path),
        conda_modes(package.path),
        _paths(package.path),
    )
    script = paths[f"{scripts}/demo-where"]
    assert script["file_mode"] == "text", script
    placeholder = script["prefix_placeholder"]
    assert placeholder.startswith("/") and str(tmp_path) not in placeholder
    shebang, _, rest = members[f"{scripts}/demo-where"].partition(b"\n")
    assert shebang == f"#!{placeholder}/bin/python".encode()
    assert rest == WHEEL_SCRIPTS["demo-where"].partition(b"\n")[2]
    assert members[f"{scripts}/demo-shell"] == WHEEL_SCRIPTS["demo-shell"]
    assert "prefix_placeholder" not in paths[f"{scripts}/demo-shell"]
    assert paths[f"{scripts}/demo-bare"]["prefix_placeholder"] == placeholder
    for name in ("demo-where", "demo-shell", "demo-bare"):  # as pip makes every script
        assert modes[f"{scripts}/{name}"] & stat.S_IXUSR, name
    if target is not None:  # installer's own entry-point scripts, through the same placeholder
        assert paths["bin/demo-cli"]["prefix_placeholder"] == placeholder
        assert members["bin/demo-cli"].startswith(f"#!{placeholder}/bin/python\n".encode())
    else:
        assert package.notes and "Scripts/demo-where" in package.notes[0]


@pytest.mark.parametrize(
    ("target", "tag"),
    [
        (None, "py3-none-any"),
        (Target("linux-64", "3.11"), "cp311-cp311-manylinux_2_17_x86_64"),
        (Target("osx-arm64", "3.12"), "cp312-cp312-macosx_11_0_arm64"),
        (Target("win-64", "3.11"), "cp311-cp311-win_amd64"),
    ],
)
def test_no_path_of_the_work_folder_is_published(tmp_path: Path, target: Target | None, tag: str):
    """Nothing the bridge repacks carries a path of the folder it worked in (its staging
    prefix lives there), in any file, info/ included."""
    wheel = make_wheel(
        tmp_path / "w",
        "demo-tool",
        "1.2",
        tag=tag,
        scripts=WHEEL_SCRIPTS,
        entry_points=ENTRY_POINTS,
        license_text="MIT License\n",
    )
    package = repack(wheel, target, tmp_path / "work" / "out", NAMES, ["python >=3.8"])
    for name, data in conda_members(package.path).items():
        for leak in (str(tmp_path).encode(), b".repack-"):
            assert leak not in data and leak.decode() not in name, (name, leak)
