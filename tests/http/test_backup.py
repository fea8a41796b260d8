"""Backup and restore through a bundle of the whole home: users, private channels, bases
and promotions, from this run's database into a fresh home on PostgreSQL, answering the
same pages and repodata byte for byte with the same permissions."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import make_noarch_python_conda, make_wheel
from databases import PostgresMissing, cluster, new_home
from served_state import indexed, served_bytes
from servers import AppClient

from drawbridge.bridge import promotion
from drawbridge.bridge.bundles import backup, signing
from drawbridge.bridge.errors import BundleError
from drawbridge.channel.accounts import Accounts
from drawbridge.channel.database import Database
from drawbridge.channel.home import Home, initialise_home
from drawbridge.channel.principals import ChannelPermissions
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token, identify_token


def channels_of(home: Home) -> Channels:
    return Channels(home, Database(home.database_url))


@pytest.fixture
def source(tmp_path: Path) -> tuple[Home, dict[str, str]]:
    """A home with users and a group, a private channel, a channel with a base, a
    promotion, and tokens: the tokens by user."""
    home = new_home(tmp_path / "source")
    channels = channels_of(home)
    accounts = Accounts(channels.db)
    accounts.create_group("team")
    accounts.create_user("ann", primary_group="team")
    accounts.create_user("bob")
    accounts.add_members("team", ["ann"])
    channels.create("main")
    channels.create(
        "team/private",
        "the team's",
        ChannelPermissions(read=("group:team",), upload=("group:team",), review=("group:team",)),
    )
    channels.create("staging", bases=["main"])
    dists = tmp_path / "dists"
    channels.publish_many(
        "main",
        [
            make_wheel(dists, "alpha", "1.0"),
            make_noarch_python_conda(dists, "gamma", "3.0", "gamma"),
        ],
    )
    channels.publish_many("team/private", [make_wheel(dists, "secret", "0.1")])
    channels.publish("staging", make_wheel(dists, "beta", "2.0"))
    tokens = {
        "ann": create_token(channels.db, "ann", Role.maintainer),
        "bob": create_token(channels.db, "bob", Role.reader),
    }
    ann = identify_token(channels.db, tokens["ann"])
    promotion.promote(channels, ann, "team/private", "main", ["secret"], comment="release it")
    signing.generate(home.signing_key_path, tmp_path / "source.pub")
    return home, tokens


def restored_home(root: Path, tmp_path: Path) -> Home:
    """A fresh home on PostgreSQL (skipped, saying why, without a cluster)."""
    try:
        url = cluster().create_schema()
    except PostgresMissing as error:
        pytest.skip(f"no PostgreSQL to restore into: {error}")
    return initialise_home(root, database_url=url)


def every_view(home: Home) -> dict[str, bytes]:
    """Every file every channel serves, shard index without its time of writing (`indexed`)."""
    channels = channels_of(home)
    return {
        f"{name}:{path}": data
        for name in channels.names()
        for path, data in indexed(served_bytes(home, name)).items()
    }


def test_a_backup_restores_into_postgresql_and_answers_the_same(source, tmp_path: Path):  # type: ignore[no-untyped-def]
    home, tokens = source
    manifest = backup.export_home(
        tmp_path / "backup", channels_of(home), signing.load_private(home.signing_key_path), 4096
    )
    assert manifest.kind == "home"
    target = restored_home(tmp_path / "restored", tmp_path)
    trusted = [signing.load_public(tmp_path / "source.pub")]

    backup.import_home(channels_of(target), tmp_path / "backup", trusted)

    assert every_view(target) == every_view(home)
    paths = [
        "/team/private/simple/secret/",
        "/main/simple/secret/",
        "/staging/simple/alpha/",
        "/team/private/simple/",
        "/ui/requests",
        "/",
    ]
    for who in (None, "ann", "bob"):
        headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        with AppClient(home) as before, AppClient(target) as after:
            for path in paths:
                was, now = before.get(path, headers=headers), after.get(path, headers=headers)
                assert (now.status_code, now.content) == (was.status_code, was.content), (who, path)
    assert backup.table_rows(channels_of(target)) == backup.table_rows(channels_of(home))
    assert (target.root / backup.CONFIG_COPY).read_text() == home.config_path.read_text()

    with pytest.raises(BundleError, match="is not empty .* restored only into a new home"):
        backup.import_home(channels_of(target), tmp_path / "backup", trusted)
