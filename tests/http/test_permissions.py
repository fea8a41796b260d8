"""Per-channel permissions, scoped tokens and project ownership, in-process, on the tree of
issue 11 (bases are not part of this: each channel is checked on its own files).

company/base        read: everyone          upload: admins only
company/internal    read: devs, qa, ci      upload: ci
company/dev         read: devs, qa, ci      upload: devs     review: leads
alice/sandbox       read: alice             upload: alice
bob/sandbox         read: bob               upload: bob
company/qa          read: any token         upload: qa
customer/release    read: everyone          upload: admins only
main                (no lists: the server-wide defaults)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from builders import make_conda_tar_bz2, make_wheel
from servers import AppClient, serve_in_process

from drawbridge.channel.principals import ChannelPermissions
from drawbridge.channel.accounts import Accounts
from drawbridge.channel.errors import InvalidName, InvalidPermission, UnknownAccount
from drawbridge.channel.tokens import Role, create_token, parse_expiry

TREE = {
    "company/base": ChannelPermissions(read=(":anonymous:",), upload=(":admins:",)),
    "company/internal": ChannelPermissions(
        read=("group:devs", "group:qa", "group:ci"), upload=("group:ci",)
    ),
    "company/dev": ChannelPermissions(
        read=("group:devs", "group:qa", "group:ci"),
        upload=("group:devs",),
        review=("group:leads",),
    ),
    "alice/sandbox": ChannelPermissions(read=("user:alice",), upload=("user:alice",)),
    "bob/sandbox": ChannelPermissions(read=("user:bob",), upload=("user:bob",)),
    "company/qa": ChannelPermissions(read=(":authenticated:",), upload=("group:qa",)),
    "customer/release": ChannelPermissions(read=(":anonymous:",), upload=(":admins:",)),
}
#: a project in each channel, published by the operator (no owner)
SEEDED = {channel: channel.replace("/", "-") + "-pkg" for channel in TREE}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[AppClient, dict[str, str]]:
    folder = tmp_path_factory.mktemp("tree")
    with serve_in_process(folder / "home") as app:
        accounts = Accounts(app.channels.db)
        for group in ("devs", "qa", "ci", "leads"):
            accounts.create_group(group)
        accounts.create_user("alice")
        accounts.create_user("bob")
        accounts.create_user("carol", primary_group="qa")
        accounts.create_user("ci-bot", primary_group="ci")
        accounts.create_user("lena", primary_group="leads")
        accounts.add_members("devs", ["alice", "bob", "lena"])
        for name, permissions in TREE.items():
            app.channels.create(name, permissions=permissions)
            app.publish(make_wheel(folder / "seed", SEEDED[name], "1.0"), channel=name)
        app.publish(make_wheel(folder / "seed", "main-pkg", "1.0"), channel="main")
        db = app.channels.db
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
        tokens = {
            "alice": create_token(db, "alice", Role.uploader),
            "bob": create_token(db, "bob", Role.uploader),
            "bob-reader": create_token(db, "bob", Role.reader),
            "bob-dev-only": create_token(db, "bob", Role.uploader, ["company/dev"]),
            "carol": create_token(db, "carol", Role.uploader),
            "ci-bot": create_token(db, "ci-bot", Role.uploader),
            "lena": create_token(db, "lena", Role.maintainer),
            "admin": create_token(db, "root", Role.admin),
            "expired": create_token(db, "alice", Role.uploader, expires=past),
            "stranger": create_token(db, "stranger", Role.uploader),
        }
        yield app, tokens


def _read(app: AppClient, token: str | None, path: str):  # type: ignore[no-untyped-def]
    return app.get(path, auth=("__token__", token) if token else None)


#: (who, channel, may read): every view below answers alike, 200 or 404
READS = [
    (None, "company/base", True),
    (None, "customer/release", True),
    (None, "company/internal", False),
    (None, "company/dev", False),
    (None, "alice/sandbox", False),
    (None, "company/qa", False),
    (None, "main", True),
    ("alice", "alice/sandbox", True),
    ("bob", "alice/sandbox", False),
    ("bob-reader", "alice/sandbox", False),
    ("bob", "bob/sandbox", True),
    ("bob", "company/dev", True),
    ("bob", "company/internal", True),
    ("stranger", "company/internal", False),
    ("stranger", "company/qa", True),  # :authenticated:
    ("bob-dev-only", "company/dev", True),
    ("bob-dev-only", "company/qa", False),  # the token's channel limit
    ("bob-dev-only", "bob/sandbox", False),
    ("bob-dev-only", "main", False),
    ("admin", "alice/sandbox", True),
    ("carol", "company/dev", True),
]
#: every URL family of a channel, for its seeded project `{p}`
VIEWS = [
    "/{c}/",
    "/{c}",
    "/{c}/simple/",
    "/{c}/simple/{p}/",
    "/{c}/pypi/{p}/json",
    "/{c}/pypi/{p}/1.0/json",
    "/{c}/files/{f}",
    "/{c}/files/{f}.metadata",
    "/{c}/conda/noarch/repodata.json",
    "/{c}/conda/channeldata.json",
]


@pytest.mark.parametrize(("who", "channel", "readable"), READS)
def test_a_channel_one_may_not_read_is_404_in_every_view(tree, who, channel, readable):
    app, tokens = tree
    token = tokens[who] if who else None
    project = SEEDED.get(channel, "main-pkg")
    wheel = f"{project.replace('-', '_')}-1.0-py3-none-any.whl"
    for view in VIEWS:
        path = view.format(c=channel, p=project, f=wheel)
        answer = _read(app, token, path)
        expected = (200, 307) if readable else (404,)
        assert answer.status_code in expected, (path, answer.status_code, answer.text[:200])
        if not readable:
            # exactly what a channel that does not exist answers
            missing = _read(app, token, view.format(c="company/nothing", p=project, f=wheel))
            assert answer.text == missing.text.replace("company/nothing", channel), path
        if token:  # the conda URL with the token in it answers the same
            prefixed = app.get(f"/t/{token}{path}")
            assert prefixed.status_code in expected, (f"/t/…{path}", prefixed.status_code)


@pytest.mark.parametrize(("who", "channel", "readable"), READS)
def test_the_channel_list_and_the_front_page_show_only_readable_channels(
    tree, who, channel, readable
):
    app, tokens = tree
    token = tokens[who] if who else None
    listed = _read(app, token, "/api/channels").json()["channels"]
    assert (channel in listed) is readable
    front = app.get(
        "/", auth=("__token__", token) if token else None, headers={"accept": "text/html"}
    )
    assert (f"/{channel}/'" in front.text) is readable


def _upload(app: AppClient, token: str | None, channel: str, path: Path):  # type: ignore[no-untyped-def]
    return app.post(
        f"/{channel}/upload/",
        data={":action": "file_upload"},
        files={"content": (path.name, path.read_bytes())},
        auth=("__token__", token) if token else None,
    )


def test_uploads_follow_each_channels_list(tree, tmp_path: Path):
    app, tokens = tree
    cases = [  # (who, channel, status)
        (None, "main", 401),
        ("bob", "company/base", 403),  # only admins upload
        ("admin", "company/base", 200),
        ("bob", "company/internal", 403),  # may read, may not upload
        ("ci-bot", "company/internal", 200),
        ("bob", "alice/sandbox", 404),  # may not even see it
        ("alice", "alice/sandbox", 200),
        ("bob-reader", "company/dev", 403),  # the token's role caps it
        ("bob-dev-only", "company/qa", 404),  # the token's channel limit
        ("bob-dev-only", "company/dev", 200),
        ("stranger", "main", 200),  # the default: any uploader token
        ("expired", "alice/sandbox", 401),
    ]
    for number, (who, channel, status) in enumerate(cases):
        wheel = make_wheel(tmp_path / str(number), f"upload-case-{number}", "1.0")
        answer = _upload(app, tokens[who] if who else None, channel, wheel)
        assert answer.status_code == status, (who, channel, answer.text)


def test_a_project_belongs_to_its_first_uploaders_group(tree, tmp_path: Path):
    app, tokens = tree
    dev = "company/dev"
    first = make_wheel(tmp_path / "a", "alicelib", "1.0")
    assert _upload(app, tokens["alice"], dev, first).status_code == 200
    assert app.channels.access.owner(dev, "alicelib") == "user:alice"  # alice has no group

    # bob may upload to company/dev, but not into alice's project: a new version, a build-tag
    # wheel that pip would prefer over alice's 1.0, a conda package of the same name
    shadow = make_wheel(tmp_path / "b", "alicelib", "1.0")
    tagged = shadow.with_name("alicelib-1.0-1-py3-none-any.whl")
    shadow.rename(tagged)
    conda = make_conda_tar_bz2(tmp_path / "c" / "noarch", "alicelib", "1.0")
    for attempt in (make_wheel(tmp_path / "d", "alicelib", "2.0"), tagged, conda):
        answer = _upload(app, tokens["bob"], dev, attempt)
        assert answer.status_code == 403, (attempt.name, answer.text)
        assert "belongs to user 'alice'" in answer.json()["detail"]
    assert [f.filename for f in app.channels.project_files(dev, "alicelib")] == [first.name]
    # alice's own file sent again by bob changes nothing, so it is the usual success
    again = _upload(app, tokens["bob"], dev, first)
    assert again.status_code == 200 and again.text.startswith("already published")
    # the spelling does not matter: Alicelib, alice_lib are the same project for pip
    answer = _upload(app, tokens["bob"], dev, make_wheel(tmp_path / "e", "AliceLib", "3.0"))
    assert answer.status_code == 403

    # the same build-tag wheel from alice is hers to publish
    assert _upload(app, tokens["alice"], dev, tagged).status_code == 200
    # carol's primary group qa owns what carol starts; a qa member may add to it
    qa_first = make_wheel(tmp_path / "f", "qa-tool", "1.0")
    assert _upload(app, tokens["carol"], "company/qa", qa_first).status_code == 200
    assert app.channels.access.owner("company/qa", "qa-tool") == "group:qa"

    # a reviewer of company/dev (lena, leads) hands the project to bob; then bob may add
    given = app.request(
        "PUT",
        f"/api/admin/channels/{dev}/projects/alicelib/owner",
        json={"owner": "user:bob"},
        auth=("__token__", tokens["lena"]),
    )
    assert given.status_code == 200, given.text
    assert (
        _upload(app, tokens["bob"], dev, make_wheel(tmp_path / "g", "alicelib", "2.0")).status_code
        == 200
    )
    refused = app.request(
        "PUT",
        f"/api/admin/channels/{dev}/projects/alicelib/owner",
        json={"owner": "user:alice"},
        auth=("__token__", tokens["alice"]),
    )
    assert refused.status_code == 403  # alice is no reviewer of company/dev


def test_a_project_the_operator_published_takes_files_only_from_admins(tree, tmp_path: Path):
    app, tokens = tree
    seeded = SEEDED["company/dev"]
    wheel = make_wheel(tmp_path, seeded, "2.0")
    assert _upload(app, tokens["bob"], "company/dev", wheel).status_code == 403
    assert _upload(app, tokens["admin"], "company/dev", wheel).status_code == 200


def test_an_expired_or_disabled_users_token_is_refused(tree):
    app, tokens = tree
    answer = _read(app, tokens["expired"], "/main/simple/")
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]
    db = app.channels.db
    user_token = create_token(db, "dora", Role.reader, expires=parse_expiry("1h"))
    assert _read(app, user_token, "/main/simple/").status_code == 200
    Accounts(db).set_disabled("dora")
    assert _read(app, user_token, "/main/simple/").status_code == 401
    Accounts(db).set_disabled("dora", False)
    assert _read(app, user_token, "/main/simple/").status_code == 200


def test_a_private_channel_is_never_answered_by_the_fast_path(tree):
    """The fast path serves public channels itself (no `private` marking); a private one
    goes through the gate, which marks what it lets through `private`."""
    app, tokens = tree
    public = app.get("/company/base/simple/")
    assert "private" not in public.headers.get("cache-control", "")
    private = _read(app, tokens["alice"], "/alice/sandbox/simple/")
    assert private.status_code == 200
    assert "private" in private.headers["cache-control"]


def test_the_admin_api_manages_users_groups_tokens_and_channels(tree):
    app, tokens = tree

    def call(method: str, path: str, token: str = tokens["admin"], **kwargs):  # type: ignore[no-untyped-def]
        return app.request(method, "/api/admin" + path, auth=("__token__", token), **kwargs)

    assert call("GET", "/users", tokens["lena"]).status_code == 403  # a maintainer is no admin
    assert app.get("/api/admin/users").status_code == 401
    assert call("POST", "/groups", json={"name": "ops"}).status_code == 201
    assert call("POST", "/groups", json={"name": "ops"}).status_code == 409
    made = call("POST", "/users", json={"name": "olga", "primary_group": "ops"})
    assert made.status_code == 201 and made.json()["groups"] == ["ops"]
    assert call("POST", "/users", json={"name": "x", "primary_group": "nope"}).status_code == 404
    assert call("PUT", "/groups/devs/members/olga").json()["members"] == [
        "alice",
        "bob",
        "lena",
        "olga",
    ]
    assert "olga" not in call("DELETE", "/groups/devs/members/olga").json()["members"]
    created = call(
        "POST",
        "/channels",
        json={"name": "ops/tools", "read": ["group:ops"], "upload": ["group:ops"]},
    )
    assert created.status_code == 201, created.text
    assert created.json()["bases"] == [] and created.json()["mutability"] == "standard"
    inheriting = call(
        "POST",
        "/channels",
        json={"name": "ops/sandbox", "bases": ["ops/tools"], "mutability": "volatile"},
    )
    assert inheriting.status_code == 201, inheriting.text
    assert call("GET", "/channels/ops/sandbox/bases").json()["bases"] == ["ops/tools"]
    assert app.channels.mutability("ops/sandbox").value == "volatile"
    cycle = call("POST", "/channels", json={"name": "ops/loop", "bases": ["ops/loop"]})
    assert cycle.status_code in (400, 409), cycle.text
    assert "ops/loop" not in app.channels.names()
    wrong = call("POST", "/channels", json={"name": "ops/x", "mutability": "frozen"})
    assert wrong.status_code == 422
    token = call(
        "POST",
        "/tokens",
        json={"user": "olga", "role": "uploader", "channels": ["ops/tools"], "expires": "30d"},
    ).json()
    assert token["channels"] == ["ops/tools"] and token["expires"]
    assert _read(app, token["token"], "/ops/tools/simple/").status_code == 200
    assert _read(app, None, "/ops/tools/simple/").status_code == 404
    assert _read(app, token["token"], "/main/simple/").status_code == 404  # limited
    opened = call("PUT", "/channels/ops/tools/permissions", json={"read": [":anonymous:"]})
    assert opened.json()["read"] == [":anonymous:"]
    assert _read(app, None, "/ops/tools/simple/").status_code == 200
    assert call("GET", "/channels/ops/tools/permissions").json()["upload"] == ["group:ops"]
    bad = call("PUT", "/channels/ops/tools/permissions", json={"upload": ["ops"]})
    assert bad.status_code == 400 and "user:NAME, group:NAME" in bad.json()["detail"]
    assert (
        call("PUT", "/channels/ops/tools/permissions", json={"upload": ["group:no"]}).status_code
        == 404
    )
    disabled = call("POST", "/users/olga/disable").json()
    assert disabled["disabled"] is True
    assert _read(app, token["token"], "/ops/tools/simple/").status_code == 401
    assert call("POST", "/users/olga/enable").json()["disabled"] is False
    assert _read(app, token["token"], "/ops/tools/simple/").status_code == 200
    assert call("POST", "/users/olga/revoke-tokens").json()["revoked"] == 1
    assert _read(app, token["token"], "/ops/tools/simple/").status_code == 401
    listed = {user["name"]: user for user in call("GET", "/users").json()["users"]}
    assert listed["olga"]["tokens"] == 0 and listed["olga"]["primary_group"] == "ops"
    wrong_role = call("POST", "/tokens", json={"user": "olga", "role": "boss"})
    assert (
        wrong_role.status_code == 400 and "reader, builder, uploader" in wrong_role.json()["detail"]
    )
    assert call("GET", "/channels/alice/sandbox/permissions", tokens["bob"]).status_code == 404
    assert call("GET", "/channels/company/dev/permissions", tokens["lena"]).status_code == 200


def test_principals_and_expiries_are_checked(tree):
    app, _tokens = tree
    access = app.channels.access
    with pytest.raises(InvalidPermission, match="user:NAME, group:NAME"):
        access.set_permissions("main", read=["everyone"])
    with pytest.raises(UnknownAccount, match="drawbridge group create ghosts"):
        access.set_permissions("main", read=["group:ghosts"])
    assert access.set_permissions("main", read=[":AUTHENTICATED:"]).read == (":authenticated:",)
    assert access.set_permissions("main", read=[]).read == ()  # the default again
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert parse_expiry("30d", now) == now + dt.timedelta(days=30)
    assert parse_expiry("2026-02-01", now) == dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    for wrong in ("30 days", "2025-01-01", "0d"):
        with pytest.raises(InvalidName):
            parse_expiry(wrong, now)


def test_deciding_on_recipes_is_reviewing_the_default_channel(tree):
    """Recipes and bridging requests are decided by the reviewers of the default channel,
    where the bridge and recipe builds publish; without a list, by any maintainer."""
    from drawbridge.channel.errors import ChannelError
    from drawbridge.cli.context import CliContext

    app, tokens = tree
    context = CliContext(app.home)
    someone = create_token(app.channels.db, "mona", Role.maintainer)
    assert context.decider(someone, "a recipe") == "mona"
    app.channels.access.set_permissions("main", review=["group:leads"])
    context = CliContext(app.home)
    try:
        with pytest.raises(ChannelError, match="mona may not review 'main'"):
            context.decider(someone, "a recipe")
        assert context.decider(tokens["lena"], "a recipe") == "lena"
        with pytest.raises(ChannelError, match="only maintainers and admins"):
            context.decider(tokens["bob"], "a recipe")  # the role is checked first
    finally:
        app.channels.access.set_permissions("main", review=[])
