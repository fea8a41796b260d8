"""HTTP behaviour of the app, in-process: pages, negotiation, caching, Range, gzip, uploads, auth.

Nothing here needs a real client or a port; the real clients are test_pip_clients.py,
test_conda_clients.py and the other end-to-end tests.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import httpx
import pytest
from builders import make_conda_tar_bz2, make_noarch_python_conda, make_sdist, make_wheel
from servers import AppClient

from drawbridge.channel.simple_pages import HTML_TYPE, JSON_TYPE
from drawbridge.channel.tokens import Role


@pytest.fixture(scope="module")
def served(module_app_client: AppClient, tmp_path_factory: pytest.TempPathFactory) -> AppClient:
    folder = tmp_path_factory.mktemp("dists")
    module_app_client.publish(
        make_wheel(folder, "Demo_Project", "1.0", requires_python=">=3.7"),
        make_wheel(folder, "Demo_Project", "2.0rc1", requires_python=">=3.7"),
        make_sdist(folder, "demo-project", "1.0", requires=["six>=1.10"]),
        make_noarch_python_conda(folder, "demo-conda", "1.0", "demo_conda"),
    )
    return module_app_client


def get(served: AppClient, path: str, **kwargs) -> httpx.Response:
    return served.get(path, follow_redirects=False, **kwargs)


def test_html_page_has_every_pep_attribute(served: AppClient):
    response = get(served, "/main/simple/demo-project/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    body = response.text
    assert '<meta name="pypi:repository-version" content="1.1">' in body
    assert 'href="../../files/demo_project-1.0-py3-none-any.whl#sha256=' in body
    assert 'data-requires-python="&gt;=3.7"' in body
    assert 'data-core-metadata="sha256=' in body and 'data-dist-info-metadata="sha256=' in body
    assert "demo_project-1.0.tar.gz" in body


def test_json_page_by_accept(served: AppClient):
    response = get(served, "/main/simple/demo-project/", headers={"Accept": JSON_TYPE})
    assert response.headers["content-type"] == JSON_TYPE
    assert "Accept" in response.headers["vary"]
    page = response.json()
    assert page["meta"]["api-version"] == "1.1"
    assert page["versions"] == ["1.0", "2.0rc1"]
    wheel = next(f for f in page["files"] if f["filename"].endswith("1.0-py3-none-any.whl"))
    assert wheel["size"] > 0 and wheel["upload-time"].endswith("Z")
    assert set(wheel["core-metadata"]) == {"sha256"}
    assert "dist-info-metadata" not in wheel  # PEP 714: pip 22.3-23.0.1 crash on it
    sdist = next(f for f in page["files"] if f["filename"].endswith(".tar.gz"))
    assert sdist["core-metadata"] is False


def test_metadata_file_matches_its_hash(served: AppClient):
    page = get(served, "/main/simple/demo-project/", headers={"Accept": JSON_TYPE}).json()
    wheel = page["files"][0]
    metadata = get(served, f"/main/files/{wheel['filename']}.metadata")
    assert hashlib.sha256(metadata.content).hexdigest() == wheel["core-metadata"]["sha256"]
    whole = get(served, f"/main/files/{wheel['filename']}")
    assert hashlib.sha256(whole.content).hexdigest() == wheel["hashes"]["sha256"]


def test_html_variant_and_406(served: AppClient):
    assert (
        get(served, "/main/simple/", headers={"Accept": HTML_TYPE}).headers["content-type"]
        == HTML_TYPE
    )
    assert get(served, "/main/simple/", headers={"Accept": "image/png"}).status_code == 406


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/main/simple/Demo_Project/", "/main/simple/demo-project/"),
        ("/main/simple/demo.project", "/main/simple/demo-project/"),
        ("/main/simple/demo-project", "/main/simple/demo-project/"),
        ("/simple/DEMO-project/", "/simple/demo-project/"),
    ],
)
def test_non_normalised_names_redirect(served: AppClient, path: str, location: str):
    response = get(served, path)
    assert response.status_code == 301 and response.headers["location"] == location


def test_simple_alias_serves_main(served: AppClient):
    assert (
        get(served, "/simple/demo-project/").text == get(served, "/main/simple/demo-project/").text
    )


def test_unknown_channel_and_project_are_404(served: AppClient):
    assert get(served, "/nope/simple/").status_code == 404
    assert get(served, "/main/simple/absent/").status_code == 404
    assert get(served, "/main/pypi/absent/json").status_code == 404
    assert get(served, "/main/conda/plan9-64/repodata.json").status_code == 404
    assert get(served, "/nope/conda/noarch/repodata.json").status_code == 404


@pytest.mark.parametrize("path", ["/main/simple/demo-project/", "/main/conda/noarch/repodata.json"])
def test_conditional_requests_answer_304(served: AppClient, path: str):
    first = get(served, path)
    assert first.headers["etag"] and first.headers["last-modified"]
    again = get(served, path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    since = get(served, path, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304
    assert get(served, path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_pages_and_repodata_are_gzipped(served: AppClient):
    for path in ("/main/simple/demo-project/", "/main/conda/noarch/repodata.json"):
        raw = get(served, path, headers={"Accept-Encoding": "gzip"})
        assert raw.headers["content-encoding"] == "gzip"
        plain = get(served, path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert raw.content == plain.content  # httpx decodes: the same document either way
        assert raw.headers["etag"] != plain.headers["etag"]


def test_json_api_is_gzipped_on_request(served: AppClient):
    body = served.raw("GET", "/main/pypi/demo-project/json", headers={"Accept-Encoding": "gzip"})
    assert json.loads(gzip.decompress(body))["info"]["name"] == "Demo_Project"


def test_range_request_on_a_file(served: AppClient):
    page = get(served, "/main/simple/demo-project/", headers={"Accept": JSON_TYPE}).json()
    url = f"/main/files/{page['files'][0]['filename']}"
    whole = get(served, url).content
    part = get(served, url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(whole)}"
    assert get(served, url, headers={"Range": f"bytes={len(whole) + 5}-"}).status_code == 416


def test_cache_control(served: AppClient):
    page = get(served, "/main/simple/demo-project/", headers={"Accept": JSON_TYPE}).json()
    assert (
        "immutable"
        in get(served, f"/main/files/{page['files'][0]['filename']}").headers["cache-control"]
    )
    assert get(served, "/main/conda/noarch/repodata.json").headers["cache-control"] == "no-cache"
    shards_index = get(served, "/main/conda/noarch/repodata_shards.msgpack.zst")
    assert shards_index.status_code == 200 and shards_index.headers["cache-control"] == "no-cache"
    shard = next((served.home.channel("main").conda_dir / "noarch" / "shards").iterdir())
    assert (
        "immutable"
        in get(served, f"/main/conda/noarch/shards/{shard.name}").headers["cache-control"]
    )


def test_repodata_zst_head_and_channeldata(served: AppClient):
    head = served.head("/main/conda/noarch/repodata.json.zst")
    assert head.status_code == 200 and int(head.headers["content-length"]) > 0
    assert get(served, "/main/conda/channeldata.json").json()["packages"]["demo-conda"]
    for subdir in ("linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"):
        assert get(served, f"/main/conda/{subdir}/repodata.json").json()["info"]["subdir"] == subdir


def test_json_api_fields(served: AppClient):
    document = get(served, "/main/pypi/Demo_Project/json").json()
    info = document["info"]
    assert info["version"] == "1.0"  # the newest final release, not 2.0rc1
    assert info["requires_python"] == ">=3.7" and info["summary"]
    assert set(document["releases"]) == {"1.0", "2.0rc1"}
    sdist = next(u for u in document["urls"] if u["packagetype"] == "sdist")
    assert sdist["url"] == served.url + "/main/files/demo_project-1.0.tar.gz"
    assert set(sdist["digests"]) == {"md5", "sha256", "blake2b_256"}
    release = get(served, "/main/pypi/demo-project/2.0rc1/json").json()
    assert release["info"]["version"] == "2.0rc1" and "releases" not in release
    assert get(served, "/main/pypi/demo-project/9.9/json").status_code == 404


def _upload(
    served: AppClient, path: Path, token: str | None, channel: str = "main", **fields
) -> httpx.Response:
    data = {
        ":action": "file_upload",
        "protocol_version": "1",
        "sha256_digest": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    data.update(fields)
    auth = ("__token__", token) if token else None
    with path.open("rb") as handle:
        return served.post(
            f"/{channel}/upload/", data=data, files={"content": (path.name, handle)}, auth=auth
        )


def test_upload_needs_an_uploader(served: AppClient, tmp_path: Path):
    wheel = make_wheel(tmp_path, "uploaded", "1.0")
    assert _upload(served, wheel, None).status_code == 401
    assert _upload(served, wheel, served.token(Role.reader)).status_code == 403
    assert _upload(served, wheel, "dbt_not-a-token").status_code == 401
    assert get(served, "/main/simple/uploaded/").status_code == 404
    assert _upload(served, wheel, served.token(Role.uploader)).status_code == 200
    assert get(served, "/main/simple/uploaded/").status_code == 200


def test_upload_twice_is_409_and_keeps_the_first(served: AppClient, tmp_path: Path):
    token = served.token(Role.uploader)
    first = make_wheel(tmp_path / "a", "twice", "1.0")
    assert _upload(served, first, token).status_code == 200
    second = make_wheel(tmp_path / "b", "twice", "1.0", extra_entries={"twice/x.py": b"2"})
    response = _upload(served, second, token)
    assert response.status_code == 409 and "already in channel" in response.json()["detail"]
    assert get(served, f"/main/files/{first.name}").content == first.read_bytes()


def test_upload_digest_mismatch_is_400(served: AppClient, tmp_path: Path):
    wheel = make_wheel(tmp_path, "damaged", "1.0")
    response = _upload(served, wheel, served.token(Role.uploader), sha256_digest="ab" * 32)
    assert response.status_code == 400 and "does not match" in response.json()["detail"]
    assert get(served, "/main/simple/damaged/").status_code == 404


def test_bad_uploads_get_clear_errors(served: AppClient, tmp_path: Path):
    token = served.token(Role.uploader)
    liar = make_wheel(tmp_path, "liar", "1.0", metadata_name="truth")
    response = _upload(served, liar, token)
    assert response.status_code == 400 and "metadata says 'truth'" in response.json()["detail"]
    assert (
        _upload(served, make_wheel(tmp_path, "ok", "1.0"), token, channel="nope").status_code == 404
    )
    bad_conda = make_conda_tar_bz2(tmp_path, "honest", "1.0", index={"name": "liar"})
    assert _upload(served, bad_conda, token).status_code == 400
    assert not list(served.home.incoming_dir.iterdir())  # nothing left behind


def test_conda_package_upload_is_indexed(served: AppClient, tmp_path: Path):
    package = make_conda_tar_bz2(tmp_path, "uploaded-tool", "1.0", "0", "linux-64")
    assert _upload(served, package, served.token(Role.uploader)).status_code == 200
    repodata = get(served, "/main/conda/linux-64/repodata.json").json()
    assert "uploaded-tool-1.0-0.tar.bz2" in repodata["packages"]
    assert (
        get(served, "/main/conda/linux-64/uploaded-tool-1.0-0.tar.bz2").content
        == package.read_bytes()
    )


def test_web_pages_and_health(served: AppClient):
    assert get(served, "/health").json()["status"] == "ok"
    front = get(served, "/")
    assert front.status_code == 200 and "<a href='/main/'>main</a>" in front.text
    channel = get(served, "/main/")
    assert "demo-project" in channel.text and "demo-conda" in channel.text
    assert f"{served.url}/main/simple/" in channel.text
    assert get(served, "/nope/").status_code == 404


def test_repodata_zst_is_the_same_document(served: AppClient):
    import zstandard

    plain = get(served, "/main/conda/noarch/repodata.json", headers={"Accept-Encoding": "identity"})
    zst = get(served, "/main/conda/noarch/repodata.json.zst")
    assert (
        zstandard.ZstdDecompressor().decompress(zst.content, max_output_size=1 << 26)
        == plain.content
    )
