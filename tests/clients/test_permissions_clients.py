"""The tree of issue 11, built through the CLI (channels with their bases, permissions and
mutability, users, groups, tokens), and real clients (pip, uv, twine, py-rattler) proving
each of its edges against a running `drawbridge serve`: what inherits, what is hidden, who
may add what, and a promotion from company/dev into company/base reaching every descendant.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from builders import make_conda_tar_bz2, make_wheel
from commands import invoke_drawbridge
from clients import (
    twine_upload,
    names_and_versions,
    pip_install,
    run_drawbridge,
    solve,
    uv_install,
)
from databases import new_home
from servers import Server, start_server

from drawbridge.channel.access import STAMP_CHECK_SECONDS
from drawbridge.channel.database import Database
from drawbridge.channel.tokens import Role, create_token

#: (channel, the `drawbridge channel create` options that make it)
TREE = [
    ("company/base", ["--read", ":anonymous:", "--upload", ":admins:", "--immutable"]),
    (
        "company/internal",
        ["--base", "company/base", "--read", "group:devs,group:qa,group:ci"]
        + ["--upload", "group:ci"],
    ),
    (
        "company/dev",
        ["--base", "company/internal"]
        + ["--read", "group:devs", "--read", "group:qa", "--read", "group:ci"]
        + ["--upload", "group:devs", "--review", "group:leads"],
    ),
    ("alice/sandbox", ["--base", "company/dev", "--read", "user:alice", "--upload", "user:alice"]),
    ("bob/sandbox", ["--base", "company/dev", "--read", "user:bob", "--upload", "user:bob"]),
    (
        "company/qa",
        ["--base", "company/internal", "--read", ":authenticated:", "--upload", "group:qa"],
    ),
    ("customer/release", ["--read", ":anonymous:", "--upload", ":admins:"]),
]


@dataclass
class Tree:
    server: Server
    tokens: dict[str, str]
    dists: Path

    def url(self, channel: str, who: str | None = None) -> str:
        """The channel's pip index, with `who`'s token in it as pip and uv send it."""
        base = self.server.url
        if who:
            base = base.replace("http://", f"http://__token__:{self.tokens[who]}@")
        return f"{base}/{channel}/simple/"


def cli(home: Path, *args: str) -> str:
    """`drawbridge ARGS --home HOME`, in-process (the tree is made through the CLI; what a
    command says is tested in http/)."""
    done = invoke_drawbridge(*args, home=home)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def twine(tree: Tree, who: str, channel: str, path: Path) -> subprocess.CompletedProcess:
    """`who` uploads `path` to `channel` with twine."""
    return twine_upload(f"{tree.server.url}/{channel}/upload/", tree.tokens[who], path)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    folder = tmp_path_factory.mktemp("tree-clients")
    home = new_home(folder / "home").root
    for group in ("devs", "qa", "ci", "leads"):
        cli(home, "group", "create", group)
    cli(home, "user", "create", "alice")
    cli(home, "user", "create", "bob")
    cli(home, "user", "create", "carol", "--group", "qa")
    cli(home, "user", "create", "ci-bot", "--group", "ci")
    cli(home, "group", "add", "devs", "alice", "bob")
    for channel, options in TREE:
        cli(home, "channel", "create", channel, *options)
    shown = cli(home, "channel", "permissions", "company/dev")
    assert "group:devs, group:qa, group:ci" in shown or "group:ci, group:devs" in shown
    tokens = {}
    for who, role, *limit in (
        ("alice", "uploader"),
        ("bob", "uploader"),
        ("bob", "reader", "--channel", "company/dev"),
        ("ci-bot", "uploader"),
        ("root", "admin"),
    ):
        key = who if not limit else f"{who}-dev-only"
        printed = cli(home, "token", "create", "--user", who, "--role", role, *limit)
        tokens[key] = printed.strip().splitlines()[-1]
    dists = folder / "dists"
    conda = make_conda_tar_bz2(dists / "noarch", "alice-data", "1.0")
    cli(home, "publish", "--channel", "alice/sandbox", str(conda))
    base_conda = make_conda_tar_bz2(dists / "noarch", "base-data", "2.0")
    cli(home, "publish", "--channel", "company/base", str(base_conda))
    server = start_server(home)
    try:
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        tokens["expired"] = create_token(
            Database(server.home.database_url), "alice", Role.uploader, expires=past
        )
        made = Tree(server, tokens, dists)
        for who, channel, project in (
            ("root", "company/base", "base-lib"),
            ("ci-bot", "company/internal", "internal-tool"),
            ("root", "customer/release", "released-tool"),
            ("alice", "company/dev", "alice-lib"),
            ("alice", "alice/sandbox", "alice-private"),
        ):
            done = twine(made, who, channel, make_wheel(dists / project, project, "1.0"))
            assert done.returncode == 0, done.stdout + done.stderr
        yield made
    finally:
        server.stop()


def test_pip_on_the_customer_url_cannot_see_an_internal_project(tree: Tree, tmp_path: Path):
    released = pip_install(tree.url("customer/release"), tmp_path / "ok", "released-tool")
    assert released.returncode == 0, released.stderr
    hidden = pip_install(tree.url("customer/release"), tmp_path / "no", "internal-tool")
    assert hidden.returncode != 0
    assert "No matching distribution found for internal-tool" in hidden.stderr
    page = httpx.get(tree.url("customer/release") + "internal-tool/")
    assert page.status_code == 404
    # and the internal channel itself does not exist for a customer without a token
    direct = pip_install(tree.url("company/internal"), tmp_path / "direct", "internal-tool")
    assert direct.returncode != 0 and "(from versions: none)" in direct.stderr
    assert httpx.get(tree.url("company/internal") + "internal-tool/").status_code == 404
    inside = pip_install(tree.url("company/internal", "bob"), tmp_path / "in", "internal-tool")
    assert inside.returncode == 0, inside.stderr  # bob is a dev: devs read internal


@pytest.mark.parametrize("client", [pip_install, uv_install], ids=["pip", "uv"])
def test_alices_sandbox_is_404_for_bob(tree: Tree, tmp_path: Path, client):  # type: ignore[no-untyped-def]
    theirs = client(tree.url("alice/sandbox", "alice"), tmp_path / "a", "alice-private")
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    refused = client(tree.url("alice/sandbox", "bob"), tmp_path / "b", "alice-private")
    assert refused.returncode != 0
    assert not list((tmp_path / "b").glob("alice_private*"))
    # what the client was answered, with the same credentials in the URL: not there
    for path in ("", "alice-private/"):
        assert httpx.get(tree.url("alice/sandbox", "bob") + path).status_code == 404
        assert httpx.get(tree.url("alice/sandbox", "alice") + path).status_code == 200


def test_py_rattler_through_bobs_token_url_finds_no_sandbox_of_alice(tree: Tree):
    alice = f"{tree.server.url}/t/{tree.tokens['alice']}/alice/sandbox/conda"
    assert names_and_versions(solve([alice], ["alice-data"])) == ["alice-data=1.0"]
    bob = f"{tree.server.url}/t/{tree.tokens['bob']}/alice/sandbox/conda"
    with pytest.raises(Exception):
        solve([bob], ["alice-data"])
    answer = httpx.get(f"{bob}/noarch/repodata.json")
    assert answer.status_code == 404
    missing = httpx.get(
        f"{tree.server.url}/t/{tree.tokens['bob']}/alice/nothing/conda/noarch/repodata.json"
    )
    assert answer.json() == {"detail": "no channel 'alice/sandbox'"}
    assert missing.json() == {"detail": "no channel 'alice/nothing'"}


def test_the_ui_and_the_channel_list_show_bob_no_sandbox_of_alice(tree: Tree):
    bob = ("__token__", tree.tokens["bob"])
    page = httpx.get(f"{tree.server.url}/alice/sandbox/", auth=bob)
    assert page.status_code == 404
    assert httpx.get(f"{tree.server.url}/bob/sandbox/", auth=bob).status_code == 200
    front = httpx.get(f"{tree.server.url}/", auth=bob).text
    assert "/bob/sandbox/" in front and "alice/sandbox" not in front
    listed = httpx.get(f"{tree.server.url}/api/channels", auth=bob).json()["channels"]
    assert "bob/sandbox" in listed and "alice/sandbox" not in listed
    anonymous = httpx.get(f"{tree.server.url}/api/channels").json()["channels"]
    assert sorted(anonymous) == ["company/base", "customer/release", "main"]


def test_twine_with_bobs_token_is_refused_where_bob_may_not_add(tree: Tree):
    base = twine(tree, "bob", "company/base", make_wheel(tree.dists / "b1", "bobs-base", "1.0"))
    assert base.returncode != 0 and "403" in base.stdout + base.stderr
    next_version = make_wheel(tree.dists / "b2", "alice-lib", "2.0")
    theirs = twine(tree, "bob", "company/dev", next_version)
    assert theirs.returncode != 0 and "403" in theirs.stdout + theirs.stderr
    own = twine(tree, "bob", "company/dev", make_wheel(tree.dists / "b3", "bob-lib", "1.0"))
    assert own.returncode == 0, own.stdout + own.stderr


def test_a_build_tag_wheel_cannot_shadow_another_groups_project(tree: Tree, tmp_path: Path):
    """pip prefers `alice_lib-1.0-1-…` (build tag 1) over alice's `alice_lib-1.0-…`: from bob
    it is refused, so pip on company/dev still installs alice's file."""
    shadow = make_wheel(tree.dists / "shadow", "alice-lib", "1.0", module="alice_lib")
    tagged = shadow.rename(shadow.with_name("alice_lib-1.0-1-py3-none-any.whl"))
    refused = twine(tree, "bob", "company/dev", tagged)
    assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr
    installed = pip_install(tree.url("company/dev", "bob-dev-only"), tmp_path / "t", "alice-lib")
    assert installed.returncode == 0, installed.stderr
    (info,) = (tmp_path / "t").glob("alice_lib-1.0.dist-info")
    assert "Build:" not in (info / "WHEEL").read_text()
    files = httpx.get(tree.url("company/dev", "bob-dev-only") + "alice-lib/").text
    assert "alice_lib-1.0-1-py3-none-any.whl" not in files


