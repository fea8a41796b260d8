"""The home: init, configuration errors, channel names."""

from pathlib import Path

import pytest

from drawbridge.channel.errors import HomeError, InvalidName
from drawbridge.channel.home import check_channel_name, initialise_home, load_home


def test_init_writes_defaults_and_keeps_existing_config(tmp_path: Path):
    home = initialise_home(tmp_path / "h")
    assert home.server.port == 8080 and home.server.default_channel == "main"
    home.config_path.write_text("[server]\nport = 9000\n")
    assert initialise_home(tmp_path / "h").server.port == 9000


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
    ],
)
def test_bad_config_is_reported(tmp_path: Path, text: str, message: str):
    initialise_home(tmp_path / "h").config_path.write_text(text)
    with pytest.raises((HomeError, InvalidName), match=message):
        load_home(tmp_path / "h")


@pytest.mark.parametrize("name", ["main", "team-a", "ml_2024", "x.y"])
def test_valid_channel_names(name: str):
    assert check_channel_name(name) == name


@pytest.mark.parametrize("name", ["", "Main", "../etc", "a/b", "simple", "t", "-x", "a" * 65])
def test_invalid_channel_names(name: str):
    with pytest.raises(InvalidName):
        check_channel_name(name)
