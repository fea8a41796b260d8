"""Signed bundles between two homes in-process: a channel carried byte for byte in chunks,
refusals that change nothing, receipts that make the next export a delta."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from builders import make_noarch_python_conda, make_wheel
from databases import new_home
from served_state import as_listed, home_state, served_bytes
from servers import static_http_server

from drawbridge.bridge.bundles import export, importing, signing
from drawbridge.bridge.bundles.manifest import MANIFEST_NAME, parse_manifest
from drawbridge.bridge.errors import BundleRefused
from drawbridge.channel.database import Database
from drawbridge.channel.errors import BatchRefused
from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels

#: small enough that every file of the test channel spans chunks
CHUNK = 700


def channels_of(home: Home) -> Channels:
    return Channels(home, Database(home.database_url))


def make_home(root: Path) -> Home:
    home = new_home(root)
    channels_of(home).create("main")
    signing.generate(home.signing_key_path, home.signing_key_path.with_suffix(".pub"))
    return home


def trust(home: Home, other: Home, name: str) -> None:
    """Make `home` trust `other`'s signing key."""
    (home.root / "keys" / "trusted").mkdir(parents=True, exist_ok=True)
    shutil.copy(other.signing_key_path.with_suffix(".pub"), home.root / "keys/trusted" / name)


def keys(home: Home) -> list[signing.PublicKey]:
    return [signing.load_public(path) for path in home.trusted_key_paths]


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """Home A: two wheels (one a sdist's sibling) and a conda package in `main`."""
    home = make_home(tmp_path_factory.mktemp("outside") / "home")
    dists = tmp_path_factory.mktemp("dists")
    channels_of(home).publish_many(
        "main",
        [
            make_wheel(dists, "alpha", "1.0"),
            make_wheel(dists, "beta", "2.0", requires=["alpha"]),
            make_noarch_python_conda(dists, "gamma", "3.0", "gamma"),
        ],
    )
    return home


@pytest.fixture
def inside(tmp_path: Path, outside: Home) -> Home:
    home = make_home(tmp_path / "inside")
    trust(home, outside, "outside.pub")
    return home


def export_all(outside: Home, out: Path, **options) -> export.Manifest:  # type: ignore[no-untyped-def]
    key = signing.load_private(outside.signing_key_path)
    return export.write_bundle(
        out, channels_of(outside), [export.Selection("main")], key, CHUNK, **options
    )


def import_into(inside: Home, bundle: Path) -> importing.ImportReport:
    key = signing.load_private(inside.signing_key_path)
    return importing.import_bundle(channels_of(inside), bundle, keys(inside), key)