def test_an_expired_token_is_refused(tree: Tree, tmp_path: Path):
    done = pip_install(tree.url("alice/sandbox", "expired"), tmp_path / "t", "alice-private")
    assert done.returncode != 0 and not list((tmp_path / "t").glob("alice_private*"))
    answer = httpx.get(tree.url("alice/sandbox", "expired") + "alice-private/")
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    upload = twine(tree, "expired", "alice/sandbox", make_wheel(tmp_path, "late", "1.0"))
    assert upload.returncode != 0 and "401" in upload.stdout + upload.stderr


def test_a_channel_limited_token_cannot_read_another_channel(tree: Tree, tmp_path: Path):
    ok = pip_install(tree.url("company/dev", "bob-dev-only"), tmp_path / "a", "alice-lib")
    assert ok.returncode == 0, ok.stderr
    other = pip_install(
        tree.url("company/internal", "bob-dev-only"), tmp_path / "b", "internal-tool"
    )
    assert other.returncode != 0 and "(from versions: none)" in other.stderr
    limited = tree.url("company/internal", "bob-dev-only") + "internal-tool/"
    assert httpx.get(limited).status_code == 404
    # bob himself reads company/internal; the token's limit is what refuses
    assert httpx.get(tree.url("company/internal", "bob")).status_code == 200


