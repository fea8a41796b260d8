"""A channel one may not read cannot be told from one that does not exist (issue 16, item 3).

Two homes alike in everything but one: home `with_secret` has a private channel
`company/secret` (read by alice only), home `without` has none. Every route of the app is
walked (the router's own list, so a route added later is walked too), with every method,
several `Accept` headers and each identity that may not read the channel; the answers of
the two homes must be byte-identical: status, headers (but `date`) and body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from databases import new_home, write_config
from servers import AppClient, every_route, fastapi_app

from drawbridge.channel.accounts import Accounts
from drawbridge.channel.database import Database
from drawbridge.channel.home import load_home
from drawbridge.channel.principals import ChannelPermissions
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token

SECRET = "company/secret"
#: a private channel of a plain name, too
HIDDEN = "hidden"
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
ACCEPTS = (None, "text/html", "application/json", "application/vnd.pypi.simple.v1+json")
#: who asks: (user, role, channels the token is limited to)
ASKERS = {
    "anonymous": None,
    "reader": ("bob", Role.reader, None),
    "uploader": ("bob", Role.uploader, None),
    "maintainer": ("bob", Role.maintainer, None),
    "admin of main only": ("carol", Role.admin, ["main"]),
}
#: a value for each path parameter but the channel
PARAMETERS = {
    "project": "demo",
    "version": "1.0",
    "letter": "d",
    "subdir": "noarch",
    "filename": "demo-1.0-py3-none-any.whl",
    "name": "repodata.json",
    "group": "devs",
    "user": "bob",
    "path": "index.html",
}
#: routes naming channels in their body, and the bodies that name the hidden ones
BODY_ROUTES = {
    ("POST", "/api/promote"): [
        {"source": c, "target": "main", "releases": ["demo"], "comment": "c"}
        for c in (SECRET, HIDDEN)
    ]
    + [
        {"source": "main", "target": c, "releases": ["demo"], "comment": "c"}
        for c in (SECRET, HIDDEN)
    ],
    ("POST", "/api/delete"): [
        {"channel": c, "releases": ["demo"], "comment": "c"} for c in (SECRET, HIDDEN)
    ],
    ("PUT", "/api/admin/channels/{channel}/bases"): [{"bases": [SECRET]}, {"bases": [HIDDEN]}],
    ("POST", "/api/admin/tokens"): [
        {"user": "bob", "role": "reader", "channels": [c]} for c in (SECRET, HIDDEN)
    ],
    ("POST", "/api/admin/channels"): [{"name": "company/other", "bases": [SECRET]}],
}
#: body fields that name a channel
CHANNEL_FIELDS = {"channel", "source", "target", "channels", "bases"}
#: routes with such a field that names something else
NOT_A_CHANNEL = {("POST", "/api/requests")}  # `source`: the tool that could not get a package


@dataclass
class Homes:
    with_secret: AppClient
    without: AppClient
    tokens: dict[str, tuple[str | None, str | None]]  # asker -> (token in each home)


def _home(root: Path, private_channels: bool, config: str) -> AppClient:
    home = new_home(root)
    write_config(home, config)
    home = load_home(root)
    database = Database(home.database_url)
    try:
        accounts = Accounts(database)
        for user in ("alice", "bob", "carol"):
            accounts.create_user(user)
        accounts.create_group("devs")
        channels = Channels(home, database)
        channels.create("main")
        if private_channels:
            for name in (SECRET, HIDDEN):
                channels.create(name, permissions=ChannelPermissions(read=("user:alice",)))
    finally:
        database.close()
    return AppClient(load_home(root))


def _token(client: AppClient, asker: str) -> str | None:
    who = ASKERS[asker]
    if who is None:
        return None
    user, role, limit = who
    database = Database(client.home.database_url)
    try:
        return create_token(database, user, role, channels=limit)
    finally:
        database.close()


def make_homes(root: Path, config: str) -> Homes:
    with_secret = _home(root / "with", True, config)
    without = _home(root / "without", False, config)
    tokens = {asker: (_token(with_secret, asker), _token(without, asker)) for asker in ASKERS}
    return Homes(with_secret, without, tokens)


@pytest.fixture(scope="module", params=["reads public", "reads need a token"])
def homes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    anonymous_read = "true" if request.param == "reads public" else "false"
    config = f'[server]\nanonymous_read = {anonymous_read}\naccess_log = ""\n'
    made = make_homes(tmp_path_factory.mktemp("hidden"), config)
    yield made
    made.with_secret.close()
    made.without.close()


def _answer(client: AppClient, method: str, path: str, token: str | None, accept, body):
    """(status, headers but `date`, body) of one request."""
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if accept:
        headers["Accept"] = accept
    answer = client.request(method, path, headers=headers, json=body)
    return answer.status_code, _without_date(dict(answer.headers)), answer.content


def _without_date(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() != "date"}


def _concrete(template: str, channel: str) -> str:
    values = {**PARAMETERS, "channel": channel}
    return re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], template)


def _requests(routes: list[tuple[str, str]]) -> Iterator[tuple[str, str, dict | None]]:
    """(method, path, JSON body or None) naming a hidden channel: every route whose path
    holds a channel, with every method; every route naming channels in its body."""
    templates = sorted({template for _, template in routes if "{channel}" in template})
    for template in templates:
        for channel in (SECRET, HIDDEN):
            for method in METHODS:
                yield method, _concrete(template, channel), None
    for (method, template), bodies in BODY_ROUTES.items():
        for body in bodies:
            yield method, _concrete(template, "main"), body
    # the default channel's aliases and a channel's page without its slash
    for channel in (SECRET, HIDDEN):
        yield "GET", f"/{channel}", None


@pytest.mark.parametrize("asker", ASKERS)
def test_every_route_answers_a_hidden_channel_as_a_missing_one(homes: Homes, asker: str):
    routes = every_route(homes.with_secret)
    assert len(routes) >= 50
    compared, differ = 0, []
    token_with, token_without = homes.tokens[asker]
    for method, path, body in _requests(routes):
        for accept in ACCEPTS if body is None else (None,):
            hidden = _answer(homes.with_secret, method, path, token_with, accept, body)
            missing = _answer(homes.without, method, path, token_without, accept, body)
            if hidden != missing:
                differ.append((method, path, accept, body, hidden, missing))
            compared += 1
    assert compared > 500
    assert not differ, f"{len(differ)} of {compared} differ; the first: {differ[:3]}"


def test_every_route_naming_channels_in_its_body_is_walked(homes: Homes):
    """A route added later whose body names a channel must join BODY_ROUTES."""
    app = fastapi_app(homes.with_secret)
    routes = app.routes
    try:
        from fastapi.routing import iter_route_contexts

        routes = list(iter_route_contexts(routes))
    except ImportError:
        pass
    naming = set()
    for route in routes:
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        for param in dependant.body_params:
            model = getattr(param.field_info, "annotation", None) or param.type_
            fields = set(getattr(model, "model_fields", {}))
            if fields & CHANNEL_FIELDS:
                path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
                naming |= {(method, path) for method in route.methods}
    assert naming, "no route names a channel in its body: the introspection is broken"
    assert naming - NOT_A_CHANNEL <= set(BODY_ROUTES), naming - NOT_A_CHANNEL - set(BODY_ROUTES)


def test_a_reader_of_the_channel_sees_it(homes: Homes):
    """The other side: alice reads it, so the walk above compares refusals, not bugs."""
    database = Database(homes.with_secret.home.database_url)
    try:
        alice = create_token(database, "alice", Role.reader)
    finally:
        database.close()
    bob = homes.tokens["reader"][0]
    page = f"/{SECRET}/simple/"
    as_alice = homes.with_secret.get(page, headers={"Authorization": f"Bearer {alice}"})
    as_bob = homes.with_secret.get(page, headers={"Authorization": f"Bearer {bob}"})
    assert (as_alice.status_code, as_bob.status_code) == (200, 404)
