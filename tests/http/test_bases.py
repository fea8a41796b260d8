"""Channels that inherit (bases), in-process: levels, refusals, merged views, nearest wins,
a base's publish seen by its descendants' next conditional request, merged shards.

The real clients (pip, uv, py-rattler, an HTTP mirror as a base) are in
`test_bases_clients.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import msgpack
import pytest
import zstandard
from builders import make_conda_tar_bz2, make_wheel
from servers import AppClient

from drawbridge.channel.accounts import Accounts
from drawbridge.channel.bases import Level, levels_of
from drawbridge.channel.errors import BaseCycle, InvalidName, UnknownChannel
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token
from drawbridge.server import inherited


JSON_PAGE = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _unzstd(data: bytes) -> dict:
    return msgpack.unpackb(zstandard.ZstdDecompressor().decompressobj().decompress(data))


def _tree(channels: Channels) -> None:
    """company/base ← company/internal ← company/dev; customer/release flat."""
    channels.create("company/base")
    channels.create("company/internal", bases=["company/base"])
    channels.create("company/dev", bases=["company/internal"])
    channels.create("customer/release")


@pytest.mark.parametrize(
    ("bases", "channel", "expected"),
    [
        ({}, "a", ["a"]),
        ({"a": ["b"], "b": ["c"]}, "a", ["a", "b", "c"]),
        # a diamond: each level once, at its nearest place, bases in their listed order
        ({"a": ["b", "c"], "b": ["d"], "c": ["d"]}, "a", ["a", "b", "d", "c"]),
        ({"a": ["b", "upstream:cf"], "b": ["upstream:cf"]}, "a", ["a", "b", "upstream:cf"]),
        ({"a": ["c", "b"], "b": ["c"]}, "a", ["a", "c", "b"]),
    ],
)
def test_levels_are_nearest_first_each_once(bases: dict, channel: str, expected: list[str]):
    parsed = {
        name: [Level(b[9:], True) if b.startswith("upstream:") else Level(b) for b in listed]
        for name, listed in bases.items()
    }
    assert [str(level) for level in levels_of(channel, parsed)] == expected


@pytest.mark.parametrize(
    ("channel", "bases", "error", "words"),
    [
        ("company/base", ["company/base"], BaseCycle, "company/base → company/base"),
        ("company/base", ["company/dev"], BaseCycle, "company/base → company/dev → company/"),
        (
            "company/base",
            ["customer/release", "company/internal"],
            BaseCycle,
            "company/base → company/internal → company/base",
        ),
        ("company/dev", ["company/nothing"], UnknownChannel, "'company/nothing'"),
        ("company/dev", ["upstream:conda-forge"], InvalidName, "drawbridge upstream add"),
        ("company/dev", ["company/base", "company/base"], InvalidName, "listed twice"),
        ("company/none", ["company/base"], UnknownChannel, "channel create company/none"),
    ],
)
def test_bases_that_cannot_be_are_refused_and_nothing_changes(
    channels: Channels, channel: str, bases: list[str], error: type, words: str
):
    _tree(channels)
    before = channels.bases()
    with pytest.raises(error) as raised:
        channels.set_bases(channel, bases)
    assert words in str(raised.value)
    assert channels.bases() == before


def test_a_descendant_serves_its_ancestors_projects_pages_files_and_json(
    channels: Channels, tmp_path: Path
):
    _tree(channels)
    base_wheel = make_wheel(tmp_path / "b", "base-lib", "1.0")
    tool = make_wheel(tmp_path / "i", "internal-tool", "2.0", requires=["base-lib"])
    channels.publish("company/base", base_wheel)
    channels.publish("company/internal", tool)
    channels.publish("company/dev", make_wheel(tmp_path / "d", "dev-app", "0.1"))
    with AppClient(channels.home) as app:
        root = app.get("/company/dev/simple/", headers=JSON_PAGE).json()
        assert [p["name"] for p in root["projects"]] == ["base-lib", "dev-app", "internal-tool"]
        assert "base-lib" in app.get("/company/dev/simple/").text  # HTML, the same list
        page = app.get("/company/dev/simple/base-lib/", headers=JSON_PAGE).json()
        (entry,) = page["files"]
        assert entry["filename"] == base_wheel.name and entry["core-metadata"]
        file = app.get(f"/company/dev/files/{base_wheel.name}")
        assert file.status_code == 200 and file.content == base_wheel.read_bytes()
        metadata = app.get(f"/company/dev/files/{base_wheel.name}.metadata")
        assert hashlib.sha256(metadata.content).hexdigest() == entry["core-metadata"]["sha256"]
        document = app.get("/company/dev/pypi/base-lib/json").json()
        assert document["urls"][0]["url"].endswith(f"/company/dev/files/{base_wheel.name}")
        listed = app.get("/api/channels").json()["channels"]
        assert listed["company/dev"]["bases"] == ["company/internal"]
        assert listed["customer/release"]["bases"] == []
        # nothing flows downwards or sideways
        assert app.get("/company/base/simple/dev-app/").status_code == 404
        assert app.get("/customer/release/simple/base-lib/").status_code == 404
        assert app.get(f"/customer/release/files/{base_wheel.name}").status_code == 404
        assert app.get("/company/internal/simple/dev-app/").status_code == 404


def test_the_nearest_wheel_of_a_name_wins(channels: Channels, tmp_path: Path):
    _tree(channels)
    far = make_wheel(tmp_path / "far", "shadow", "1.0", extra_entries={"origin.txt": b"base"})
    near = make_wheel(tmp_path / "near", "shadow", "1.0", extra_entries={"origin.txt": b"dev"})
    assert far.read_bytes() != near.read_bytes()
    channels.publish("company/base", far)
    channels.publish("company/dev", near)
    with AppClient(channels.home) as app:
        for channel, wheel in (("company/dev", near), ("company/internal", far)):
            page = app.get(f"/{channel}/simple/shadow/", headers=JSON_PAGE).json()
            (entry,) = page["files"]
            assert entry["hashes"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
            served = app.get(f"/{channel}/files/{wheel.name}").content
            assert served == wheel.read_bytes()


def test_the_nearest_conda_package_of_a_name_wins(channels: Channels, tmp_path: Path):
    _tree(channels)
    far = make_conda_tar_bz2(tmp_path / "far", "shade", "1.0", members={"origin": b"base"})
    near = make_conda_tar_bz2(tmp_path / "near", "shade", "1.0", members={"origin": b"dev!"})
    channels.publish("company/base", far)
    channels.publish("company/dev", near)
    with AppClient(channels.home) as app:
        repodata = app.get("/company/dev/conda/noarch/repodata.json").json()
        record = repodata["packages"][near.name]
        assert record["sha256"] == hashlib.sha256(near.read_bytes()).hexdigest()
        zst = app.get("/company/dev/conda/noarch/repodata.json.zst").content
        assert json.loads(zstandard.ZstdDecompressor().decompressobj().decompress(zst)) == repodata
        assert app.get(f"/company/dev/conda/noarch/{near.name}").content == near.read_bytes()
        assert app.get(f"/company/internal/conda/noarch/{far.name}").content == far.read_bytes()


def test_a_publish_into_a_base_changes_the_descendants_next_conditional_request(
    channels: Channels, tmp_path: Path
):
    """No index command runs: the descendant's merged page and repodata follow the base."""
    _tree(channels)
    channels.publish("company/base", make_wheel(tmp_path / "1", "growing", "1.0"))
    urls = ["/company/dev/simple/growing/", "/company/dev/conda/noarch/repodata.json"]
    with AppClient(channels.home) as app:
        listing = app.get("/company/dev/simple/")
        first = {url: app.get(url) for url in urls}
        for url, answer in first.items():
            again = app.get(url, headers={"If-None-Match": answer.headers["etag"]})
            assert again.status_code == 304, url
        channels.publish("company/base", make_wheel(tmp_path / "2", "growing", "2.0"))
        package = make_conda_tar_bz2(tmp_path / "c", "growing-tool", "1.0")
        channels.publish("company/base", package)
        for url, answer in first.items():
            changed = app.get(url, headers={"If-None-Match": answer.headers["etag"]})
            assert changed.status_code == 200, url
            assert changed.headers["etag"] != answer.headers["etag"]
        assert "growing-2.0-py3-none-any.whl" in app.get(urls[0]).text
        assert package.name in app.get(urls[1]).json()["packages"]
        # the list of projects is the same bytes as before: still the same ETag
        unchanged = app.get(
            "/company/dev/simple/", headers={"If-None-Match": listing.headers["etag"]}
        )
        assert unchanged.status_code == 304
        # the same bytes give the same ETag in every worker: it is a hash of the content
        assert app.get(urls[0]).headers["etag"] == app.get(urls[0]).headers["etag"]


