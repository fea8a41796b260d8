"""Schema migrations with real processes: a home Drawbridge 0.1.0 made upgrades in place and
is still served; processes opening an old database at once upgrade it once; an unreachable
database is named with the fix.

The 0.1.0 homes are `tests/data/baseline-home-*.tar.gz`, made by the code of commit 1dd7b57
(`tests/data/make_baseline_home.py` says how): each run uses the one of its database. The
in-process half is `http/test_migrations.py`."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

import rattler
from builders import make_wheel
from clients import client_env
from servers import start_server
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

import drawbridge.bridge.records  # noqa: F401  (the bridge's tables, for the full metadata)
import drawbridge.channel.hosted_docs  # noqa: F401  (the docs' table)
import drawbridge.channel.outbox  # noqa: F401  (the outbox's tables)
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.channel import schema
from drawbridge.channel.database import Database
from drawbridge.channel.schema import current_revision, head
from drawbridge.channel.tokens import Role, identify_token
from clients import run_drawbridge
from migration_homes import TABLES, baseline_home, every_row, raw_engine

#: recovery, migrations and init are about the database: run on PostgreSQL too
pytestmark = pytest.mark.database


def test_a_home_made_by_0_1_0_upgrades_in_place_and_is_still_served(tmp_path: Path):
    home, facts = baseline_home(tmp_path / "fixture")
    engine = raw_engine(home)
    with engine.connect() as connection:
        assert current_revision(connection) is None  # 0.1.0 knew no Alembic
    before = every_row(engine)
    old_columns = {table: _columns(engine, table) for table in TABLES}
    assert len(before["distributions"]) == 4 and len(before["tokens"]) == 3

    server = start_server(home.root)  # `drawbridge serve` opens the database: it upgrades
    try:
        with engine.connect() as connection:
            assert current_revision(connection) == head()
        after = every_row(engine)
        # tokens gain a channel limit, an expiry and a builder's platforms, all empty: every
        # token keeps working
        assert [row[6:] for row in after["tokens"]] == [(None, None, None)] * 3
        assert every_row(engine, old_columns) == before  # every row of every table, value for value
        with engine.connect() as connection:
            users = connection.execute(text("SELECT name FROM users ORDER BY name"))
            assert [name for (name,) in users] == sorted({row[1] for row in before["tokens"]})
            owners = connection.execute(text("SELECT channel, project, owner FROM project_owners"))
            assert list(owners) == [("extra", "extra-only", "user:ulla")]
            # 0004: channels are standard; a package's provenance is guessed from who
            # published it, its source file was never recorded
            added = connection.execute(
                text("SELECT uploaded_by, made_how, made_from FROM conda_packages")
            ).all()
            mutability = connection.execute(text("SELECT DISTINCT mutability FROM channels"))
            assert [row[0] for row in mutability] == ["standard"]
        how = {"bridge": "wheel", "build": "recipe"}
        assert added and all(
            (made, source) == (how.get(by, "upload"), "") for by, made, source in added
        )
        assert sorted(server.channels.names()) == facts["channels"]

        # every recorded file is served, byte for byte what its record says
        served = {channel: [] for channel in facts["files"]}
        for table in ("distributions", "conda_packages"):
            for row in before[table]:
                record = dict(zip(_columns(engine, table), row))
                channel, name = record["channel"], record["filename"]
                path = f"/{channel}/files/{name}"
                if table == "conda_packages":
                    path = f"/{channel}/conda/{record['subdir']}/{name}"
                body = _get(server.url + path).content
                assert hashlib.sha256(body).hexdigest() == record["sha256"], path
                served[channel].append(name)
        assert {c: sorted(names) for c, names in served.items()} == facts["files"]

        # the pages and the JSON API still say what 0.1.0 recorded, yanks included
        page = _get(f"{server.url}/main/simple/oldtimer/", json=True).json()
        yanked = {f["filename"]: f["yanked"] for f in page["files"]}
        assert yanked == {
            "oldtimer-0.9-py3-none-any.whl": "superseded",
            "oldtimer-1.0-py3-none-any.whl": False,
            "oldtimer-1.0.tar.gz": False,
        }
        document = _get(f"{server.url}/main/pypi/oldtimer/json").json()
        assert document["info"]["version"] == "1.0"

        # pip installs from the upgraded home (0.9 is yanked, so 1.0 it is)
        installed = _pip_install(server.url + "/main/simple/", tmp_path / "t", "oldtimer")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert (tmp_path / "t" / "oldtimer-1.0.dist-info").is_dir()

        # py-rattler solves the conda packages 0.1.0 published
        records = _solve(f"{server.url}/main/conda", ["oldconda", "oldbinary"])
        assert records == ["oldbinary=2.0", "oldconda=1.0"]

        # tokens: the uploader's uploads, the revoked one stays revoked
        tokens = facts["tokens"]
        database = Database(home.database_url)
        assert identify_token(database, tokens["uploader"]).role is Role.uploader
        assert identify_token(database, tokens["maintainer"]).role is Role.maintainer
        assert identify_token(database, tokens["revoked"]) is None
        upload = _upload(server.url + "/main/upload/", tokens["uploader"], tmp_path)
        assert upload.status_code == 200, upload.text
        revoked = _upload(server.url + "/main/upload/", tokens["revoked"], tmp_path)
        assert revoked.status_code == 401

        # the recipe, its approval and the audit trail; the bridging request
        recipe = RecipeBook(home, database).get("sdist-demo")
        assert (recipe.state, recipe.decided_by, recipe.comment) == (
            "approved",
            "mia",
            "looks right",
        )
        assert "sdist-demo" in _get(f"{server.url}/ui/recipes").text
        actions = [(a.user, a.action, a.subject) for a in RecipeBook(home, database).audit()]
        assert ("mia", "approve", "sdist-demo") in actions
        requests = _get(f"{server.url}/api/requests").json()
        assert [(r["name"], r["requested_by"]) for r in requests] == [("wanted-thing", "ulla")]

        # and the new schema holds what 0.1.0's could not: a 129-character owned name
        owned = f"{'o' * 64}/{'n' * 64}"
        server.channels.create(owned)
        server.publish(make_wheel(tmp_path / "w", "long-named", "1.0"), channel=owned)
        listing = _get(f"{server.url}/{owned}/simple/long-named/", json=True).json()
        assert [f["filename"] for f in listing["files"]] == ["long_named-1.0-py3-none-any.whl"]
        database.close()
    finally:
        server.stop()
        engine.dispose()


def test_processes_opening_an_old_database_at_once_upgrade_it_once(tmp_path: Path):
    home, _facts = baseline_home(tmp_path / "fixture")
    before = every_row(raw_engine(home))
    old_columns = {table: _columns(raw_engine(home), table) for table in TABLES}
    start = tmp_path / "go"
    script = (
        "import sys, time, pathlib\n"
        "from drawbridge.channel.database import Database\n"
        "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.005)\n"
        "print(len(Database(sys.argv[1]).upgraded))\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, home.database_url, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    start.touch()
    outcomes = [process.communicate(timeout=120) for process in processes]
    assert [p.returncode for p in processes] == [0] * 4, outcomes
    migrations = Path(schema.__file__).parent / "migrations" / "versions"
    every_migration = len(list(migrations.glob("0*.py")))  # 0.1.0 knew no Alembic: all run
    assert sorted(int(out) for out, _err in outcomes) == [0, 0, 0, every_migration]
    engine = raw_engine(home)
    with engine.connect() as connection:
        assert current_revision(connection) == head()
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    assert every_row(engine, old_columns) == before


def _columns(engine: Engine, table: str) -> list[str]:
    return [c["name"] for c in inspect(engine).get_columns(table)]


def _get(url: str, json: bool = False):  # type: ignore[no-untyped-def]
    import httpx

    headers = {"Accept": "application/vnd.pypi.simple.v1+json"} if json else {}
    response = httpx.get(url, headers=headers, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text)
    return response


def _upload(url: str, token: str, folder: Path):  # type: ignore[no-untyped-def]
    import httpx

    wheel = make_wheel(folder / "up", "after-upgrade", "1.0")
    return httpx.post(
        url,
        data={":action": "file_upload"},
        files={"content": (wheel.name, wheel.read_bytes())},
        auth=("__token__", token),
        timeout=60,
    )


def _pip_install(index: str, target: Path, *requirements: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--no-deps",
            "--target",
            str(target),
            "--index-url",
            index,
            *requirements,
        ],
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _solve(channel: str, specs: list[str]) -> list[str]:
    import asyncio

    records = asyncio.run(
        rattler.solve([rattler.Channel(channel)], specs, platforms=["linux-64", "noarch"])
    )
    return sorted(f"{r.name.normalized}={r.version}" for r in records)


def test_an_unreachable_database_is_named_with_the_fix(tmp_path: Path):
    from databases import new_home, write_config
    from servers import free_port

    home = new_home(tmp_path / "home")
    url = f"postgresql://drawbridge:s3cret@127.0.0.1:{free_port()}/drawbridge"
    write_config(home, f'[server]\ndatabase_url = "{url}"\n')
    result = run_drawbridge("channel", "list", "--home", str(home.root), timeout=120)
    said = " ".join(result.stderr.split())  # Rich wraps long lines
    assert result.returncode == 1
    assert "cannot open the database postgresql+psycopg://drawbridge:***@127.0.0.1" in said
    assert "check database_url in drawbridge.toml" in said
    assert "s3cret" not in said and "Traceback" not in said
