"""Issue 11, promotion and channel mutability: `drawbridge promote` copies or moves releases
(wheels, sdists and the conda packages made from them) between channels byte for byte,
audited, crash-safe and idempotent; immutable channels keep every file, volatile ones let
their owners delete. Through the real CLI, the HTTP API, pip and py-rattler."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import pytest
from builders import make_conda_tar_bz2, make_sdist, make_wheel
from commands import invoke_drawbridge
from clients import (
    install_records,
    names_and_versions,
    pip_install,
    run_drawbridge,
    solve,
)
from databases import new_home
from servers import AppClient, start_server
from sqlalchemy import select

from drawbridge.bridge.recipes.target_build import source_filename
from drawbridge.bridge.records import AuditRow
from drawbridge.channel.database import (
    CondaPackageRow,
    Database,
    DistributionRow,
    PromotionRow,
    PublishIntentRow,
)
from drawbridge.channel.faults import CRASH_VARIABLE
from drawbridge.channel.home import Home
from drawbridge.channel.publishing import Provenance
from drawbridge.channel.releases import ReleaseSpec, made_from_release
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token

DEV, BASE = "company/dev", "company/base"
WHEEL_1 = "greet-1.0-py3-none-any.whl"
SDIST_1 = "greet-1.0.tar.gz"
WHEEL_2 = "greet-2.0-py3-none-any.whl"
#: what promoting greet==1.0 carries: its wheel and sdist, the conda package repacked from
#: the wheel, one built from the sdist (a recipe build: the sdist file is not in the
#: channel, its name is), and one with another conda name made from the wheel
RELEASE_1 = {
    f"pypi/files/{WHEEL_1}",
    f"pypi/files/{SDIST_1}",
    "conda/noarch/greet-1.0-0.tar.bz2",
    "conda/linux-64/greet-1.0-1.tar.bz2",
    "conda/noarch/greet-data-1.0-0.tar.bz2",
}
RELEASE_2 = {f"pypi/files/{WHEEL_2}", "conda/noarch/greet-2.0-0.tar.bz2"}


def _channels(home: Home) -> Channels:
    return Channels(home, Database(home.database_url))


@pytest.fixture
def promo(tmp_path: Path) -> Home:
    """A home with company/dev holding greet 1.0 and 2.0 (every kind of file) and an unrelated
    project, and an empty company/base; both made through the CLI."""
    home = new_home(tmp_path / "home")
    for channel in ("main", DEV, BASE):
        made = invoke_drawbridge("channel", "create", channel, home=home.root)
        assert made.returncode == 0, made.stdout + made.stderr
    channels = _channels(home)
    dist = tmp_path / "dist"
    wheel_1 = make_wheel(dist, "greet", "1.0")
    channels.publish_many(
        DEV, [wheel_1, make_sdist(dist, "greet", "1.0"), make_wheel(dist, "greet", "2.0")]
    )
    channels.publish_many(DEV, [make_wheel(dist, "other", "1.0")])
    made = {
        make_conda_tar_bz2(dist / "a", "greet", "1.0", "0"): Provenance("wheel", WHEEL_1),
        make_conda_tar_bz2(dist / "b", "greet", "1.0", "1", "linux-64"): Provenance(
            "recipe", SDIST_1
        ),
        make_conda_tar_bz2(dist / "c", "greet-data", "1.0", "0"): Provenance("wheel", WHEEL_1),
        make_conda_tar_bz2(dist / "d", "greet", "2.0", "0"): Provenance(),  # uploaded
        make_conda_tar_bz2(dist / "e", "other", "1.0", "0"): Provenance("wheel", "other-1.0.whl"),
    }
    published, refused = channels.publish_many(DEV, list(made), provenance=made)
    assert not refused and len(published) == 5
    return home


def _token(home: Home, role: Role, user: str | None = None) -> str:
    return create_token(Database(home.database_url), user or f"{role.name}-user", role)


def _stored(home: Home, channel: str) -> dict[str, str]:
    """Every recorded file of `channel` with the sha256 of its bytes on disk."""
    root = home.channel(channel).root
    with Database(home.database_url).session() as session:
        paths = [
            f"pypi/files/{row.filename}"
            for row in session.scalars(
                select(DistributionRow).where(DistributionRow.channel == channel)
            )
        ] + [
            f"conda/{row.subdir}/{row.filename}"
            for row in session.scalars(
                select(CondaPackageRow).where(CondaPackageRow.channel == channel)
            )
        ]
    return {path: hashlib.sha256((root / path).read_bytes()).hexdigest() for path in paths}


def _served(home: Home, channel: str) -> set[str]:
    """The files `channel`'s pip pages and repodata list, served by the app itself."""
    listed: set[str] = set()
    with AppClient(home) as app:
        projects = app.get(
            f"/{channel}/simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        ).json()["projects"]
        for project in projects:
            page = app.get(
                f"/{channel}/simple/{project['name']}/",
                headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            ).json()
            listed |= {f"pypi/files/{f['filename']}" for f in page["files"]}
        for subdir in ("noarch", "linux-64"):
            repodata = app.get(f"/{channel}/conda/{subdir}/repodata.json").json()
            listed |= {f"conda/{subdir}/{name}" for name in repodata["packages"]}
            listed |= {f"conda/{subdir}/{name}" for name in repodata["packages.conda"]}
    return listed


def _no_leftovers(home: Home) -> None:
    with Database(home.database_url).session() as session:
        assert list(session.scalars(select(PublishIntentRow.path))) == []
        assert list(session.scalars(select(PromotionRow.id))) == []


# -- copying ------------------------------------------------------------------------------


def test_promote_copies_a_release_and_what_was_made_from_it_byte_identical(promo: Home):
    token = _token(promo, Role.maintainer, "mia")
    before = _stored(promo, DEV)
    result = run_drawbridge(
        "promote",
        DEV,
        BASE,
        "greet==1.0",
        "--comment",
        "passed QA #12",
        "--token",
        token,
        home=promo.root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "promoted pypi/files/greet-1.0-py3-none-any.whl → company/base" in result.stdout

    base = _stored(promo, BASE)
    assert set(base) == RELEASE_1  # 2.0 and the other project stay behind
    assert all(base[path] == before[path] for path in base)  # byte for byte
    for path in base:  # the same inode: a hard link, no second copy on disk
        assert (promo.channel(BASE).root / path).stat().st_ino == (
            promo.channel(DEV).root / path
        ).stat().st_ino
    assert _served(promo, BASE) == RELEASE_1
    assert _stored(promo, DEV) == before  # a copy leaves the source as it was
    with AppClient(promo) as app:
        assert (
            app.get(f"/{BASE}/files/{WHEEL_1}").content
            == (promo.channel(DEV).files_dir / WHEEL_1).read_bytes()
        )
        assert app.get(f"/{BASE}/files/{WHEEL_1}.metadata").status_code == 200
        assert app.get(f"/{BASE}/simple/greet/").status_code == 200
        assert app.get(f"/{BASE}/simple/other/").status_code == 404
    with Database(promo.database_url).session() as session:
        rows = {
            row.filename: (row.made_how, row.made_from, row.uploaded_by)
            for row in session.scalars(
                select(CondaPackageRow).where(CondaPackageRow.channel == BASE)
            )
        }
        (audit,) = session.scalars(select(AuditRow).where(AuditRow.action == "promote"))
    assert rows["greet-1.0-1.tar.bz2"] == ("recipe", SDIST_1, "")  # provenance travels along
    assert audit.user == "mia" and audit.subject == "company/dev → company/base"
    assert "greet==1.0: passed QA #12" in audit.detail and WHEEL_1 in audit.detail
    with AppClient(promo) as app:  # the web UI names where each promoted package came from
        project = app.get(f"/{BASE}/pypi/greet/").text
    assert f"bridged wheel of <code>{WHEEL_1}</code>" in project
    assert f"recipe build of <code>{SDIST_1}</code>" in project
    shown = run_drawbridge("audit", home=promo.root)
    assert "mia" in shown.stdout and "promote" in shown.stdout
    assert "company/dev → company/base" in shown.stdout and "passed QA #12" in shown.stdout
    _no_leftovers(promo)

    again = run_drawbridge(
        "promote",
        DEV,
        BASE,
        "greet==1.0",
        "--comment",
        "once more",
        "--token",
        token,
        home=promo.root,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already in company/base") == len(RELEASE_1)
    assert _stored(promo, BASE) == base


def test_a_promotion_never_replaces_other_bytes_in_the_target(promo: Home, tmp_path: Path):
    other = make_wheel(tmp_path / "x", "greet", "1.0", module="different")
    _channels(promo).publish(BASE, other)
    token = _token(promo, Role.admin)
    result = run_drawbridge(
        "promote", DEV, BASE, "greet==1.0", "--comment", "try", "--token", token, home=promo.root
    )
    assert result.returncode == 1
    assert f"already has other bytes under pypi/files/{WHEEL_1}" in result.stderr
    assert set(_stored(promo, BASE)) == {f"pypi/files/{WHEEL_1}"}  # nothing else came
    with Database(promo.database_url).session() as session:  # a refusal is not audited
        assert list(session.scalars(select(AuditRow.id))) == []


@pytest.mark.parametrize(
    "args, role, message",
    [
        (["greet==1.0", "--comment", "x"], None, "promotion needs a token"),
        (
            ["greet==1.0", "--comment", "x"],
            Role.uploader,
            "may not administer 'company/base': that needs a token with the maintainer role",
        ),
        (["greet==1.0"], Role.maintainer, "say why in --comment"),
        (["greet==9.9", "--comment", "x"], Role.maintainer, "has no files of greet==9.9"),
        (["greet>1", "--comment", "x"], Role.maintainer, "write PROJECT or PROJECT==VERSION"),
    ],
)
def test_what_promote_refuses_is_named_with_the_fix(
    promo: Home, args: list[str], role: Role | None, message: str
):
    token = ["--token", _token(promo, role)] if role else []
    result = run_drawbridge("promote", DEV, BASE, *args, *token, home=promo.root)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert _stored(promo, BASE) == {}


# -- moving -------------------------------------------------------------------------------


def test_a_move_leaves_the_source_without_the_release(promo: Home):
    token = _token(promo, Role.maintainer)
    before = _stored(promo, DEV)
    result = run_drawbridge(
        "promote",
        DEV,
        BASE,
        "greet",
        "--move",
        "--comment",
        "ship it",
        "--token",
        token,
        home=promo.root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    everything = RELEASE_1 | RELEASE_2
    assert _stored(promo, BASE) == {path: before[path] for path in everything}
    assert set(_stored(promo, DEV)) == set(before) - everything
    assert _served(promo, DEV) == set(before) - everything  # indexes rewritten
    assert not any((promo.channel(DEV).root / path).exists() for path in everything)
    with AppClient(promo) as app:
        assert app.get(f"/{DEV}/simple/greet/").status_code == 404
        assert app.get(f"/{DEV}/files/{WHEEL_1}").status_code == 404
        assert app.get(f"/{DEV}/simple/other/").status_code == 200
        assert app.get(f"/{BASE}/simple/greet/").status_code == 200
    with Database(promo.database_url).session() as session:
        (audit,) = session.scalars(select(AuditRow))
    assert audit.action == "promote-move" and "greet: ship it" in audit.detail
    _no_leftovers(promo)


# -- immutable and volatile channels --------------------------------------------------------


def test_an_immutable_channel_refuses_deletion_and_move_out(promo: Home):
    assert run_drawbridge("channel", "set", DEV, "--immutable", home=promo.root).returncode == 0
    listed = run_drawbridge("channel", "list", home=promo.root).stdout
    assert "company/dev" in listed and "immutable" in listed
    token = _token(promo, Role.admin)
    before = _stored(promo, DEV)

    moved = run_drawbridge(
        "promote", DEV, BASE, "greet", "--move", "--comment", "x", "--token", token, home=promo.root
    )
    assert moved.returncode == 1 and "is immutable: nothing leaves it" in moved.stderr
    deleted = run_drawbridge(
        "delete", DEV, "greet", "--comment", "x", "--token", token, home=promo.root
    )
    assert deleted.returncode == 1 and "its files are never deleted" in deleted.stderr
    loosened = run_drawbridge("channel", "set", DEV, "--volatile", home=promo.root)
    assert loosened.returncode == 1 and "immutable and stays so" in loosened.stderr
    assert _stored(promo, DEV) == before and _stored(promo, BASE) == {}

    copied = run_drawbridge(
        "promote", DEV, BASE, "greet", "--comment", "x", "--token", token, home=promo.root
    )
    assert copied.returncode == 0, copied.stderr  # copying out of it is fine
    with AppClient(promo) as app:  # and so is promoting into one, over HTTP
        assert app.post(
            "/api/promote",
            json={"source": BASE, "target": DEV, "releases": ["greet"], "comment": "back"},
            auth=("__token__", token),
        ).json()["already"]


def test_a_volatile_channel_lets_its_owner_delete(tmp_path: Path):
    home = new_home(tmp_path / "home")
    for args in (["main"], ["alice/sandbox", "--volatile"], ["company/dev"]):
        assert run_drawbridge("channel", "create", *args, home=home.root).returncode == 0
    dist = tmp_path / "dist"
    files = [make_wheel(dist, "toy", "1.0"), make_wheel(dist, "toy", "2.0")]
    package = make_conda_tar_bz2(dist / "c", "toy", "1.0", "0")
    channels = _channels(home)
    channels.publish_many("alice/sandbox", [*files, package])
    channels.publish_many("company/dev", files)
    alice = _token(home, Role.uploader, "alice")
    bob = _token(home, Role.uploader, "bob")
    admin = _token(home, Role.admin)

    def delete(channel: str, release: str, token: str | None) -> httpx.Response:
        return app.post(
            "/api/delete",
            json={"channel": channel, "releases": [release], "comment": "cleaning up"},
            auth=("__token__", token) if token else None,
        )

    with AppClient(home) as app:
        assert app.get("/alice/sandbox/simple/toy/").status_code == 200  # cached by the app
        assert app.get("/alice/sandbox/files/toy-1.0-py3-none-any.whl").status_code == 200
        assert delete("alice/sandbox", "toy==1.0", None).status_code == 401
        refused = delete("alice/sandbox", "toy==1.0", bob)
        assert refused.status_code == 403 and "bob has neither" in refused.json()["detail"]
        done = delete("alice/sandbox", "toy==1.0", alice)
        assert done.status_code == 200, done.text
        assert sorted(done.json()["removed"]) == [
            "conda/noarch/toy-1.0-0.tar.bz2",
            "pypi/files/toy-1.0-py3-none-any.whl",
        ]
        page = app.get(
            "/alice/sandbox/simple/toy/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        ).json()
        assert [f["filename"] for f in page["files"]] == ["toy-2.0-py3-none-any.whl"]
        assert "toy-1.0" not in app.get("/alice/sandbox/simple/toy/").text
        assert app.get("/alice/sandbox/files/toy-1.0-py3-none-any.whl").status_code == 404
        assert app.get("/alice/sandbox/conda/noarch/repodata.json").json()["packages"] == {}
        standard = delete("company/dev", "toy", admin)
        assert standard.status_code == 409 and "only volatile channels" in standard.json()["detail"]
    assert set(_stored(home, "alice/sandbox")) == {"pypi/files/toy-2.0-py3-none-any.whl"}
    assert len(_stored(home, "company/dev")) == 2

    last = run_drawbridge(
        "delete",
        "alice/sandbox",
        "toy",
        "--comment",
        "done with it",
        "--token",
        alice,
        home=home.root,
    )
    assert last.returncode == 0, last.stdout + last.stderr
    with AppClient(home) as app:
        assert app.get("/alice/sandbox/simple/toy/").status_code == 404
    with Database(home.database_url).session() as session:
        audited = [(r.user, r.action, r.subject) for r in session.scalars(select(AuditRow))]
    assert audited == [("alice", "delete", "alice/sandbox")] * 2
    _no_leftovers(home)


# -- over HTTP ------------------------------------------------------------------------------


def test_promotion_over_http_needs_a_maintainer(promo: Home):
    body = {"source": DEV, "target": BASE, "releases": ["greet==2.0"], "comment": "release"}
    with AppClient(promo) as app:
        assert app.post("/api/promote", json=body).status_code == 401
        weak = app.post("/api/promote", json=body, auth=("__token__", _token(promo, Role.uploader)))
        assert weak.status_code == 403
        token = ("__token__", _token(promo, Role.maintainer, "mia"))
        missing = app.post("/api/promote", json={**body, "releases": ["nope"]}, auth=token)
        assert missing.status_code == 404 and "has no files of nope" in missing.json()["detail"]
        unknown = app.post("/api/promote", json={**body, "target": "company/nowhere"}, auth=token)
        assert unknown.status_code == 404
        done = app.post("/api/promote", json={**body, "move": True}, auth=token)
        assert done.status_code == 200, done.text
        assert set(done.json()["copied"]) == set(done.json()["removed"]) == RELEASE_2
        assert app.get(f"/{BASE}/files/{WHEEL_2}").status_code == 200
        assert app.get(f"/{DEV}/files/{WHEEL_2}").status_code == 404


# -- real clients ---------------------------------------------------------------------------


def test_pip_and_py_rattler_install_the_promoted_release(promo: Home, tmp_path: Path):
    token = _token(promo, Role.maintainer)
    result = run_drawbridge(
        "promote",
        DEV,
        BASE,
        "greet==1.0",
        "--comment",
        "for pip",
        "--token",
        token,
        home=promo.root,
    )
    assert result.returncode == 0, result.stderr
    server = start_server(promo.root)
    try:
        install = pip_install(f"{server.url}/{BASE}/simple/", tmp_path / "t", "greet")
        assert install.returncode == 0, install.stdout + install.stderr
        assert "greet-1.0" in install.stdout  # 2.0 stayed in company/dev
        records = solve([f"{server.url}/{BASE}/conda"], ["greet-data"])
        assert names_and_versions(records) == ["greet-data=1.0"]
        install_records(records, tmp_path / "env", tmp_path / "c")
        assert (tmp_path / "env/share/greet-data/README").read_text() == "greet-data 1.0\n"
    finally:
        server.stop()


# -- crashes ----------------------------------------------------------------------------------

#: where a `--move` of both greet releases (7 files) is killed: the promotion recorded,
#: after the 3rd file copied, one file placed and not recorded, every file recorded and not
#: indexed, the source's records gone and its files not yet
KILLED_AT = ["promoting", "promoted#3", "placed#4", "recorded#7", "pages", "removed"]


@pytest.mark.parametrize("point", KILLED_AT)
@pytest.mark.database
def test_a_killed_move_is_finished_on_restart(promo: Home, point: str):
    token = _token(promo, Role.maintainer)
    before = _stored(promo, DEV)
    args = ["promote", DEV, BASE, "greet", "--move", "--comment", "crash", "--token", token]
    killed = run_drawbridge(*args, env={CRASH_VARIABLE: point}, home=promo.root)
    assert killed.returncode == -9, killed.stdout + killed.stderr

    _channels(promo).recover()  # what a server start runs
    everything = RELEASE_1 | RELEASE_2
    assert _stored(promo, BASE) == {path: before[path] for path in everything}
    assert set(_stored(promo, DEV)) == set(before) - everything
    assert _served(promo, BASE) == everything
    assert _served(promo, DEV) == set(before) - everything
    orphans = [p for p in everything if (promo.channel(DEV).root / p).exists()]
    assert orphans == []
    _no_leftovers(promo)
    with Database(promo.database_url).session() as session:  # audited exactly once
        assert [r.action for r in session.scalars(select(AuditRow))] == ["promote-move"]

    again = run_drawbridge(*args, home=promo.root)  # the same move again: nothing left to move
    assert again.returncode == 1 and "has no files of greet" in again.stderr


@pytest.mark.database
def test_a_server_killed_during_a_promotion_finishes_it_when_it_starts(promo: Home):
    token = _token(promo, Role.maintainer)
    killed = run_drawbridge(
        *["promote", DEV, BASE, "greet==1.0", "--comment", "x", "--token", token],
        env={CRASH_VARIABLE: "promoted#2"},
        home=promo.root,
    )
    assert killed.returncode == -9
    server = start_server(promo.root)
    try:
        for _ in range(600):
            if len(_stored(promo, BASE)) == len(RELEASE_1):
                break
            asyncio.run(asyncio.sleep(0.1))
        assert set(_stored(promo, BASE)) == RELEASE_1
        for path in RELEASE_1:
            served = path.replace("pypi/files/", "files/")
            url = f"{server.url}/{BASE}/{served}"
            assert httpx.get(url).status_code == 200, url
    finally:
        server.stop()


# -- provenance, pure --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "made_from, release",
    [
        ("greet-1.0-py3-none-any.whl", ("greet", "1.0")),
        ("zope.interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl", ("zope-interface", "6.0")),
        ("Greet_Tool-2.0.post1.tar.gz", ("greet-tool", "2.0.post1")),
        ("legacy_demo-1.0.zip", ("legacy-demo", "1.0")),
        ("", None),
        ("not a file name", None),
    ],
)
def test_made_from_names_its_release(made_from: str, release: tuple[str, str] | None):
    assert made_from_release(made_from) == release


@pytest.mark.parametrize(
    "text, spec",
    [
        ("greet", ReleaseSpec("greet")),
        ("Greet_Tool==1.0", ReleaseSpec("greet-tool", "1.0")),
        (" zope.interface == 6.0 ", ReleaseSpec("zope-interface", "6.0")),
    ],
)
def test_release_specs(text: str, spec: ReleaseSpec):
    assert ReleaseSpec.parse(text) == spec


@pytest.mark.parametrize(
    "recipe, filename",
    [
        (
            "source:\n  url: https://files.example/p/greet-1.0.tar.gz\n  sha256: ab\n",
            "greet-1.0.tar.gz",
        ),
        (
            "source:\n  - url: https://pypi.org/packages/source/g/greet/greet-${{ version }}.zip\n",
            "greet-1.5.zip",
        ),
        ("source:\n  url:\n    - file:///cache/x/greet%2B1-1.5.tar.gz\n", "greet+1-1.5.tar.gz"),
        ("source:\n  path: ../src\n", ""),
        ("package:\n  name: x\n", ""),
    ],
)
def test_a_recipe_build_records_its_sdist(recipe: str, filename: str):
    assert source_filename(recipe, "1.5") == filename


def test_a_channel_is_created_with_one_mutability(promo: Home):
    made = run_drawbridge(
        "channel", "create", "qa/tools", "--volatile", "--immutable", home=promo.root
    )
    assert made.returncode == 1 and "not several" in made.stderr
    assert (
        run_drawbridge("channel", "create", "qa/tools", "--volatile", home=promo.root).returncode
        == 0
    )
    assert _channels(promo).mutability("qa/tools").value == "volatile"
    assert _channels(promo).mutability(DEV).value == "standard"


def test_mutability_over_http_needs_an_admin(promo: Home):
    path = f"/api/admin/channels/{DEV}/mutability"
    with AppClient(promo) as app:
        maintainer = ("__token__", _token(promo, Role.maintainer))
        admin = ("__token__", _token(promo, Role.admin))
        assert app.request("PUT", path, json={"mutability": "volatile"}).status_code == 401
        assert (
            app.request("PUT", path, json={"mutability": "volatile"}, auth=maintainer).status_code
            == 403
        )
        assert (
            app.request("PUT", path, json={"mutability": "sticky"}, auth=admin).status_code == 422
        )
        done = app.request("PUT", path, json={"mutability": "immutable"}, auth=admin)
        assert done.json() == {"channel": DEV, "mutability": "immutable"}
        again = app.request("PUT", path, json={"mutability": "standard"}, auth=admin)
        assert again.status_code == 409 and "stays so" in again.json()["detail"]
        missing = app.request(
            "PUT", "/api/admin/channels/company/nowhere/mutability", json={}, auth=admin
        )
        assert missing.status_code == 422
        unknown = app.request(
            "PUT",
            "/api/admin/channels/company/nowhere/mutability",
            json={"mutability": "volatile"},
            auth=admin,
        )
        assert unknown.status_code == 404
    assert _channels(promo).mutability(DEV).value == "immutable"


@pytest.mark.database
def test_a_killed_promotion_whose_files_were_deleted_meanwhile_is_abandoned(promo: Home):
    assert run_drawbridge("channel", "set", DEV, "--volatile", home=promo.root).returncode == 0
    token = _token(promo, Role.maintainer, "mia")
    killed = run_drawbridge(
        *["promote", DEV, BASE, "greet==1.0", "--comment", "x", "--token", token],
        env={CRASH_VARIABLE: "promoting"},
        home=promo.root,
    )
    assert killed.returncode == -9
    gone = run_drawbridge(
        "delete", DEV, "greet==1.0", "--comment", "oops", "--token", token, home=promo.root
    )
    assert gone.returncode == 0, gone.stderr
    indexed = run_drawbridge("index", home=promo.root)
    assert indexed.returncode == 0, indexed.stderr
    assert "abandoned" in indexed.stderr and "is no longer in channel 'company/dev'" in (
        indexed.stderr
    )
    assert _stored(promo, BASE) == {}
    _no_leftovers(promo)


def test_promotion_asks_the_channels_permissions(promo: Home):
    """Reading the source and reviewing the target, per channel: a maintainer token alone is
    not enough where the lists say otherwise; a source one may not read does not exist."""
    mia = ("__token__", _token(promo, Role.maintainer, "mia"))
    max_ = ("__token__", _token(promo, Role.maintainer, "max"))
    admin = ("__token__", _token(promo, Role.admin, "root"))
    body = {"source": DEV, "target": BASE, "releases": ["greet==1.0"], "comment": "qa"}
    with AppClient(promo) as app:

        def lists(channel: str, **given: list[str]) -> None:
            path = f"/api/admin/channels/{channel}/permissions"
            assert app.request("PUT", path, json=given, auth=admin).status_code == 200

        lists(BASE, review=["user:mia"])
        lists(DEV, read=["user:mia"])
        hidden = app.post("/api/promote", json=body, auth=max_)
        assert hidden.status_code == 404 and "no channel 'company/dev'" in hidden.text
        lists(DEV, read=["user:mia", "user:max"])
        refused = app.post("/api/promote", json=body, auth=max_)
        assert (
            refused.status_code == 403
            and "max may not administer 'company/base'" in (refused.json()["detail"])
        )
        lists(DEV, review=["user:max"])
        moved = app.post("/api/promote", json={**body, "move": True}, auth=mia)
        assert moved.status_code == 403  # a move needs reviewing the source too
        assert "mia may not administer 'company/dev'" in moved.json()["detail"]
        done = app.post("/api/promote", json=body, auth=mia)
        assert done.status_code == 200 and set(done.json()["copied"]) == RELEASE_1
