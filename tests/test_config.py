"""Config validation: every kind of mistake is named by its key, and `check-config` never shows a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway import config as cfg

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
[gateway]
id = "dock-01"
data_dir = "data"
[mqtt]
host = "127.0.0.1"
port = 1883
[[device]]
name = "door-1"
driver = "serial-scanner"
port = "/dev/ttyACM0"
"""


def problems_of(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "t.toml"
    path.write_text(text)
    with pytest.raises(cfg.ConfigError) as info:
        cfg.load(path)
    return info.value.problems


def test_good_config_and_defaults(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(GOOD)
    c = cfg.load(path)
    assert c.gateway_id == "dock-01"
    assert c.data_dir == tmp_path / "data"  # relative to the config file
    assert c.brokers == (cfg.Broker("127.0.0.1", 1883),)
    assert c.devices[0].settings["baudrate"] == 9600
    assert c.devices[0].dedupe_ms == 1500
    assert c.outbox["durability"] == "full"


def test_broker_list(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(GOOD.replace('host = "127.0.0.1"', 'host = ["mq1:8883", "mq2"]'))
    assert cfg.load(path).brokers == (cfg.Broker("mq1", 8883), cfg.Broker("mq2", 1883))


@pytest.mark.parametrize("change, expected", [
    (('id = "dock-01"', 'id = "dock 01/#"'), "gateway.id:"),
    (('id = "dock-01"', ''), "gateway.id: missing"),
    (('port = 1883', 'port = 70000'), "mqtt.port: must be at most 65535"),
    (('port = 1883', 'port = "1883"'), "mqtt.port: must be an integer"),
    (('port = 1883', 'port = true'), "mqtt.port: must be an integer"),
    (('port = 1883', 'port = 1883\nhots = "x"'), "mqtt.hots: unknown key"),
    (('[mqtt]', '[mqqt]'), "mqqt: unknown section"),
    (('host = "127.0.0.1"', 'host = "a b"'), "mqtt.host:"),
    (('host = "127.0.0.1"', 'host = []'), "mqtt.host: must name at least one broker"),
    (('host = "127.0.0.1"', 'host = ["h:99999"]'), "mqtt.host: 'h:99999' has a bad port"),
    (('driver = "serial-scanner"', 'driver = "serial-scaner"'), "device[0] (door-1).driver: unknown driver"),
    (('port = "/dev/ttyACM0"', 'baudrate = 12345\nport = "/dev/ttyACM0"'), "device[0] (door-1).baudrate: must be one of"),
    (('port = "/dev/ttyACM0"', 'parity = "sometimes"\nport = "/dev/ttyACM0"'), "device[0] (door-1).parity"),
    (('port = "/dev/ttyACM0"', 'prot = "/dev/ttyACM0"'), "device[0] (door-1).prot: unknown key"),
    (('port = "/dev/ttyACM0"', ''), "device[0] (door-1).port: missing"),
    (('port = "/dev/ttyACM0"', 'port = "/dev/ttyACM0"\nbiz_step = "recieving"'), "device[0] (door-1).biz_step"),
    (('port = "/dev/ttyACM0"', 'port = "/dev/ttyACM0"\nread_point = "not a uri"'), "device[0] (door-1).read_point"),
    (('port = "/dev/ttyACM0"', 'port = "/dev/ttyACM0"\ndedupe_ms = -1'), "dedupe_ms: must be at least 0"),
    (('port = "/dev/ttyACM0"', 'port = "/dev/ttyACM0"\ndedupe_ms = nan'), "dedupe_ms: must be a finite number"),
    (('data_dir = "data"', 'data_dir = "data"\nlog_level = "loud"'), "gateway.log_level"),
    (('data_dir = "data"', 'data_dir = "data"\ncompany_prefixes = ["12"]'), "gateway.company_prefixes[0]"),
])
def test_each_mistake_is_named(tmp_path, change, expected):
    old, new = change
    problems = problems_of(GOOD.replace(old, new, 1), tmp_path)
    assert any(expected in p for p in problems), problems


def test_more_sections(tmp_path):
    text = GOOD + """
[outbox]
durability = "sometimes"
max_mb = 0
[[mode]]
text = "M1"
[[mode]]
text = "M1"
action = "pack-start"
devices = ["nope"]
[[device]]
name = "door-1"
driver = "serial-scanner"
port = "/dev/x"
"""
    problems = problems_of(text.replace('port = 1883', 'port = 1883\npassword_file = "pw"\ntls = {ca_file = "none.pem", cert_file = "c.pem"}'), tmp_path)
    joined = "\n".join(problems)
    for expected in ("outbox.durability", "outbox.max_mb", "mode[0]: a mode barcode must set biz_step",
                     "mode[1].text: 'M1' is used by another mode", "mode[1].devices: no device named 'nope'",
                     "device[1] (door-1).name: 'door-1' is used by another device", "mqtt.password_file: set mqtt.username",
                     "mqtt.tls: cert_file and key_file go together", "mqtt.tls.ca_file: no such file"):
        assert expected in joined, joined


def test_toml_syntax_error_names_the_line(tmp_path):
    problems = problems_of(GOOD + "\n[[device]\nname = 1\n", tmp_path)
    assert len(problems) == 1 and "line" in problems[0] and "not valid TOML" in problems[0]


def test_not_a_file(tmp_path):
    with pytest.raises(cfg.ConfigError) as info:
        cfg.load(tmp_path / "missing.toml")
    assert "no such file" in info.value.problems[0]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)


def test_check_config_cli(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    result = run_cli("check-config", "-c", str(good))
    assert result.returncode == 0, result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("port = 1883", "port = 0\nhots = 1"))
    result = run_cli("check-config", "-c", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr
    assert any("mqtt.port" in line for line in lines) and any("mqtt.hots" in line for line in lines)
    garbage = tmp_path / "garbage.toml"
    garbage.write_bytes(b"\xff\xfe\x00[[[")
    result = run_cli("check-config", "-c", str(garbage))
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["tally.toml", "demo.toml"])
def test_shipped_examples_are_valid(name, tmp_path):
    text = (ROOT / "config" / name).read_text()
    for key, value in {"@DATA_DIR@": str(tmp_path), "@BROKER_PORT@": "1883", "@SCANNER@": "/dev/null",
                       "@LLRP_PORT@": "5084", "@GPS@": "/dev/null", "@CAMERA@": "/dev/null"}.items():
        text = text.replace(key, value)
    path = tmp_path / name
    path.write_text(text)
    cfg.load(path)


def test_cross_key_rules_of_a_driver(tmp_path):
    text = GOOD + '[[device]]\nname = "pos"\ndriver = "usb-pos-scanner"\nvid = 3118\n'
    problems = problems_of(text, tmp_path)
    assert any(p.startswith("device[1] (pos): set vid and pid") for p in problems), problems


def test_rfid_cycle_keys_are_validated(tmp_path):
    text = GOOD + '''
[[device]]
name = "portal"
driver = "llrp"
host = "10.0.0.5"
cycle_mode = "sometimes"
inside_antennas = ["one"]
antenna_read_points = { "x" = "urn:epc:id:sgln:0614141.07346.1" }
'''
    problems = "\n".join(problems_of(text, tmp_path))
    for key in ("cycle_mode", "inside_antennas", "antenna_read_points"):
        assert f"device[1] (portal).{key}" in problems, problems
