"""`drawbridge publish` as a process refuses an archive installers cannot read, printing the
reason, publishes the rest and exits 1.

The refusal rules are tested in-process in `http/test_refused_archives.py`."""

from __future__ import annotations

from pathlib import Path

from builders import make_wheel, patch_zip_entry

from drawbridge.channel.home import Home
from clients import run_drawbridge


def test_drawbridge_publish_prints_the_reason_and_exits_1(home: Home, tmp_path: Path):
    """Item 6: `drawbridge publish` crashed on an encrypted entry with a traceback."""
    locked = patch_zip_entry(make_wheel(tmp_path, "locked", "1.0"), "locked/__init__.py", flags=0x1)
    fine = make_wheel(tmp_path, "fine", "1.0")
    result = run_drawbridge(
        "publish", "--home", str(home.root), str(locked), str(fine), timeout=120
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert (
        f"refused {locked}: {locked.name}: entry 'locked/__init__.py' is encrypted" in result.stderr
    ), result.stderr
    assert f"published {fine.name}" in result.stdout
