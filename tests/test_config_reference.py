"""docs/config.md is generated from the validator's specs; it must match what the code accepts today."""

from __future__ import annotations

from pathlib import Path

from gateway.config_reference import render

ROOT = Path(__file__).resolve().parents[1]


def test_committed_reference_is_current():
    assert (ROOT / "docs" / "config.md").read_text() == render(), (
        "docs/config.md is stale: run `python -m gateway.config_reference > docs/config.md`")


def test_every_driver_and_section_is_documented():
    text = render()
    for heading in ("[gateway]", "[mqtt]", "[outbox]", "[status]", "[gps]", "[[geofence]]", "[[mode]]",
                    'driver = "serial-scanner"', 'driver = "llrp"', 'driver = "camera"', 'driver = "nmea"'):
        assert heading in text
    assert "Not loadable here" not in text