def test_a_yank_in_a_base_shows_through(channels: Channels, tmp_path: Path):
    _tree(channels)
    wheel = make_wheel(tmp_path / "y", "yanky", "1.0")
    channels.publish("company/base", wheel)
    channels.yank("company/base", wheel.name, "broken build")
    with AppClient(channels.home) as app:
        (entry,) = app.get("/company/dev/simple/yanky/", headers=JSON_PAGE).json()["files"]
        assert entry["yanked"] == "broken build"
        assert 'data-yanked="broken build"' in app.get("/company/dev/simple/yanky/").text


def test_merged_shards_hold_every_level_and_are_served_by_the_descendant(
    channels: Channels, tmp_path: Path
):
    _tree(channels)
    only_base = make_conda_tar_bz2(tmp_path / "a", "alpha", "1.0")
    both_far = make_conda_tar_bz2(tmp_path / "b", "beta", "1.0")
    both_near = make_conda_tar_bz2(tmp_path / "c", "beta", "2.0")
    channels.publish("company/base", only_base)
    channels.publish("company/base", both_far)
    channels.publish("company/dev", both_near)
    with AppClient(channels.home) as app:
        index = _unzstd(app.get("/company/dev/conda/noarch/repodata_shards.msgpack.zst").content)
        assert sorted(index["shards"]) == ["alpha", "beta"]
        found = {}
        for name, digest in index["shards"].items():
            answer = app.get(f"/company/dev/conda/noarch/shards/{digest.hex()}.msgpack.zst")
            assert answer.status_code == 200, name
            assert hashlib.sha256(answer.content).digest() == digest
            found[name] = sorted(_unzstd(answer.content)["packages"])
        assert found == {"alpha": [only_base.name], "beta": [both_far.name, both_near.name]}
        channeldata = app.get("/company/dev/conda/channeldata.json").json()
        assert channeldata["packages"]["beta"]["version"] == "2.0"
        assert sorted(channeldata["packages"]) == ["alpha", "beta"]


