"""The README's first command: `tally demo` shows events arriving, and stops cleanly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.gateway import ROOT

pytestmark = pytest.mark.slow  # each test starts the gateway (and a broker) as its own process


def test_demo_shows_events(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gateway", "demo", "--duration", "8", "--rate", "5"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert sum("ObjectEvent" in line for line in lines) >= 5, result.stdout
    assert any(line.startswith("reject from") for line in lines)     # the smudged label
    # feedback for each scan, and the truck's manifest with one carton that does not belong
    assert any("-> UNEXPECTED" in line and "truck-0815" in line for line in lines), result.stdout
    assert any("scanner heard: WRONG CARTON" in line for line in lines), result.stdout
    assert any(line.startswith("manifest truck-0815 closed") and '"count": 1' in line for line in lines), result.stdout
    assert "stopped cleanly" in result.stderr
    assert "Traceback" not in result.stderr
