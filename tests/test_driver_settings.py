"""One settings API for every driver: `self.settings[key]`, defaults declared once in the Option specs."""

from __future__ import annotations

import ast
import pathlib

import pytest

import drivers
from drivers.base import REQUIRED, Driver, Option, resolve_settings
from gateway.config import validate_table

DRIVERS_DIR = pathlib.Path(drivers.__file__).parent
REQUIRED_VALUES = {str: "/dev/null", int: 1, list: [1]}


def _loadable() -> list[type[Driver]]:
    out = []
    for name in sorted(drivers.REGISTRY):
        try:
            out.append(drivers.load(name))
        except drivers.UnknownDriver:  # an optional hardware stack that is not installed
            continue
    return out


def _required(cls: type[Driver]) -> dict:
    out = {}
    for key, opt in cls.options.items():
        if opt.default is REQUIRED:
            first = opt.type[0] if isinstance(opt.type, tuple) else opt.type
            out[key] = REQUIRED_VALUES[first]
    return out


def test_missing_and_none_take_the_declared_default_and_undeclared_keys_stay():
    options = {"port": Option(str), "baudrate": Option(int, 9600), "power": Option(float, None),
               "antennas": Option(list, [])}
    settings = resolve_settings(options, {"baudrate": None, "cycle_ms": 500})
    assert settings == {"baudrate": 9600, "power": None, "antennas": [], "cycle_ms": 500}
    assert "port" not in settings  # a missing required key is not invented
    settings["antennas"].append(1)
    assert options["antennas"].default == []  # defaults are not shared between devices


@pytest.mark.parametrize("cls", _loadable(), ids=lambda c: c.name)
def test_a_driver_sees_what_the_config_validator_would_give_it(cls):
    required = _required(cls)
    problems: list[str] = []
    validated = validate_table("device", required, cls.options, problems)
    assert problems == []
    assert cls("dev", required).settings == validated


def _literal_defaults(path: pathlib.Path) -> list[str]:
    """`settings.get(key, default)` calls: a second copy of a default the Option already declares."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and len(node.args) == 2 and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "settings"):
            found.append(f"{path.relative_to(DRIVERS_DIR.parent)}:{node.lineno}")
    return found


def test_no_driver_repeats_a_default():
    found = [hit for path in sorted(DRIVERS_DIR.rglob("*.py")) for hit in _literal_defaults(path)]
    assert found == []
