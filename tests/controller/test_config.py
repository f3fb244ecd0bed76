from pathlib import Path

import pytest

from controller.config import load_plant_config, parse_plant_config
from controller.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_plant_file_validates():
    config = load_plant_config(ROOT / "fixtures/plants/small.toml")
    assert [p.name for p in config.printers] == ["lp-1", "lp-2", "lp-3"]
    assert config.printers[2].colour and not config.printers[2].duplex
    assert config.cameras[0].inserter == "ins-1"
    # a relative ledger path is taken relative to the plant file
    assert Path(config.ledger.path) == ROOT / "fixtures/plants/pmc-ledger.sqlite"


def test_defaults_make_an_empty_plant_valid():
    config = parse_plant_config("")
    assert config.printers == [] and config.web.port == 8080


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[[printers]]\nname = "a"\nipp_url = "ftp://x"\n', "printers[0].ipp_url: expected a URL starting with ipp://"),
        ('[[printers]]\nname = "a"\nipp_url = "ipp://h/p"\nspeed_ipm = 0\n', "printers[0].speed_ipm: Input should be greater than 0"),
        ('[[printers]]\nname = "a"\nipp_url = "ipp://h/p"\ncolor = true\n', "printers[0].color: unknown key"),
        ('[[printers]]\nipp_url = "ipp://h/p"\n', "printers[0].name: Field required"),
        ('[web]\nport = "eighty"\n', "web.port: Input should be a valid integer"),
        ('[[inserters]]\nname = "i"\nurl = "socket://h:1"\n[[cameras]]\nname = "c"\nurl = "http://h/f"\ninserter = "x"\n',
         "cameras[0].inserter: no inserter is named 'x'"),
        ('[[printers]]\nname = "a"\nipp_url = "ipp://h/p"\n[[inserters]]\nname = "a"\nurl = "/dev/ttyUSB0"\n',
         "inserters[0].name: 'a' is already the name of one of the printers"),
        ("site = [", "not valid TOML"),
    ],
)
def test_a_wrong_file_names_the_file_the_key_and_what_was_expected(tmp_path, text, expected):
    path = tmp_path / "plant.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_plant_config(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_plant_config(tmp_path / "nope.toml")
