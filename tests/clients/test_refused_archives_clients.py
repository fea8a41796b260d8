"""`drawbridge publish` as a process refuses an archive installers cannot read, printing the
reason, publishes the rest and exits 1.

The refusal rules are tested in-process in `http/test_refused_archives.py`."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from builders import make_wheel

from drawbridge.channel.home import Home
from clients import run_drawbridge


_CENTRAL, _LOCAL = b"PK\x01\x02", b"PK\x03\x04"


def _patch(path: Path, entry: str, *, flags: int = 0, method: int | None = None) -> Path:
    """Set `flags` in `entry`'s general-purpose bits, or its compression `method`, in its
    local header and its central directory record alike, in place."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local, record = zf.getinfo(entry).header_offset, zf.start_dir
    assert data[local : local + 4] == _LOCAL
    while data[record : record + 4] == _CENTRAL:
        size = struct.unpack("<HHH", data[record + 28 : record + 34])
        if data[record + 46 : record + 46 + size[0]].decode() == entry:
            break
        record += 46 + sum(size)
    else:
        raise AssertionError(f"{entry} is not in the central directory")
    for flags_at in (local + 6, record + 8):  # the method follows the flags in both
        old_flags, old_method = struct.unpack("<HH", data[flags_at : flags_at + 4])
        new_method = old_method if method is None else method
        data[flags_at : flags_at + 4] = struct.pack("<HH", old_flags | flags, new_method)
    path.write_bytes(bytes(data))
    return path


def test_drawbridge_publish_prints_the_reason_and_exits_1(home: Home, tmp_path: Path):
    """Item 6: `drawbridge publish` crashed on an encrypted entry with a traceback."""
    locked = _patch(make_wheel(tmp_path, "locked", "1.0"), "locked/__init__.py", flags=0x1)
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