def folder_state(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(folder).as_posix(): (
            p.read_bytes() if p.is_file() else b"",
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
    } | {"": (b"", folder.stat().st_mtime_ns)}


def test_a_bundle_carries_a_channel_byte_for_byte(outside: Home, inside: Home, tmp_path: Path):
    bundle = tmp_path / "bundle"
    manifest = export_all(outside, bundle)
    assert len(manifest.chunks) > 3 and max(c.size for c in manifest.chunks) <= CHUNK
    assert {f.role for f in manifest.files} == {"wheel", "conda"}
    before = folder_state(bundle)

    report = import_into(inside, bundle)

    assert folder_state(bundle) == before, "the import wrote next to the bundle"
    assert report.bytes_read == manifest.total_size
    assert sorted(f.filename for f in report.published["main"]) == sorted(
        f.name for f in manifest.files
    )
    assert as_listed(served_bytes(inside)) == as_listed(served_bytes(outside))
    assert not (inside.root / "bundles" / "imports" / report.bundle_id).exists()


def _flip_a_byte(bundle: Path) -> str:
    chunk = bundle / "chunks" / "0002.bin"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x01
    chunk.write_bytes(bytes(data))
    return "chunks/0002.bin of the bundle"


def _edit_the_manifest(bundle: Path) -> str:
    document = json.loads((bundle / MANIFEST_NAME).read_text())
    document["files"][0]["channel"] = "other"
    document["channels"].append({"name": "other", "description": "", "mutability": "standard"})
    (bundle / MANIFEST_NAME).write_text(json.dumps(document, sort_keys=True, separators=(",", ":")))
    return "does not match its bytes; it was changed after signing"


def _remove_a_chunk(bundle: Path) -> str:
    (bundle / "chunks" / "0003.bin").unlink()
    return "chunks/0003.bin is missing from the bundle"


@pytest.mark.parametrize("spoil", [_flip_a_byte, _edit_the_manifest, _remove_a_chunk, None])
def test_a_spoiled_bundle_is_refused_and_changes_nothing(
    outside: Home, inside: Home, tmp_path: Path, spoil
):  # type: ignore[no-untyped-def]
    bundle = tmp_path / "bundle"
    if spoil is None:  # signed by a key the inside does not trust
        stranger = make_home(tmp_path / "stranger")
        shutil.rmtree(stranger.channels_dir / "main")
        key = signing.load_private(stranger.signing_key_path)
        export.write_bundle(bundle, channels_of(outside), [export.Selection("main")], key, CHUNK)
        said = (
            f"is signed by key {signing.key_id(key.public_key())}, which this home does not trust"
        )
    else:
        export_all(outside, bundle)
        said = spoil(bundle)
    before = home_state(inside)

    with pytest.raises(BundleRefused, match=said.replace(".", r"\.")):
        import_into(inside, bundle)

    assert home_state(inside) == before


def test_a_refused_chunk_after_verified_ones_still_changes_nothing(
    outside: Home, inside: Home, tmp_path: Path
):
    """The chunks verified before the damaged one were staged in the home; the refusal
    takes them away again."""
    bundle = tmp_path / "bundle"
    manifest = export_all(outside, bundle)
    last = bundle / manifest.chunks[-1].name
    last.write_bytes(last.read_bytes()[:-1])
    before = home_state(inside)
    with pytest.raises(BundleRefused, match=f"{manifest.chunks[-1].name} .* is damaged: its size"):
        import_into(inside, bundle)
    assert home_state(inside) == before


def test_the_receipt_makes_the_next_export_a_delta(outside: Home, inside: Home, tmp_path: Path):
    first = export_all(outside, tmp_path / "full")
    report = import_into(inside, tmp_path / "full")
    trust(outside, inside, "inside.pub")
    receipt = importing.read_receipt(report.receipt, keys(outside))
    assert receipt.channels["main"] == {f.name: f.sha256 for f in first.files}
    added = make_wheel(tmp_path / "new", "delta", "0.1")
    channels_of(outside).publish("main", added)
    try:
        delta = export_all(outside, tmp_path / "delta", since=receipt)
    finally:
        channels_of(outside).promoter.remove(
            outside.channel("main"), channels_of(outside).project_files("main", "delta")
        )
        channels_of(outside).reindex("main")
    assert [f.name for f in delta.files] == [added.name]
    assert delta.total_size == added.stat().st_size < first.total_size
    import_into(inside, tmp_path / "delta")
    assert "delta" in channels_of(inside).projects("main")


def test_a_receipt_from_an_unknown_key_is_refused(outside: Home, inside: Home, tmp_path: Path):
    report = import_into(inside, _bundle(outside, tmp_path))
    with pytest.raises(BundleRefused, match="which this home does not trust"):
        importing.read_receipt(report.receipt, [])  # nobody trusted
    document = json.loads(report.receipt.read_text())
    document["receipt"]["channels"]["main"]["made-up.whl"] = "0" * 64
    report.receipt.write_text(json.dumps(document))
    trust(outside, inside, "inside.pub")
    with pytest.raises(BundleRefused, match="changed after signing"):
        importing.read_receipt(report.receipt, keys(outside))


def _bundle(outside: Home, tmp_path: Path) -> Path:
    export_all(outside, tmp_path / "bundle")
    return tmp_path / "bundle"


def test_a_manifest_is_refused_when_a_path_would_leave_the_staging(tmp_path: Path):
    document = {
        "format": "drawbridge-bundle/1",
        "key": "k",
        "created": "",
        "chunk_size": 10,
        "channels": [{"name": "main"}],
        "chunks": [{"id": 0, "sha256": "0" * 64, "size": 10}],
        "files": [
            {
                "role": "wheel",
                "channel": "main",
                "name": "../../x.whl",
                "sha256": "0" * 64,
                "size": 1,
                "chunk": 0,
                "offset": 0,
            }
        ],
    }
    with pytest.raises(BundleRefused, match="'../../x.whl' is not a plain file name"):
        parse_manifest(json.dumps(document).encode())


def test_a_batch_with_one_refused_file_publishes_none(channels: Channels, tmp_path: Path):
    good = make_wheel(tmp_path, "fine", "1.0")
    bad = tmp_path / "broken-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    before = served_bytes(channels.home)
    with pytest.raises(BatchRefused, match="broken-1.0-py3-none-any.whl was refused"):
        channels.publish_all("main", [good, bad])
    assert served_bytes(channels.home) == before
    assert channels.projects("main") == []


def test_the_receipt_carries_what_the_inside_wants_next(
    outside: Home, inside: Home, tmp_path: Path
):
    key = signing.load_private(inside.signing_key_path)
    report = importing.import_bundle(
        channels_of(inside), _bundle(outside, tmp_path), keys(inside), key, wanted=["later-thing"]
    )
    trust(outside, inside, "inside.pub")
    assert importing.read_receipt(report.receipt, keys(outside)).wanted == ("later-thing",)


def test_pep_740_provenance_is_carried_where_the_index_has_it(
    outside: Home, inside: Home, tmp_path: Path
):
    """A stand-in Integrity API: alpha has a provenance document, the other files none."""
    document = {"version": 1, "attestation_bundles": [{"publisher": {"kind": "GitHub"}}]}
    served = tmp_path / "index" / "integrity/alpha/1.0/alpha-1.0-py3-none-any.whl"
    served.mkdir(parents=True)
    (served / "provenance").write_text(json.dumps(document))
    with static_http_server(tmp_path / "index") as index:
        url = f"http://127.0.0.1:{index.server_address[1]}"
        manifest = export_all(outside, tmp_path / "bundle", provenance_from=url)
    carried = [(f.role, f.subject) for f in manifest.files if f.role == "provenance"]
    assert carried == [("provenance", "alpha-1.0-py3-none-any.whl")]
    assert manifest.missing == ()

    import_into(inside, tmp_path / "bundle")
    kept = inside.root / "provenance/main/alpha-1.0-py3-none-any.whl.provenance.json"
    assert json.loads(kept.read_text()) == document

    unreachable = export_all(outside, tmp_path / "later", provenance_from="http://127.0.0.1:9")
    assert not [f for f in unreachable.files if f.role == "provenance"]
    assert unreachable.missing[0].startswith("no provenance asked for: http://127.0.0.1:9")
