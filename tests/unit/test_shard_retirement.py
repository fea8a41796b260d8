"""A shard its index no longer names is removed once its grace is over (`shards._Retired`,
`shards.sweep` on a server's start): each publish of a name used to leave the name's old
shard behind, each holding all of the name's packages, so a name's shards took disk space
quadratic in its builds. A shard a reader may still ask for (within the grace), or that
its name has again (content-addressed: a package removed brings the older shard back),
stays."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from drawbridge.channel import shards
from drawbridge.channel.storage import wait_for_releases

from test_shard_index import _filename, _indexed, _record

Changes = dict[str, dict[str, shards.Record | None]]


def _update(folder: Path, name: str, version: str, add: bool = True) -> None:
    record = _record(name, version) if add else None
    changes: Changes = {name: {_filename(name, version): record}}
    shards.update(folder, "noarch", changes)
    wait_for_releases()


def _on_disk(folder: Path) -> set[str]:
    return {p.name for p in (folder / shards.SHARDS_DIR).iterdir()}


def _named(folder: Path) -> set[str]:
    index = shards.read_index(folder)
    assert index is not None
    return {f"{d.hex()}{shards.SHARD_SUFFIX}" for d in index["shards"].values()}


@pytest.fixture(autouse=True)
def _nothing_retired_before() -> None:
    shards._RETIRED.forget_after_fork()  # another test's folders are not this one's


def test_a_replaced_shard_stays_for_its_grace_then_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _model, _order = _indexed(tmp_path, ["a", "b"])
    for version in ("1.1", "1.2", "1.3"):
        _update(folder, "a", version)
    assert len(_on_disk(folder)) == 5, "within the grace, a's three old shards are kept"
    monkeypatch.setattr(shards, "SHARD_GRACE", 0.0)
    _update(folder, "b", "1.1")
    assert _on_disk(folder) == _named(folder), "past it, the next update removes them"
    assert len(_on_disk(folder)) == 2


def test_a_shard_its_name_has_again_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """a 1.1 published then removed: a's shard is again the one of a 1.0 alone, whose file
    is there (so not written again) and was retired by the publish of 1.1, its grace over
    by the removal's update (which must look at the index after its change)."""
    folder, _model, _order = _indexed(tmp_path, ["a", "b"])
    before = _named(folder)
    _update(folder, "a", "1.1")
    monkeypatch.setattr(shards, "SHARD_GRACE", 0.0)
    _update(folder, "a", "1.1", add=False)
    assert _named(folder) == before
    assert _named(folder) <= _on_disk(folder), "a's shard, named again, is still there"
    for digest in shards.read_index(folder)["shards"].values():  # type: ignore[index]
        assert shards.read_shard(folder, digest)["packages"]
    assert _on_disk(folder) == _named(folder)


def test_a_server_s_start_sweeps_what_an_ended_process_retired(tmp_path: Path):
    """The retired list is the process's own: what it had not removed when it ended goes at
    the next start (`recovery`, through `shards.sweep`), past its grace counted from when it
    was replaced (retiring touches the file), not from when it was written."""
    folder, _model, _order = _indexed(tmp_path, ["a", "b"])
    written_long_ago = time.time() - 2 * shards.SHARD_GRACE
    for shard in (folder / shards.SHARDS_DIR).iterdir():
        os.utime(shard, (written_long_ago, written_long_ago))
    _update(folder, "a", "1.1")
    shards._RETIRED.forget_after_fork()  # the process ended
    assert shards.sweep(folder) == 0, "replaced just now: within its grace"
    assert len(_on_disk(folder)) == 3
    retired = (_on_disk(folder) - _named(folder)).pop()
    os.utime(folder / shards.SHARDS_DIR / retired, (written_long_ago, written_long_ago))
    assert shards.sweep(folder) == 1
    assert _on_disk(folder) == _named(folder)


def test_an_old_shard_that_cannot_be_removed_never_fails_the_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    folder, _model, _order = _indexed(tmp_path, ["a"])
    _update(folder, "a", "1.1")
    [old] = _on_disk(folder) - _named(folder)
    monkeypatch.setattr(shards, "SHARD_GRACE", 0.0)
    real_unlink = Path.unlink

    def refused(path: Path, missing_ok: bool = False) -> None:
        if path.name == old:
            raise PermissionError(13, "Permission denied", str(path))
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refused)
    _update(folder, "a", "1.2")  # does not raise: the new shard and index are in place
    assert "1.2" in str(shards.read_shard(folder, shards.read_index(folder)["shards"]["a"]))  # type: ignore[index]
    assert old in _on_disk(folder) and "not removed" in caplog.text
