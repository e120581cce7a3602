"""A vehicle end to end: GPS receiver and scanner on ptys -> daemon -> mosquitto: positions and geo-stamped scans."""

from __future__ import annotations

import time

import pytest

from simulators.gps import GpsSimulator
from simulators.serial_scanner import SerialScannerSimulator
from tests.helpers.gateway import write_config

pytestmark = pytest.mark.slow  # each test starts the gateway (and a broker) as its own process

GTIN = "09506000134352"


def test_vehicle_positions_and_geo_read_point(tmp_path, mosquitto, subscriber, gateway_process, assert_epcis):
    gps = GpsSimulator(str(tmp_path / "gps"), rate_hz=5, seed=3).start()
    scanner = SerialScannerSimulator(str(tmp_path / "scanner")).start()
    try:
        config = write_config(
            tmp_path / "t.toml", broker_port=mosquitto.port, data_dir=tmp_path / "d", gateway_id="van-7",
            devices=[{"name": "gps", "driver": "nmea", "port": gps.path},
                     {"name": "van-scanner", "driver": "serial-scanner", "port": scanner.path, "biz_step": "loading"}],
            extra={"gps": {"min_interval_s": 1, "min_distance_m": 5}, "site": {}})
        # No fixed read point on a vehicle: the GPS fix is where a scan happens.
        config.write_text(config.read_text().replace('read_point = "urn:epc:id:sgln:0614141.07346.1234"\n', ""))
        gw = gateway_process(config)
        assert gw.wait_log("van-scanner: open", 15) and gw.wait_log("gps: open", 15), gw.log()
        assert subscriber.wait_for(lambda s: len(s.on("positions")) >= 2, 20), gw.log()
        scanner.scan(f"01{GTIN}21VAN1")
        [event] = subscriber.wait_events(1)
        assert_epcis(event)
        assert event["readPoint"]["id"].startswith("geo:")
        assert event["bizStep"] == "loading" and event["tally:fixAge"] < 5
        position = subscriber.on("positions")[0]
        assert position["mode"] in (2, 3) and {"lat", "lon", "time", "device", "seq"} <= set(position)
        gps.unplug()
        assert gw.wait_log("gps: gone", 10)
        time.sleep(0.3)
        gps.replug()
        deadline = time.monotonic() + 15
        while gw.log().count("gps: open") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gw.log().count("gps: open") == 2, gw.log()
        count = len(subscriber.on("positions"))
        assert subscriber.wait_for(lambda s: len(s.on("positions")) > count, 20), gw.log()
        assert gw.terminate() == 0
    finally:
        gps.stop()
        scanner.stop()
