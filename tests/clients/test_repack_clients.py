"""A repacked wheel's Windows scripts get relocatable launchers (checked with the real
launcher files and a subprocess).

The rest of repacking is tested in `unit/test_repack.py`."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

from builders import WHEEL_SCRIPTS, make_wheel
from conda_archive import conda_json, conda_members

from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.wheels.repack import repack
from drawbridge.bridge.translate.targets import Target


NAMES = default_table()


ENTRY_POINTS = {
    "console_scripts": {"demo-cli": "demo_tool:main"},
    "gui_scripts": {"demo-gui": "demo_tool:main"},
}


def _paths(package: Path) -> dict[str, dict]:
    return {entry["_path"]: entry for entry in conda_json(package, "info/paths.json")["paths"]}


def test_windows_scripts_get_relocatable_launchers(tmp_path: Path):
    """win-64: a `#!python` script and each entry point become a `.exe` launcher (installer's,
    distlib's) that runs the python.exe of the environment it is in, wherever that is, with
    the script in its appended zip; other scripts are copied as they are."""
    wheel = make_wheel(
        tmp_path / "w",
        "demo-tool",
        "1.2",
        tag="cp311-cp311-win_amd64",
        scripts=WHEEL_SCRIPTS,
        entry_points=ENTRY_POINTS,
    )
    package = repack(wheel, Target("win-64", "3.11"), tmp_path / "out", NAMES, [])
    members, paths = conda_members(package.path), _paths(package.path)
    assert not package.notes
    assert members["Scripts/demo-shell"] == WHEEL_SCRIPTS["demo-shell"]
    assert not any(name in members for name in ("Scripts/demo-where", "Scripts/demo-cli-script.py"))
    launchers = {
        "Scripts/demo-where.exe": b"python.exe",
        "Scripts/demo-cli.exe": b"python.exe",
        "Scripts/demo-gui.exe": b"pythonw.exe",
    }
    for name, python in launchers.items():
        launcher = members[name]
        assert launcher.startswith(b"MZ"), name
        # distlib's launcher resolves `<launcher_dir>\` against its own folder, Scripts\
        assert b"#!<launcher_dir>\\..\\" + python + b"\nPK\x03\x04" in launcher, name
        assert "prefix_placeholder" not in paths[name]
    with zipfile.ZipFile(io.BytesIO(members["Scripts/demo-where.exe"])) as zf:
        assert zf.read("__main__.py") == WHEEL_SCRIPTS["demo-where"]
    # python.exe runs the launcher as a zip application: its appended script runs
    runnable = tmp_path / "demo-where.exe"
    runnable.write_bytes(members["Scripts/demo-where.exe"])
    ran = subprocess.run([sys.executable, str(runnable)], capture_output=True, text=True)
    assert ran.stdout.strip() == f"demo-where {sys.prefix}", ran.stderr
