"""`[server] replica_of` (and `serve --replica-of`): a PostgreSQL home with the primary's
URL and the replica token, or a clear refusal; SQLite homes cannot have replicas."""

from __future__ import annotations

from pathlib import Path

import pytest

from drawbridge.channel.errors import HomeError
from drawbridge.channel.home import as_replica_of, initialise_home, load_home

STANDBY = "postgresql://drawbridge@standby.example/drawbridge"


def home_saying(root: Path, database_url: str, **server: str):  # type: ignore[no-untyped-def]
    home = initialise_home(root, database_url=database_url)
    text = home.config_path.read_text()
    for key, value in server.items():
        text = text.replace(f'{key} = ""', f'{key} = "{value}"')
    home.config_path.write_text(text)
    return home.config_path


@pytest.mark.parametrize(
    "database_url, server, refusal",
    [
        ("", {"replica_of": "http://primary:8080/", "replica_token": "t"}, "SQLite homes cannot"),
        (STANDBY, {"replica_of": "http://primary:8080/"}, "needs replica_token"),
        (STANDBY, {"replica_of": "primary:8080", "replica_token": "t"}, "not an http:// or"),
    ],
)
def test_a_replica_that_cannot_work_is_refused_with_the_fix(
    tmp_path: Path, database_url: str, server: dict, refusal: str
):
    home_saying(tmp_path / "home", database_url, **server)
    with pytest.raises(HomeError, match=refusal):
        load_home(tmp_path / "home")


def test_serve_replica_of_is_checked_like_the_setting(tmp_path: Path):
    home_saying(tmp_path / "sqlite", "", replica_token="t")
    with pytest.raises(HomeError, match="SQLite homes cannot have replicas"):
        as_replica_of(load_home(tmp_path / "sqlite"), "http://primary:8080/")
    home_saying(tmp_path / "pg", STANDBY, replica_token="t")
    replica = as_replica_of(load_home(tmp_path / "pg"), "http://primary:8080/")
    assert replica.server.replica_of == "http://primary:8080/"
