"""`[server] public_url` (issue 16): when set, it is in every URL the server writes, whatever
Host a request carries; unset, the Host header is used as before."""

from __future__ import annotations

from pathlib import Path

from builders import make_wheel
from databases import new_home, write_config
from servers import AppClient, serve_in_process

PUBLIC_URL = "https://pkgs.example.com/"
FORGED = "evil.example"


# -- public_url -----------------------------------------------------------------------------


def served_with(root: Path, public_url: str) -> AppClient:
    """A public server of `main` with one wheel, whose drawbridge.toml sets `public_url`."""
    with serve_in_process(root) as first:
        first.publish(make_wheel(root.parent / "drop", "demo", "1.0"))
    home = new_home(root)
    write_config(home, f'[server]\naccess_log = ""\npublic_url = "{public_url}"\n')
    return AppClient(new_home(root))


def urls_written(client: AppClient, host: str) -> dict[str, str]:
    """Where the server writes absolute URLs, asked with `Host: host`: /api/channels, a
    channel's page (its install snippets), the JSON API, Starlette's trailing-slash redirect."""
    headers = {"Host": host}
    channels = client.get("/api/channels", headers=headers)
    page = client.get("/main/", headers=headers)
    document = client.get("/main/pypi/demo/json", headers=headers)
    moved = client.get("/api/channels/", headers=headers)
    assert [channels.status_code, page.status_code, document.status_code] == [200, 200, 200]
    assert moved.status_code == 307
    return {
        "conda": channels.json()["channels"]["main"]["conda"],
        "simple": channels.json()["channels"]["main"]["simple"],
        "page": page.text,
        "file": document.json()["urls"][0]["url"],
        "redirect": moved.headers["location"],
    }


def test_public_url_is_in_every_url_the_server_writes(tmp_path: Path):
    with served_with(tmp_path / "home", PUBLIC_URL) as client:
        written = urls_written(client, FORGED)
    assert {key: value for key, value in written.items() if key != "page"} == {
        "conda": "https://pkgs.example.com/main/conda",
        "simple": "https://pkgs.example.com/main/simple/",
        "file": "https://pkgs.example.com/main/files/demo-1.0-py3-none-any.whl",
        "redirect": "https://pkgs.example.com/api/channels",
    }
    page = written["page"]
    assert "pip install --index-url https://pkgs.example.com/main/simple/ " in page
    assert "conda install --override-channels -c https://pkgs.example.com/main/conda " in page
    assert FORGED not in page and "testserver" not in page


def test_without_public_url_the_host_header_is_used(tmp_path: Path):
    """Today's behaviour, kept: the Host a request names is what it reads back (a reverse
    proxy must pass the Host clients used, or public_url be set: docs/operating.md)."""
    with served_with(tmp_path / "home", "") as client:
        written = urls_written(client, FORGED)
    assert written["simple"] == "http://evil.example/main/simple/"
    assert "pip install --index-url http://evil.example/main/simple/ " in written["page"]
