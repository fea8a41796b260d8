"""`/api/files/sha256/<hex>`: a primary's recorded files for its replicas, only with the
replica token, and nothing on a server that has none."""

from __future__ import annotations

import hashlib
from pathlib import Path

from builders import make_wheel
from databases import write_config
from servers import AppClient, serve_in_process

from drawbridge.channel.home import load_home


def test_files_by_sha256_need_the_replica_token(tmp_path: Path):
    wheel = make_wheel(tmp_path, "shared", "1.0")
    path = "/api/files/sha256/" + hashlib.sha256(wheel.read_bytes()).hexdigest()
    with serve_in_process(tmp_path / "home") as plain:
        plain.publish(wheel)
        assert plain.get(path).status_code == 404  # no replica token: no replicas here
        write_config(plain.home, '[server]\nreplica_token = "t0ps3cret"\n')
    with AppClient(load_home(tmp_path / "home")) as primary:
        assert primary.get(path).status_code == 403
        assert primary.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 403
        good = {"Authorization": "Bearer t0ps3cret"}
        answer = primary.get(path, headers=good)
        assert answer.status_code == 200 and answer.content == wheel.read_bytes()
        assert primary.get("/api/files/sha256/" + "0" * 64, headers=good).status_code == 404
        assert primary.get("/api/files/sha256/nothex", headers=good).status_code == 404
