"""Files sent by nginx (`[server] accel_redirect_prefix`): a real nginx in front of a real
`drawbridge serve`; Drawbridge checks each read and names the file, nginx sends it.

What must hold: an allowed file reaches the client whole (nginx sending it, Range
included), a private channel's file is refused without a token exactly as without nginx,
and the internal location cannot be asked for directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from builders import make_conda_tar_bz2, make_wheel
from nginx import (
    ACCEL_PREFIX,
    accel_location,
    home_with_a_private_channel,
    require_nginx,
    start_nginx,
    stop_nginx,
)
from servers import Server, start_server

from drawbridge.channel.tokens import Role


@dataclass
class Proxied:
    server: Server  # Drawbridge, asked directly
    url: str  # nginx in front of it
    reader: str  # a token that may read the private channel
    conda: bytes  # the public conda package's bytes
    wheel: bytes  # the private wheel's bytes


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    require_nginx()
    folder = tmp_path_factory.mktemp("accel")
    config = f'[server]\naccel_redirect_prefix = "{ACCEL_PREFIX}"\n'
    home = home_with_a_private_channel(folder / "home", config)
    conda = make_conda_tar_bz2(folder / "d", "open-data", "1.0", members={"blob": b"x" * 300_000})
    wheel = make_wheel(folder / "w", "hidden-lib", "1.0")
    server = start_server(home.root)
    nginx = None
    try:
        server.publish(conda)
        server.publish(wheel, channel="secret")
        reader = server.token(Role.reader, "alice")
        nginx, url = start_nginx(folder / "nginx", server.url, locations=accel_location(home.root))
        yield Proxied(server, url, reader, conda.read_bytes(), wheel.read_bytes())
    finally:
        stop_nginx(nginx)
        server.stop()


CONDA = "/main/conda/noarch/open-data-1.0-0.tar.bz2"
WHEEL = "/secret/files/hidden_lib-1.0-py3-none-any.whl"


def test_drawbridge_names_an_allowed_file_and_nginx_sends_it(proxied: Proxied):
    direct = httpx.get(proxied.server.url + CONDA)
    assert direct.status_code == 200
    assert direct.content == b""  # Drawbridge sent no byte of it
    assert direct.headers["x-accel-redirect"].startswith(ACCEL_PREFIX + "channels/main/")
    through = httpx.get(proxied.url + CONDA)
    assert through.status_code == 200
    assert through.content == proxied.conda
    assert "x-accel-redirect" not in through.headers
    assert through.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert through.headers["content-type"] == "application/octet-stream"
    part = httpx.get(proxied.url + CONDA, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == proxied.conda[10:20]


def test_a_private_file_is_refused_without_a_token_and_sent_with_one(proxied: Proxied):
    refused = httpx.get(proxied.url + WHEEL)
    assert refused.status_code in (401, 404)
    assert refused.content != proxied.wheel and "x-accel-redirect" not in refused.headers
    allowed = httpx.get(proxied.url + WHEEL, auth=("__token__", proxied.reader))
    assert allowed.status_code == 200
    assert allowed.content == proxied.wheel
    assert allowed.headers["cache-control"].startswith("private")


def test_the_internal_location_cannot_be_asked_for(proxied: Proxied):
    for path in ("drawbridge.db", "drawbridge.toml", "channels/secret/pypi/files/"):
        assert httpx.get(proxied.url + ACCEL_PREFIX + path).status_code == 404
