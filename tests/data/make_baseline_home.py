"""Make the fixture homes `tests/http/test_migrations.py` upgrades: homes as Drawbridge 0.1.0
(commit 1dd7b57, before Alembic) left them, one on SQLite and one on PostgreSQL.

Run it with *that* code, from a worktree of the commit, never with the current code:

    git worktree add /tmp/baseline 1dd7b57
    PYTHONPATH=/tmp/baseline:tests .venv/bin/python tests/data/make_baseline_home.py \
        tests/data/baseline-home-sqlite.tar.gz
    DRAWBRIDGE_TEST_DATABASE=postgresql PYTHONPATH=/tmp/baseline:tests \
        .venv/bin/python tests/data/make_baseline_home.py tests/data/baseline-home-postgresql.tar.gz

Each tarball holds the home (`home/`, without its 1 MiB reserve file) and `fixture.json`
(the tokens, which are shown only once, and what the home holds); the PostgreSQL one also
holds `database.sql`, a pg_dump of its database, and its drawbridge.toml names no database
(the test restores the dump into a fresh one and writes its URL).
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
from pathlib import Path

import drawbridge
from builders import make_conda_tar_bz2, make_sdist, make_wheel
from databases import MODE, cluster, stop_cluster

from drawbridge.bridge.bridging_requests import RequestBook
from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.upstream.pypi import FolderUpstream
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.channel.database import Database
from drawbridge.channel.home import initialise_home, load_home
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token, revoke_tokens


def make_home(root: Path, database_url: str) -> dict:
    initialise_home(root)
    if database_url:
        config = root / "drawbridge.toml"
        config.write_text(
            config.read_text().replace('database_url = ""', f'database_url = "{database_url}"')
        )
    home = load_home(root)
    database = Database(home.database_url)
    channels = Channels(home, database)
    channels.create("main")
    channels.create("extra", "a second channel")
    made = root.parent / "made"
    published, refused = channels.publish_many(
        "main",
        [
            make_wheel(made, "oldtimer", "0.9"),
            make_wheel(made, "oldtimer", "1.0", requires=["attrs>=20"]),
            make_sdist(made, "oldtimer", "1.0"),
            make_conda_tar_bz2(made, "oldconda", "1.0"),
            make_conda_tar_bz2(made / "l", "oldbinary", "2.0", subdir="linux-64"),
        ],
        uploaded_by="cli",
    )
    assert not refused, refused
    channels.publish("extra", make_wheel(made, "extra-only", "3.0"), uploaded_by="ulla")
    channels.yank("main", "oldtimer-0.9-py3-none-any.whl", "superseded")
    tokens = {
        "uploader": create_token(database, "ulla", Role.uploader),
        "maintainer": create_token(database, "mia", Role.maintainer),
        "revoked": create_token(database, "rolf", Role.reader),
    }
    revoke_tokens(database, "rolf")
    drop = root.parent / "drop"
    make_sdist(drop, "sdist-demo", "1.0")
    book = RecipeBook(home, database)
    book.generate("sdist-demo", None, FolderUpstream(drop), default_table(), "mia", "3.11")
    book.decide("sdist-demo", True, "mia", "looks right")
    RequestBook(database).file(
        "pip", "wanted-thing", "wanted-thing>=1", ["linux-64"], "for a test", "env.yml", "ulla"
    )
    database.close()
    return {
        "made_by": f"drawbridge {drawbridge.__version__} (commit 1dd7b57)",
        "tokens": tokens,
        "channels": ["extra", "main"],
        "files": {
            "main": sorted(p.filename for p in published),
            "extra": ["extra_only-3.0-py3-none-any.whl"],
        },
        "recipes": ["sdist-demo"],
    }


def main(output: Path) -> None:
    with tempfile.TemporaryDirectory() as work:
        root = Path(work) / "home"
        url = cluster().create_database("baseline") if MODE == "postgresql" else ""
        facts = make_home(root, url)
        (root / ".reserve").unlink(missing_ok=True)
        for reserve in root.glob(".reserve*"):
            reserve.unlink()
        if url:
            (Path(work) / "database.sql").write_text(cluster().dump(url))
            config = root / "drawbridge.toml"
            config.write_text(config.read_text().replace(url, ""))
        (Path(work) / "fixture.json").write_text(json.dumps(facts, indent=2) + "\n")
        with tarfile.open(output, "w:gz") as tar:
            for name in ("home", "fixture.json", "database.sql"):
                if (Path(work) / name).exists():
                    tar.add(Path(work) / name, arcname=name)
    stop_cluster()


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
