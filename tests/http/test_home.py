"""The home: init, configuration errors, channel names."""

import tomllib
from pathlib import Path

import pytest

from drawbridge.channel.errors import HomeError, InvalidName
from drawbridge.channel.home import (
    BridgeSettings,
    RecipeSettings,
    ServerSettings,
    check_channel_name,
    initialise_home,
    load_home,
)


def test_init_writes_defaults_and_keeps_existing_config(tmp_path: Path):
    home = initialise_home(tmp_path / "h")
    assert home.server.port == 8080 and home.server.default_channel == "main"
    home.config_path.write_text("[server]\nport = 9000\n")
    assert initialise_home(tmp_path / "h").server.port == 9000


def test_the_default_config_names_every_key(tmp_path: Path):
    """A new home's drawbridge.toml documents each setting (`public_url` among them)."""
    document = tomllib.loads(initialise_home(tmp_path / "h").config_path.read_text())
    for table, settings in (
        ("server", ServerSettings),
        ("bridge", BridgeSettings),
        ("recipes", RecipeSettings),
    ):
        assert sorted(document[table]) == sorted(settings.__dataclass_fields__), table


@pytest.mark.parametrize(
    "url", ["https://pkgs.example.com/", "https://pkgs.example.com", "http://[::1]:8080/", ""]
)
def test_a_public_url_is_an_origin(tmp_path: Path, url: str):
    initialise_home(tmp_path / "h").config_path.write_text(f'[server]\npublic_url = "{url}"\n')
    assert load_home(tmp_path / "h").server.public_url == url


def test_missing_home_says_how_to_create_it(tmp_path: Path):
    with pytest.raises(HomeError, match="drawbridge init"):
        load_home(tmp_path / "nowhere")


def test_home_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    initialise_home(tmp_path / "env-home")
    monkeypatch.setenv("DRAWBRIDGE_HOME", str(tmp_path / "env-home"))
    assert load_home().root == tmp_path / "env-home"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nprot = 1\n", "unknown \\[server\\] keys \\['prot'\\]"),
        ("[server]\nport = 'eighty'\n", "port must be a int"),
        ("[server\n", "cannot read"),
        ('[server]\ndefault_channel = "Bad Name"\n', "not a valid channel name"),
        ('[server]\npublic_url = "pkgs.example.com"\n', "not an absolute http:// or https://"),
        ('[server]\npublic_url = "ftp://pkgs.example.com/"\n', "not an absolute http://"),
        ('[server]\npublic_url = "https://pkgs.example.com/pypi/"\n', "not under a path"),
        ('[server]\npublic_url = "https://pkgs.example.com/?a=1"\n', "not under a path"),
        ('[server]\npublic_url = "https://u:p@pkgs.example.com/"\n', "user name or password"),
        ('[server]\npublic_url = "https://pkgs.example.com:99999/"\n', "Port out of range"),
        ('[server]\npublic_url = "http://pkgs.example.com:0/"\n', "port 0"),
        ('[server]\npublic_url = "https://pkgs. example.com/"\n', "white space"),
        ('[server]\naccel_redirect_prefix = "files"\n', "not an nginx location"),
        ('[server]\naccel_redirect_prefix = "/files"\n', "not an nginx location"),
        ('[server]\naccel_redirect_prefix = "/my files/"\n', "not an nginx location"),
        ("[server]\nproxy_cache_seconds = -1\n", "proxy_cache_seconds must be 0"),
        ("[server]\nproxy_cache_seconds = 86400\n", "proxy_cache_seconds must be 0"),
        ("[server]\nproxy_cache_max_file_mb = -1\n", "proxy_cache_max_file_mb must be 0"),
    ],
)
def test_bad_config_is_reported(tmp_path: Path, text: str, message: str):
    initialise_home(tmp_path / "h").config_path.write_text(text)
    with pytest.raises((HomeError, InvalidName), match=message):
        load_home(tmp_path / "h")


@pytest.mark.parametrize(
    "name",
    [
        "main",
        "team-a",
        "ml_2024",
        "x.y",
        "a" * 64,
        "company/dev",
        "alice/sandbox",
        "company/main",
        "team-a/ml_2024.x",
        f"{'o' * 64}/{'n' * 64}",
        # plain names that were valid before owners existed stay valid (a plain channel's
        # URLs are never ambiguous: its view word comes right after it)
        "conda",
        "pypi",
        "files",
    ],
)
def test_valid_channel_names(name: str):
    assert check_channel_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Main",
        "../etc",
        "simple",
        "t",
        "-x",
        "a" * 65,
        "a/b/c",
        "company/",
        "/dev",
        "company//dev",
        "Company/dev",
        "company/.hidden",
        "company/..",
        f"company/{'n' * 65}",
        # neither part of owner/name may be a route of the server or a view word
        "simple/dev",
        "t/dev",
        "ui/dev",
        "api/dev",
        "upstream/dev",
        "company/simple",
        "company/conda",
        "company/files",
        "company/pypi",
        "company/upload",
        "company/packages",
        "conda/dev",
    ],
)
def test_invalid_channel_names(name: str):
    with pytest.raises(InvalidName, match="owner/name"):
        check_channel_name(name)


def test_an_owned_channel_lives_in_its_owners_folder(tmp_path: Path):
    home = initialise_home(tmp_path / "h")
    assert home.channel("company/dev").root == home.channels_dir / "company" / "dev"
    assert home.channel("main").root == home.channels_dir / "main"


def test_init_writes_the_database_url_and_keeps_it(tmp_path: Path):
    url = "postgresql://drawbridge@db.example/drawbridge"
    assert initialise_home(tmp_path / "h", database_url=url).server.database_url == url
    assert initialise_home(tmp_path / "h").server.database_url == url
    with pytest.raises(HomeError, match="edit database_url"):
        initialise_home(tmp_path / "h", database_url="postgresql://elsewhere/db")
    with pytest.raises(HomeError, match="its own SQLite"):
        initialise_home(tmp_path / "plain") and initialise_home(tmp_path / "plain", url)
