"""A publish refused after its change to the shard index was worked out ahead
(`shards.work_ahead`, issue 22) leaves nothing beside the index (`tests/unit/
test_shard_index_ahead.py` has the rest)."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest
from builders import make_noarch_python_conda
from served_state import no_temporaries

from drawbridge.channel import shards
from drawbridge.channel.publishing import DuplicateFile
from drawbridge.channel.service import Channels


def _names(folder: Path) -> list[str]:
    document = msgpack.unpackb(shards.decompress((folder / shards.SHARD_INDEX).read_bytes()))
    return list(document["shards"])


def test_a_refused_publish_leaves_no_index_written_ahead(
    channels: Channels, tmp_path: Path
) -> None:
    """The publish of a file whose name holds other bytes is refused after its change was
    worked out: nothing is left beside the index, which still names the first file."""
    channels.create("main")
    first = make_noarch_python_conda(tmp_path / "first", "same", "1.0", "same")
    channels.publish("main", first)
    folder = channels.home.channel("main").conda_dir / "noarch"
    index = (folder / shards.SHARD_INDEX).read_bytes()
    other = make_noarch_python_conda(tmp_path / "other", "same", "1.0", "same-but-other")
    with pytest.raises(DuplicateFile):
        channels.publish("main", other)
    no_temporaries(folder)
    assert (folder / shards.SHARD_INDEX).read_bytes() == index
    second = make_noarch_python_conda(tmp_path / "first", "next", "1.0", "next")
    channels.publish("main", second)
    assert _names(folder) == ["same", "next"]
    no_temporaries(folder)
