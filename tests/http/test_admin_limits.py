"""Who may call the admin API (issue 16): every `/api/admin/` route, walked from the real
app's router, refuses anonymous, reader and uploader requests and names no channel they
may not read; an admin token limited to channels administers those channels only, and no
token makes a token stronger than itself.

main              (no lists: the server-wide defaults)
pub/leaky         read: everyone; its base is company/secret
company/secret    read: group insiders
alice/sandbox     read and upload: alice; holds alicelib
alice/scratch     read and upload: alice; volatile
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import pytest
from builders import make_wheel
from servers import AppClient, every_route, serve_in_process

from drawbridge.channel.accounts import Accounts
from drawbridge.channel.mutability import Mutability
from drawbridge.channel.principals import ChannelPermissions
from drawbridge.channel.tokens import Role, create_token, identify_token

OWN = ("alice/sandbox", "alice/scratch")
#: the channels someone outside them may not learn of (each is private)
PRIVATE = ("company/secret", "alice/sandbox", "alice/scratch")
LIMITED_FOR = dt.timedelta(days=7)

#: a real value for each path parameter other than `channel`
PARAMETERS = {"name": "bob", "group": "insiders", "user": "bob", "project": "alicelib"}
#: every admin route: whether it concerns the whole server or one channel, and a body that
#: its own channel's admin may send (a server-wide route's body is one a site admin may)
SERVER, CHANNEL = "server", "channel"
ADMIN_ROUTES: dict[tuple[str, str], tuple[str, dict | None]] = {
    ("GET", "/api/admin/users"): (SERVER, None),
    ("POST", "/api/admin/users"): (SERVER, {"name": "eve", "primary_group": "insiders"}),
    ("POST", "/api/admin/users/{name}/disable"): (SERVER, None),
    ("POST", "/api/admin/users/{name}/enable"): (SERVER, None),
    ("POST", "/api/admin/users/{name}/revoke-tokens"): (SERVER, None),
    ("GET", "/api/admin/groups"): (SERVER, None),
    ("POST", "/api/admin/groups"): (SERVER, {"name": "eves"}),
    ("PUT", "/api/admin/groups/{group}/members/{user}"): (SERVER, None),
    ("DELETE", "/api/admin/groups/{group}/members/{user}"): (SERVER, None),
    ("POST", "/api/admin/tokens"): (SERVER, {"user": "sa", "role": "admin"}),
    ("POST", "/api/admin/channels"): (SERVER, {"name": "alice/new", "bases": ["main"]}),
    ("GET", "/api/admin/channels/{channel}/permissions"): (CHANNEL, None),
    ("PUT", "/api/admin/channels/{channel}/permissions"): (CHANNEL, {"read": ["user:alice"]}),
    ("PUT", "/api/admin/channels/{channel}/projects/{project}/owner"): (
        CHANNEL,
        {"owner": "user:alice"},
    ),
    ("GET", "/api/admin/channels/{channel}/bases"): (CHANNEL, None),
    ("PUT", "/api/admin/channels/{channel}/bases"): (CHANNEL, {"bases": ["alice/scratch"]}),
    ("PUT", "/api/admin/channels/{channel}/mutability"): (CHANNEL, {"mutability": "standard"}),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("admin")
    with serve_in_process(folder / "home") as app:
        channels = app.channels
        accounts = Accounts(channels.db)
        accounts.create_group("insiders")
        for user in ("alice", "bob", "sa"):
            accounts.create_user(user)
        own = ChannelPermissions(read=("user:alice",), upload=("user:alice",))
        channels.create("company/secret", permissions=ChannelPermissions(read=("group:insiders",)))
        channels.create(
            "pub/leaky",
            permissions=ChannelPermissions(read=(":anonymous:",)),
            bases=["company/secret"],
        )
        channels.create("alice/sandbox", permissions=own)
        channels.create("alice/scratch", permissions=own, mutability=Mutability.volatile)
        app.publish(make_wheel(folder / "seed", "alicelib", "1.0"), channel="alice/sandbox")
        app.publish(make_wheel(folder / "seed", "secretlib", "1.0"), channel="company/secret")
        db = channels.db
        expires = dt.datetime.now(dt.timezone.utc) + LIMITED_FOR
        tokens = {
            "reader": create_token(db, "bob", Role.reader),
            "uploader": create_token(db, "bob", Role.uploader),
            "maintainer": create_token(db, "bob", Role.maintainer),
            "limited": create_token(db, "sa", Role.admin, list(OWN), expires),
            "root": create_token(db, "root", Role.admin),
        }
        yield app, tokens


def admin_routes(app: AppClient) -> list[tuple[str, str]]:
    """(method, path template) of every route of the app under /api/admin/."""
    return [(method, path) for method, path in every_route(app) if path.startswith("/api/admin/")]


def concrete(template: str, channel: str) -> str:
    values = {**PARAMETERS, "channel": channel}
    return re.sub(r"\{(\w+)\}", lambda found: values[found.group(1)], template)


def send(
    app: AppClient, method: str, path: str, token: str | None, body: dict | None
) -> httpx.Response:
    return app.request(
        method,
        path,
        auth=("__token__", token) if token else None,
        json=body,
        headers={"Accept": "application/json"},
    )


def leaked(answer: httpx.Response, path: str, readable: tuple[str, ...] = ()) -> list[str]:
    """The private channels an answer names that its request named not, nor may read."""
    return [
        name
        for name in PRIVATE
        if name in answer.text and name not in path and name not in readable
    ]


def test_every_admin_route_refuses_anonymous_readers_and_uploaders(site):
    """Walks the real router: every method of every /api/admin/ path, on a public channel
    whose base is private and on private ones, refused (401/403/404) without a token and
    with a reader's or an uploader's, naming no private channel. The issue's leak: the
    bases of pub/leaky answered anonymously, naming company/secret."""
    app, tokens = site
    routes = admin_routes(app)
    assert ("GET", "/api/admin/channels/{channel}/bases") in routes
    assert len(routes) >= len(ADMIN_ROUTES)
    for method, template in routes:
        _scope, body = ADMIN_ROUTES.get((method, template), (SERVER, {}))
        for channel in ("pub/leaky", *PRIVATE) if "{channel}" in template else ("main",):
            path = concrete(template, channel)
            for who in (None, "reader", "uploader"):
                answer = send(app, method, path, tokens.get(who or ""), body)
                assert answer.status_code in (401, 403, 404), (who, method, path, answer.text)
                assert not leaked(answer, path), (who, method, path, answer.text)
                if who is None:
                    assert answer.status_code == 401 or channel in PRIVATE, (method, path)
    assert Accounts(app.channels.db).user("bob").disabled is False
    assert "alice/new" not in app.channels.names()


def test_a_channel_limited_admin_administers_its_channels_only(site):
    """The issue's escape: an admin token limited to alice's channels made an unlimited
    admin token, users, groups and channels, and changed any channel. Every server-wide
    admin route refuses it (403, naming its limit and what it tried); every channel route
    works on its own channel and answers 404 on any other, naming none of them."""
    app, tokens = site
    routes = admin_routes(app)
    unclassified = sorted(set(routes) - set(ADMIN_ROUTES))
    assert not unclassified, f"say whether these concern the server or a channel: {unclassified}"
    for (method, template), (scope, body) in ADMIN_ROUTES.items():
        if scope == SERVER:
            path = concrete(template, "main")
            refused = send(app, method, path, tokens["limited"], body)
            assert refused.status_code == 403, (method, path, refused.text)
            assert "limited to channels 'alice/sandbox', 'alice/scratch'" in refused.text
            assert not leaked(refused, path, OWN), (method, path, refused.text)
            continue
        own = send(app, method, concrete(template, "alice/sandbox"), tokens["limited"], body)
        assert 200 <= own.status_code < 300, (method, template, own.text)
        for other in ("main", "pub/leaky", "company/secret"):
            path = concrete(template, other)
            refused = send(app, method, path, tokens["limited"], body)
            assert refused.status_code == 404, (method, path, refused.text)
            assert not leaked(refused, path, OWN), (method, path, refused.text)
    site_admin = ("__token__", tokens["root"])
    assert app.get("/api/admin/users", auth=site_admin).json()["users"] == [
        {"name": name, "primary_group": None, "groups": groups, "disabled": False, "tokens": n}
        for name, groups, n in (("alice", [], 0), ("bob", [], 3), ("root", [], 1), ("sa", [], 1))
    ]
    assert app.get("/api/admin/groups", auth=site_admin).json()["groups"] == [
        {"name": "insiders", "members": []}
    ]
    assert "alice/new" not in app.channels.names()
    assert app.channels.bases().get("pub/leaky") is not None  # as the site admin set them
    assert app.channels.mutability("company/secret") is Mutability.standard


def test_a_limited_admins_bases_are_its_own_channels(site):
    app, tokens = site
    path = "/api/admin/channels/alice/sandbox/bases"
    for bases in (["company/secret"], ["alice/scratch", "company/nowhere"], ["main"]):
        refused = send(app, "PUT", path, tokens["limited"], {"bases": bases})
        assert refused.status_code == 403, (bases, refused.text)
        detail = refused.json()["detail"]
        assert "limited to channels 'alice/sandbox', 'alice/scratch'" in detail
        assert f"may not make {bases[-1]!r} a base of 'alice/sandbox'" in detail
    done = send(app, "PUT", path, tokens["limited"], {"bases": ["alice/scratch"]})
    assert done.json()["levels"] == ["alice/sandbox", "alice/scratch"], done.text
    assert send(app, "PUT", path, tokens["limited"], {"bases": []}).status_code == 200


def _expiry(answer: httpx.Response) -> dt.datetime:
    return dt.datetime.fromisoformat(answer.json()["expires"])


def test_no_token_makes_a_token_stronger_than_itself(site):
    app, tokens = site

    def make(token: str, **body: object) -> httpx.Response:
        return send(app, "POST", "/api/admin/tokens", token, body)

    refusals = [
        ({"user": "sa", "role": "admin"}, "may not make a token without a channel limit"),
        (
            {"user": "sa", "role": "admin", "channels": ["alice/sandbox", "company/secret"]},
            "may not make a token limited to 'company/secret'",
        ),
        (
            {"user": "sa", "role": "reader", "channels": ["company/nowhere"]},
            "may not make a token limited to 'company/nowhere'",  # existing or not: 403
        ),
        (
            {"user": "alice", "role": "reader", "channels": ["alice/sandbox"], "expires": "30d"},
            "it may not make a token that expires later",
        ),
        (
            {"user": "newcomer", "role": "reader", "channels": ["alice/sandbox"]},
            "creating a user concerns the whole server",
        ),
    ]
    for body, why in refusals:
        refused = make(tokens["limited"], **body)
        assert refused.status_code == 403 and why in refused.json()["detail"], (body, refused.text)
    assert "newcomer" not in [user.name for user in Accounts(app.channels.db).users()]
    weak = make(tokens["maintainer"], user="bob", role="reader")
    assert weak.status_code == 403
    assert weak.json()["detail"] == "making tokens needs the admin role; bob is a maintainer"

    limited = identify_token(app.channels.db, tokens["limited"])
    assert limited is not None and limited.expires is not None
    inherited = make(tokens["limited"], user="alice", role="reader", channels=["alice/sandbox"])
    assert inherited.status_code == 201, inherited.text
    assert _expiry(inherited) == limited.expires
    made = inherited.json()["token"]
    assert app.get("/alice/sandbox/simple/", auth=("__token__", made)).status_code == 200
    assert app.get("/alice/scratch/simple/", auth=("__token__", made)).status_code == 404
    sooner = make(tokens["limited"], user="sa", role="admin", channels=list(OWN), expires="1d")
    assert sooner.status_code == 201, sooner.text
    assert _expiry(sooner) < limited.expires
    # the token it made may make tokens within its own limits, and no further
    again = make(sooner.json()["token"], user="alice", role="reader", channels=["alice/scratch"])
    assert again.status_code == 201 and _expiry(again) == _expiry(sooner)
    later = make(sooner.json()["token"], user="bob", role="reader", channels=[], expires="2d")
    assert later.status_code == 403 and "expires later" in later.text

    # a site admin's token that expires passes its expiry on the same way
    short = make(tokens["root"], user="root", role="admin", expires="2h").json()
    unlimited = make(short["token"], user="bob", role="reader")
    assert unlimited.status_code == 201 and unlimited.json()["channels"] is None
    assert unlimited.json()["expires"] == short["expires"]
    assert make(tokens["root"], user="bob", role="reader").json()["expires"] is None


def test_promotion_deletion_and_mutability_stay_within_the_limit(site, tmp_path: Path):
    app, tokens = site
    limited = ("__token__", tokens["limited"])
    app.publish(make_wheel(tmp_path, "scratchlib", "1.0"), channel="alice/sandbox")

    def promote(source: str, target: str) -> httpx.Response:
        body = {"source": source, "target": target, "releases": ["scratchlib"], "comment": "qa"}
        return app.post("/api/promote", json=body, auth=limited)

    assert promote("alice/sandbox", "main").status_code == 404
    assert promote("alice/sandbox", "pub/leaky").status_code == 404
    assert promote("company/secret", "alice/scratch").status_code == 404
    done = promote("alice/sandbox", "alice/scratch")
    assert done.status_code == 200 and done.json()["copied"], done.text

    def delete(channel: str) -> httpx.Response:
        body = {"channel": channel, "releases": ["scratchlib"], "comment": "done"}
        return app.post("/api/delete", json=body, auth=limited)

    assert delete("pub/leaky").status_code == 404
    assert delete("alice/scratch").json()["removed"]

    def mutability(channel: str, value: str) -> httpx.Response:
        path = f"/api/admin/channels/{channel}/mutability"
        return app.request("PUT", path, json={"mutability": value}, auth=limited)

    assert mutability("company/secret", "volatile").status_code == 404
    assert mutability("main", "immutable").status_code == 404
    assert app.channels.mutability("main") is Mutability.standard
    assert mutability("alice/scratch", "standard").json()["mutability"] == "standard"
