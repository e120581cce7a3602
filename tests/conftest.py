from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.broker import BrokerUnavailable, Mosquitto  # noqa: E402
from tests.helpers.gateway import GatewayProcess  # noqa: E402
from tests.helpers.mqtt import Subscriber  # noqa: E402


@pytest.fixture
def mosquitto():
    broker = Mosquitto()
    try:
        broker.start()
    except BrokerUnavailable as exc:  # CI installs it; a developer without it gets told, not a traceback
        pytest.fail(f"tests need mosquitto: {exc}")
    yield broker
    broker.close()


@pytest.fixture
def subscriber(mosquitto):
    sub = Subscriber(mosquitto.host, mosquitto.port, "tally/#")
    assert sub.wait_for(lambda s: s.client.is_connected(), 10)
    yield sub
    sub.close()


@pytest.fixture
def gateway_process(tmp_path):
    started: list[GatewayProcess] = []

    def start(config: Path) -> GatewayProcess:
        gp = GatewayProcess(config, tmp_path / f"gateway-{len(started)}.log").start()
        started.append(gp)
        return gp

    yield start
    for gp in started:
        gp.close()


@pytest.fixture
def scanner(tmp_path):
    """A serial barcode scanner on a pty, ending scans with CR LF."""
    from simulators.serial_scanner import SerialScannerSimulator

    sim = SerialScannerSimulator(str(tmp_path / "scanner"), terminator="crlf").start()
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def epcis_validator():
    """GS1's EPCIS 2.0 JSON schema (the project's copy), with format checks on."""
    import jsonschema

    schema = json.loads((ROOT / "gateway" / "epcis" / "EPCIS-JSON-Schema.json").read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


@pytest.fixture(scope="session")
def assert_epcis(epcis_validator):
    def check(event: dict) -> None:
        errors = sorted(epcis_validator.iter_errors(event), key=lambda e: e.path)
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5]) + "\n" + json.dumps(event)

    return check


@pytest.fixture
def small_fs(tmp_path):
    """A real, small filesystem (tmpfs of the size asked for) that fills up for real; needs root."""
    import subprocess

    mounted: list[Path] = []

    def make(size_kb: int, name: str = "small") -> Path:
        where = tmp_path / name
        where.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tally-small", str(where)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (the test needs root): {result.stderr.strip()}")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
