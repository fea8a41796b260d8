"""Issue 10, items 3, 4 and 6: a crash, a full disk or a damaged file never breaks a channel.

- SIGKILL of `drawbridge publish` or of the server at each step of a publish (the
  `DRAWBRIDGE_TEST_CRASH_AT` hook of `drawbridge.channel.faults`); after a restart every
  recorded file is indexed and downloadable with its recorded hash, nothing unrecorded is
  left, and the same publish run again succeeds.
- A full disk (a small tmpfs home, when run as root) and other OS failures: 507 or a
  clear 5xx, nothing recorded, no orphan, no half page.
- `drawbridge verify` and `drawbridge index --force` name and quarantine damaged files.
"""

from __future__ import annotations

import errno
import time
from pathlib import Path

import pytest
from builders import make_wheel
from served_state import assert_consistent, InProcess, served_and_recorded

from drawbridge.channel import pip_view, publishing
from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels


def test_a_permission_error_is_a_clear_500_and_leaves_nothing(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    client = InProcess(home)
    assert client.upload(make_wheel(tmp_path, "base", "1.0")).status_code == 200
    before = served_and_recorded(home)

    def refuse(_source: Path, target: Path) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(publishing, "link_or_copy_new", refuse)
    response = client.upload(make_wheel(tmp_path, "denied", "1.0"))
    assert response.status_code == 500
    assert (
        "the system refused it" in response.json()["detail"]
        and "Permission denied" in response.json()["detail"]
    )
    assert served_and_recorded(home) == before
    assert_consistent(home)


def test_an_io_error_while_writing_pages_unpublishes_the_file(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The file was placed and recorded when the pages failed: it is unpublished again."""
    client = InProcess(home)
    assert client.upload(make_wheel(tmp_path, "base", "1.0")).status_code == 200
    before = served_and_recorded(home)
    real_write = pip_view.write_files_atomic

    def failing(files: dict[Path, bytes]) -> None:
        if any("late" in str(path) for path in files):
            raise OSError(errno.EIO, "Input/output error")
        real_write(files)

    monkeypatch.setattr(pip_view, "write_files_atomic", failing)
    response = client.upload(make_wheel(tmp_path, "late", "1.0"))
    assert response.status_code == 500 and "Input/output error" in response.json()["detail"]
    assert served_and_recorded(home) == before
    assert_consistent(home)


def test_leftovers_and_half_pages_are_repaired_on_start(channels: Channels, tmp_path: Path):
    channels.publish("main", make_wheel(tmp_path, "half", "1.0"))
    layout = channels.home.channel("main")
    page = layout.simple_dir / "half"
    twin = (page / "index.json").read_bytes()
    for name in ("index.json", "index.json.gz"):  # what an older Drawbridge left on a full disk
        (page / name).unlink()
    leftovers = [
        layout.simple_dir / ".index.html.x1y2.tmp",
        layout.conda_dir / "noarch" / ".repodata.json.abc.tmp",
        layout.root / ".trial-123.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"half written")
    stale = channels.home.incoming_dir / ".incoming.stale"
    stale.write_bytes(b"an upload a crash interrupted")
    time.sleep(1.5)  # a ctime cannot be set: let the stale upload age for real
    fresh = channels.home.incoming_dir / ".incoming.fresh"
    fresh.write_bytes(b"an upload in progress")
    outcome = {o.channel: o for o in channels.recover(incoming_stale_after=1.0)}["main"]
    assert (page / "index.json").read_bytes() == twin and (page / "index.json.gz").exists()
    assert outcome.repaired_pages == ["half"]
    assert not any(path.exists() for path in leftovers)
    assert len(outcome.temporaries) == len(leftovers)
    assert not stale.exists() and fresh.exists()


def test_verify_rewrites_a_damaged_metadata_file_from_its_wheel(channels: Channels, tmp_path: Path):
    wheel = make_wheel(tmp_path, "meta", "1.0")
    channels.publish("main", wheel)
    metadata = channels.files_dir("main") / (wheel.name + ".metadata")
    good = metadata.read_bytes()
    metadata.write_bytes(b"garbage")
    report = channels.verify("main")
    assert report.ok and report.repaired == [wheel.name + ".metadata"]
    assert metadata.read_bytes() == good