def test_the_cli_shows_refuses_and_changes_what_the_tree_says(tree: Tree):
    home = tree.server.home.root
    users = cli(home, "user", "list")
    assert "carol" in users and "qa" in users
    assert "alice, bob" in cli(home, "group", "list")
    assert "owned by user:alice" in cli(home, "channel", "owner", "company/dev", "alice-lib")
    listing = cli(home, "channel", "list")
    assert "user:alice" in listing and "default: everyone" in listing  # main keeps the default
    for args, message in (
        (["user", "create", "alice"], "user 'alice' exists already"),
        (["group", "add", "devs", "nobody"], "no user 'nobody'"),
        (["channel", "permissions", "company/qa", "--upload", "qa"], "is not a principal"),
        (["channel", "permissions", "company/nothing"], "no channel 'company/nothing'"),
        (["token", "create", "--user", "bob", "--expires", "soon"], "is not an expiry"),
        (["token", "create", "--user", "bob", "--channel", "company/nothing"], "no channel"),
        (["channel", "owner", "company/dev", "alice-lib", "group:nobody"], "no group 'nobody'"),
    ):
        done = run_drawbridge(*args, home=home)
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    # a grant the CLI makes reaches the running server (both workers) at once: a refusal
    # looks at the permissions stamp first; a revocation within STAMP_CHECK_SECONDS (the
    # stamp is looked at that often; the in-process CLI can finish sooner than that)
    qa = tree.url("company/qa")
    assert [httpx.get(qa).status_code for _ in range(4)] == [404] * 4
    cli(home, "channel", "permissions", "company/qa", "--read", ":anonymous:")
    assert [httpx.get(qa).status_code for _ in range(4)] == [200] * 4
    cli(home, "channel", "permissions", "company/qa", "--read", "group:qa")
    time.sleep(STAMP_CHECK_SECONDS * 1.5)
    assert [httpx.get(qa).status_code for _ in range(4)] == [404] * 4
    cli(home, "channel", "permissions", "company/qa", "--default", "read")
    assert httpx.get(qa).status_code == 200  # the server-wide default: anonymous_read = true
    cli(home, "user", "disable", "carol")
    assert "yes" in cli(home, "user", "list").split("carol", 1)[1].splitlines()[0]


