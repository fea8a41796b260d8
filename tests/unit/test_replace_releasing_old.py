"""A big file replaced often (the shard index) has its old blocks freed off the writer's
path (`storage.replace_releasing_old`, issue 22): the replace is still atomic, a reader
holding the old file still reads it whole, nothing is left once the writer has waited
(`wait_for_releases`), and a store without hard links still gets the new file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drawbridge.channel import storage


def test_the_new_file_replaces_the_old_one_and_nothing_is_left_behind(tmp_path: Path) -> None:
    target = tmp_path / "index.zst"
    target.write_bytes(b"old" * 100_000)
    with target.open("rb") as reader:  # a client reading while the publish replaces it
        storage.replace_releasing_old(storage.write_synced_beside(target, b"new"), target)
        assert target.read_bytes() == b"new"
        assert reader.read() == b"old" * 100_000
    storage.wait_for_releases()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.zst"]


def test_the_old_file_is_dropped_by_the_releasing_thread_not_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename only drops a link (the old file's blocks stay until the thread unlinks
    the second one); without that second link the rename itself frees them."""
    target = tmp_path / "index.zst"
    target.write_bytes(b"old")
    old_inode = target.stat().st_ino
    unlinked: list[str] = []
    real_unlink = Path.unlink

    def recording_unlink(path: Path, missing_ok: bool = False) -> None:
        if os.stat(path).st_ino == old_inode:
            unlinked.append(path.name)
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", recording_unlink)
    storage.replace_releasing_old(storage.write_synced_beside(target, b"new"), target)
    storage.wait_for_releases()
    assert len(unlinked) == 1 and storage.is_temporary(unlinked[0]), unlinked
    assert target.read_bytes() == b"new"


def test_a_store_without_hard_links_still_gets_the_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "index.zst"
    target.write_bytes(b"old")

    def no_links(source: object, destination: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    storage.replace_releasing_old(storage.write_synced_beside(target, b"new"), target)
    storage.wait_for_releases()
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.zst"]


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "index.zst"
    target.write_bytes(b"old")
    temporary = storage.write_synced_beside(target, b"new")

    def failing_replace(source: object, destination: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        storage.replace_releasing_old(temporary, target)
    storage.wait_for_releases()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.zst"]