def _merged_beta(app: AppClient) -> str:
    """The file name of company/dev's merged shard of beta (at two levels)."""
    index = _unzstd(app.get("/company/dev/conda/noarch/repodata_shards.msgpack.zst").content)
    return f"{index['shards']['beta'].hex()}.msgpack.zst"


def _published_at_two_levels(channels: Channels, tmp_path: Path) -> None:
    _tree(channels)
    channels.publish("company/base", make_conda_tar_bz2(tmp_path / "b", "beta", "1.0"))
    channels.publish("company/dev", make_conda_tar_bz2(tmp_path / "c", "beta", "2.0"))


def test_a_merged_shard_swept_away_is_made_again_when_asked_for(
    channels: Channels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A reader's merged index may be older than the sweep of the shards it names (or a
    sweep may race the merge that named one): the shard is made again when asked for, at
    most every MERGED_REMAKE_EVERY seconds per index (a stream of made-up names costs one
    merge)."""
    _published_at_two_levels(channels, tmp_path)
    with AppClient(channels.home) as app:
        name = _merged_beta(app)
        cached = channels.home.cache_dir / "merged-shards" / name
        url = f"/company/dev/conda/noarch/shards/{name}"
        body = app.get(url).content
        cached.unlink()
        again = app.get(url)
        assert again.status_code == 200 and again.content == body
        assert cached.read_bytes() == body
        cached.unlink()
        assert app.get(url).status_code == 404, "once per MERGED_REMAKE_EVERY"
        monkeypatch.setattr(inherited, "MERGED_REMAKE_EVERY", 0.0)
        assert app.get(url).status_code == 200
        made_up = f"/company/dev/conda/noarch/shards/{'0' * 64}.msgpack.zst"
        assert app.get(made_up).status_code == 404


def test_merged_shards_no_merge_names_are_swept(channels: Channels, tmp_path: Path):
    """Each change of a name at two levels makes a new merged shard: those no merge named
    for MERGED_SHARD_KEEP are removed, those a merge names are touched by it and kept."""
    _published_at_two_levels(channels, tmp_path)
    folder = channels.home.cache_dir / "merged-shards"
    long_ago = time.time() - 2 * inherited.MERGED_SHARD_KEEP
    with AppClient(channels.home) as app:
        first = _merged_beta(app)
        channels.publish("company/dev", make_conda_tar_bz2(tmp_path / "d", "beta", "3.0"))
        second = _merged_beta(app)
        assert first != second and sorted(p.name for p in folder.iterdir()) == sorted(
            [first, second]
        )
        for name in (first, second):
            os.utime(folder / name, (long_ago, long_ago))
        channels.publish("company/base", make_conda_tar_bz2(tmp_path / "e", "gamma", "1.0"))
        assert _merged_beta(app) == second, "merged again: second named, and touched"
    assert inherited.sweep_merged_shards(folder, inherited.MERGED_SHARD_KEEP) == 1
    assert [p.name for p in folder.iterdir()] == [second]


def test_admins_set_bases_over_http(channels: Channels, tmp_path: Path):
    _tree(channels)
    channels.publish("company/base", make_wheel(tmp_path / "b", "from-base", "1.0"))
    admin = create_token(channels.db, "root", Role.admin)
    uploader = create_token(channels.db, "ci", Role.uploader)
    url = "/api/admin/channels/customer/release/bases"
    with AppClient(channels.home) as app:
        assert app.get("/customer/release/simple/from-base/").status_code == 404
        assert app.request("PUT", url, json={"bases": ["company/base"]}).status_code == 401
        weak = app.request(
            "PUT", url, json={"bases": ["company/base"]}, auth=("__token__", uploader)
        )
        assert weak.status_code == 403
        done = app.request("PUT", url, json={"bases": ["company/base"]}, auth=("__token__", admin))
        assert done.status_code == 200, done.text
        assert done.json()["levels"] == ["customer/release", "company/base"]
        assert app.get("/customer/release/simple/from-base/").status_code == 200  # at once
        cycle = app.request(
            "PUT",
            "/api/admin/channels/company/base/bases",
            json={"bases": ["company/dev"]},
            auth=("__token__", admin),
            headers={"Accept": "application/json"},
        )
        assert cycle.status_code == 409
        assert "company/base → company/dev → company/internal → company/base" in cycle.text
        missing = app.request(
            "PUT", url, json={"bases": ["company/gone"]}, auth=("__token__", admin)
        )
        assert missing.status_code == 404 and "company/gone" in missing.text
        channels.create("alice/sandbox")
        made = app.request(
            "PUT",
            "/api/admin/channels/alice/sandbox/bases",
            json={"bases": ["company/dev"]},
            auth=("__token__", admin),
        )
        assert made.status_code == 200, made.text
        assert made.json()["levels"] == [
            "alice/sandbox",
            "company/dev",
            "company/internal",
            "company/base",
        ]
        assert app.get("/alice/sandbox/simple/from-base/").status_code == 200
        listed = app.get(
            "/api/admin/channels/alice/sandbox/bases", auth=("__token__", admin)
        ).json()
        assert listed["bases"] == ["company/dev"]


def test_a_running_server_sees_new_bases_set_by_another_process(channels: Channels, tmp_path):
    """The CLI changes bases in its own process; the server notices `channels/.bases`."""
    _tree(channels)
    channels.publish("company/base", make_wheel(tmp_path / "b", "late-comer", "1.0"))
    with AppClient(channels.home) as app:
        assert app.get("/customer/release/simple/late-comer/").status_code == 404
        channels.set_bases("customer/release", ["company/base"])  # another Channels object
        time.sleep(0.3)
        assert app.get("/customer/release/simple/late-comer/").status_code == 200
        channels.set_bases("customer/release", [])
        time.sleep(0.3)
        assert app.get("/customer/release/simple/late-comer/").status_code == 404


def test_the_routes_answer_an_inheriting_channel_as_the_fast_path_does(
    channels: Channels, tmp_path: Path
):
    """A `/t/<token>/` URL skips the fast path: the FastAPI routes answer, the same bytes."""
    _tree(channels)
    wheel = make_wheel(tmp_path / "w", "routed", "1.0")
    package = make_conda_tar_bz2(tmp_path / "c", "routed-tool", "1.0")
    channels.publish("company/base", wheel)
    channels.publish("company/base", package)
    token = create_token(channels.db, "reader", Role.reader)
    with AppClient(channels.home) as app:
        index = _unzstd(app.get("/company/dev/conda/noarch/repodata_shards.msgpack.zst").content)
        shard = index["shards"]["routed-tool"].hex()
        for path in (
            "/company/dev/simple/",
            "/company/dev/simple/routed/",
            f"/company/dev/files/{wheel.name}",
            f"/company/dev/files/{wheel.name}.metadata",
            "/company/dev/conda/noarch/repodata.json",
            "/company/dev/conda/noarch/repodata.json.zst",
            "/company/dev/conda/noarch/repodata_shards.msgpack.zst",
            f"/company/dev/conda/noarch/shards/{shard}.msgpack.zst",
            "/company/dev/conda/channeldata.json",
            f"/company/dev/conda/noarch/{package.name}",
        ):
            fast, routed = app.get(path), app.get(f"/t/{token}{path}")
            assert fast.status_code == routed.status_code == 200, path
            assert fast.content == routed.content, path
            assert fast.headers.get("etag") == routed.headers.get("etag"), path
        assert app.get(f"/t/{token}/company/dev/simple/nothing/").status_code == 404
        assert app.get(f"/t/{token}/company/dev/files/nothing-1.0.tar.gz").status_code == 404


def test_dropping_a_base_never_moves_last_modified_back(channels: Channels, tmp_path: Path):
    _tree(channels)
    channels.publish("company/dev", make_wheel(tmp_path / "d", "kept", "1.0"))
    time.sleep(0.05)
    channels.publish("company/base", make_wheel(tmp_path / "b", "dropped", "1.0"))
    with AppClient(channels.home) as app:
        before = app.get("/company/dev/simple/")
        assert "dropped" in before.text
        time.sleep(1.1)  # HTTP dates have whole seconds
        channels.set_bases("company/dev", [])
        channels.set_bases("company/dev", ["customer/release"])
        time.sleep(0.3)
        after = app.get(
            "/company/dev/simple/", headers={"If-Modified-Since": before.headers["last-modified"]}
        )
        assert after.status_code == 200 and "dropped" not in after.text


def test_a_base_hidden_from_a_reader_is_left_out_of_what_they_are_served(
    channels: Channels, tmp_path: Path
):
    """company/internal may be read by alice only; company/dev, inheriting from it, is
    public: anonymous readers of company/dev never see internal's files (the levels they
    may read still show), alice sees everything; the fast path never serves the mix."""
    _tree(channels)
    Accounts(channels.db).create_user("alice")
    alice = create_token(channels.db, "alice", Role.reader)
    channels.access.set_permissions("company/internal", read=["user:alice"])
    secret = make_wheel(tmp_path / "s", "secret-tool", "1.0")
    channels.publish("company/internal", secret)
    package = make_conda_tar_bz2(tmp_path / "c", "secret-pkg", "1.0")
    channels.publish("company/internal", package)
    channels.publish("company/dev", make_wheel(tmp_path / "d", "open-app", "1.0"))
    with AppClient(channels.home) as app:
        anonymous = app.get("/company/dev/simple/", headers=JSON_PAGE).json()
        assert [p["name"] for p in anonymous["projects"]] == ["open-app"]
        assert app.get("/company/dev/simple/secret-tool/").status_code == 404
        assert app.get(f"/company/dev/files/{secret.name}").status_code == 404
        assert app.get("/company/dev/pypi/secret-tool/json").status_code == 404
        repodata = app.get("/company/dev/conda/noarch/repodata.json").json()
        assert package.name not in repodata["packages"]
        assert app.get(f"/company/dev/conda/noarch/{package.name}").status_code == 404
        assert "secret-pkg" not in app.get("/company/dev/conda/channeldata.json").text
        auth = ("__token__", alice)
        seen = app.get("/company/dev/simple/", headers=JSON_PAGE, auth=auth).json()
        assert "secret-tool" in [p["name"] for p in seen["projects"]]
        assert app.get(f"/company/dev/files/{secret.name}", auth=auth).status_code == 200
        repodata = app.get("/company/dev/conda/noarch/repodata.json", auth=auth).json()
        assert package.name in repodata["packages"]