# -- inheritance and promotion on the tree ---------------------------------------------------


@pytest.mark.parametrize("client", [pip_install, uv_install], ids=["pip", "uv"])
def test_ancestors_packages_install_through_a_sandbox_url(tree: Tree, tmp_path: Path, client):  # type: ignore[no-untyped-def]
    """alice/sandbox → company/dev → company/internal → company/base: alice installs what
    company/base and company/internal hold through her sandbox's URL, three levels up."""
    for project, module in (("base-lib", "base_lib"), ("internal-tool", "internal_tool")):
        target = tmp_path / project
        done = client(tree.url("alice/sandbox", "alice"), target, project)
        assert done.returncode == 0, done.stdout + done.stderr
        assert list(target.glob(f"{module}-1.0.dist-info")), sorted(target.iterdir())
    # the customer's channel inherits nothing: not even company/base's package
    outside = pip_install(tree.url("customer/release"), tmp_path / "customer", "base-lib")
    assert outside.returncode != 0


def test_py_rattler_solves_through_company_dev_a_package_of_company_base(tree: Tree):
    dev = f"{tree.server.url}/t/{tree.tokens['bob']}/company/dev/conda"
    assert names_and_versions(solve([dev], ["base-data"])) == ["base-data=2.0"]
    customer = f"{tree.server.url}/customer/release/conda"
    with pytest.raises(Exception):
        solve([customer], ["base-data"])


def test_promotion_from_dev_to_base_reaches_every_descendant_byte_identical(
    tree: Tree, tmp_path: Path
):
    home = tree.server.home.root
    wheel = make_wheel(tree.dists / "promoted", "promoted-lib", "1.0")
    done = twine(tree, "alice", "company/dev", wheel)
    assert done.returncode == 0, done.stdout + done.stderr
    admin = ("__token__", tree.tokens["root"])
    base_page = f"{tree.server.url}/company/base/simple/promoted-lib/"
    assert httpx.get(base_page, auth=admin).status_code == 404
    cli(
        home, "promote", "company/dev", "company/base", "promoted-lib==1.0",
        "--comment", "passed QA, ticket 1234", "--token", tree.tokens["root"],
    )  # fmt: skip
    sent = wheel.read_bytes()
    for channel in (
        "company/base", "company/internal", "company/dev", "company/qa",
        "alice/sandbox", "bob/sandbox",
    ):  # fmt: skip
        page = httpx.get(f"{tree.server.url}/{channel}/simple/promoted-lib/", auth=admin)
        assert page.status_code == 200, (channel, page.status_code)
        (href,) = [h for h in _hrefs(page.text) if wheel.name in h]
        served = httpx.get(httpx.URL(page.url).join(href), auth=admin)
        assert served.status_code == 200 and served.content == sent, channel
    hidden = httpx.get(f"{tree.server.url}/customer/release/simple/promoted-lib/", auth=admin)
    assert hidden.status_code == 404
    installed = pip_install(tree.url("company/qa", "root"), tmp_path / "qa", "promoted-lib")
    assert installed.returncode == 0, installed.stderr
    audit = cli(home, "audit")
    assert "company/dev" in audit and "company/base" in audit
    assert "passed QA, ticket 1234" in audit
    # company/base is immutable: nothing leaves it, not even by an admin
    refused = run_drawbridge(
        "delete", "company/base", "promoted-lib==1.0",
        "--comment", "oops", "--token", tree.tokens["root"], home=home,
    )  # fmt: skip
    assert refused.returncode == 1 and "immutable" in refused.stderr, refused.stderr
    moved_out = run_drawbridge(
        "promote", "company/base", "company/dev", "promoted-lib==1.0", "--move",
        "--comment", "oops", "--token", tree.tokens["root"], home=home,
    )  # fmt: skip
    assert moved_out.returncode == 1 and "immutable" in moved_out.stderr, moved_out.stderr
    assert httpx.get(base_page, auth=admin).status_code == 200


def _hrefs(text: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', text)
