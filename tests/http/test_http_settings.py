"""HTTP behaviour under a home's settings, in-process: the upload size limit (413) and reads
through a `/t/<token>/` URL prefix when reads are private."""

from __future__ import annotations

import os
import hashlib
from pathlib import Path

import httpx
import pytest
from builders import make_noarch_python_conda, make_sdist, make_wheel
from databases import new_home, write_config
from servers import AppClient, serve_in_process

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


def test_upload_over_the_limit_is_413(tmp_path: Path):
    home = new_home(tmp_path / "small")
    write_config(home, "[server]\nmax_upload_mb = 1\n")
    with serve_in_process(tmp_path / "small") as server:
        big = make_wheel(
            tmp_path, "big", "1.0", extra_entries={"big/blob.bin": os.urandom(2 * 1024 * 1024)}
        )
        response = _upload(server, big, server.token(Role.uploader))
        assert response.status_code == 413
        assert get(server, "/main/simple/big/").status_code == 404


def test_token_in_url_prefix_and_private_reads(tmp_path: Path):
    home = new_home(tmp_path / "private")
    write_config(home, "[server]\nanonymous_read = false\n")
    with serve_in_process(tmp_path / "private") as server:
        assert get(server, "/main/conda/noarch/repodata.json").status_code == 401
        token = server.token(Role.reader)
        assert get(server, f"/t/{token}/main/conda/noarch/repodata.json").status_code == 200
        assert get(server, "/main/simple/", auth=("__token__", token)).status_code == 200
        assert get(server, "/t/dbt_wrong/main/simple/").status_code == 401
        # A token minted before tokens avoided `_` (secrets.token_urlsafe) keeps working.
        import hashlib

        from drawbridge.channel.database import Database, TokenRow, UserRow

        old = "dbt_" + "Ab_-" * 10
        with Database(server.home.database_url).session() as session:
            session.add(UserRow(name="old"))  # tokens belong to users
            session.flush()
            session.add(
                TokenRow(
                    user="old", role="reader", token_sha256=hashlib.sha256(old.encode()).hexdigest()
                )
            )
        assert get(server, "/main/simple/", auth=("__token__", old)).status_code == 200
        assert get(server, f"/t/{old}/main/conda/noarch/repodata.json").status_code == 200
