"""Channels that inherit (bases) from the command line and from a local conda mirror: the
CLI sets, shows and refuses bases; a mirror as a base is merged and its packages served.

The in-process tests are `http/test_bases.py`; pip, uv and py-rattler are in
`test_bases_clients.py`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from builders import make_conda_tar_bz2
from clients import run_drawbridge
from servers import AppClient

from drawbridge.channel.database import Database
from drawbridge.channel.home import load_home
from drawbridge.channel.service import Channels


def test_the_cli_sets_shows_and_refuses_bases(channels: Channels):
    root = channels.home.root
    assert run_drawbridge("channel", "create", "company/base", home=root).returncode == 0
    made = run_drawbridge("channel", "create", "company/dev", "--base", "company/base", home=root)
    assert made.returncode == 0, made.stderr
    cycle = run_drawbridge("channel", "bases", "company/base", "company/dev", home=root)
    assert cycle.returncode != 0 and "Traceback" not in cycle.stderr
    assert "company/base → company/dev → company/base" in " ".join(cycle.stderr.split())
    listing = run_drawbridge("channel", "list", home=root).stdout
    assert any("company/dev" in line and "company/base" in line for line in listing.splitlines())
    flat = run_drawbridge("channel", "bases", "company/dev", home=root)
    assert flat.returncode == 0 and "flat" in flat.stdout
    assert channels.bases() == {}


def test_a_local_mirror_as_a_base_is_merged_and_its_packages_served_by_the_channel(
    home, tmp_path: Path, upstream_channel: Path
):
    """`upstream:<mirror>` as a base: the mirror's repodata in the channel's, its packages
    through the channel's URL, ours nearest; no shard index (clients read repodata)."""
    home.config_path.write_text(
        home.config_path.read_text().replace(
            "upstream_conda = []",
            f'upstream_conda = [{{ name = "cf", url = "{upstream_channel}" }}]',
        )
    )
    loaded = load_home(home.root)
    database = Database(loaded.database_url)
    channels = Channels(loaded, database)
    try:
        channels.create("company/base")
        channels.create("company/env", bases=["company/base", "upstream:cf"])
        ours = make_conda_tar_bz2(tmp_path / "c", "ours", "1.0", "0", "linux-64")
        channels.publish("company/base", ours)
        mirror = json.loads((upstream_channel / "linux-64" / "repodata.json").read_text())
        theirs = {**mirror.get("packages", {}), **mirror.get("packages.conda", {})}
        python = next(name for name in theirs if name.startswith("python-3"))
        with AppClient(loaded) as app:
            repodata = app.get("/company/env/conda/linux-64/repodata.json").json()
            merged = {**repodata["packages"], **repodata["packages.conda"]}
            assert ours.name in merged and set(theirs) <= set(merged)
            file = app.get(f"/company/env/conda/linux-64/{python}")
            assert file.status_code == 200
            assert hashlib.sha256(file.content).hexdigest() == theirs[python]["sha256"]
            shards = app.get("/company/env/conda/linux-64/repodata_shards.msgpack.zst")
            assert shards.status_code == 404
            assert app.get("/company/env/conda/linux-64/python-0-0.tar.bz2").status_code == 404
    finally:
        database.close()
