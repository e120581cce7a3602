"""A dock-door portal end to end: LLRP reader simulator (real TCP) -> daemon -> mosquitto.

Hundreds of tags per cycle become one event per cycle, with the door direction, and the
gateway comes back by itself after the reader reboots.
"""

from __future__ import annotations

import pytest

from simulators.llrp_reader import LlrpReaderSimulator, PalletPass
from tests.helpers.gateway import write_config

pytestmark = pytest.mark.slow  # each test starts the gateway (and a broker) as its own process


def test_pallet_through_a_door_becomes_one_receiving_event(tmp_path, mosquitto, subscriber, gateway_process,
                                                            assert_epcis):
    scenario = PalletPass(cases=300, outside=(1,), inside=(2,), direction="in", pass_s=2.0, gap_s=2.0)
    with LlrpReaderSimulator(scenario=scenario, rate=3000) as reader:
        config = write_config(
            tmp_path / "t.toml", broker_port=mosquitto.port, data_dir=tmp_path / "d", gateway_id="door-4",
            devices=[{"name": "door-4-portal", "driver": "llrp", "host": "127.0.0.1", "port": reader.port,
                      "cycle_ms": 5000, "inside_antennas": [2], "outside_antennas": [1],
                      "keepalive_ms": 1000}])
        gw = gateway_process(config)
        assert gw.wait_log("door-4-portal: open", 15), gw.log()
        assert subscriber.wait_for(lambda s: any(len(e["epcList"]) >= 300 for e in s.on("events")), 30), gw.log()
        event = next(e for e in subscriber.on("events") if len(e["epcList"]) >= 300)
        assert_epcis(event)
        assert event["bizStep"] == "receiving" and event["tally:direction"] == "receiving"
        assert all(epc.startswith("urn:epc:id:sgtin:0614141.812345.") for epc in event["epcList"])
        assert len(set(event["epcList"])) == len(event["epcList"])      # de-duplicated per tag
        assert event["tally:cycle"]["reads"] > len(event["epcList"])     # from a flood of reads
        assert set(event["tally:additions"]) <= set(event["epcList"])

        reader.reboot(downtime=1.5)
        assert gw.wait_log("door-4-portal: gone", 15), gw.log()
        count = gw.log().count("door-4-portal: open")
        import time

        deadline = time.monotonic() + 20
        while gw.log().count("door-4-portal: open") <= count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gw.log().count("door-4-portal: open") > count, gw.log()
        seen = len(subscriber.on("events"))
        assert subscriber.wait_for(lambda s: len(s.on("events")) > seen, 30), gw.log()
        assert gw.terminate() == 0
        assert "Traceback" not in gw.log()


def test_door_sensor_on_the_readers_gpi_drives_the_read_cycle(tmp_path, mosquitto, subscriber, gateway_process,
                                                               assert_epcis):
    import time

    scenario = PalletPass(cases=40, outside=(1,), inside=(2,), direction="out", pass_s=1.0, gap_s=0.5)
    with LlrpReaderSimulator(scenario=scenario, rate=2000) as reader:
        config = write_config(
            tmp_path / "t.toml", broker_port=mosquitto.port, data_dir=tmp_path / "d", gateway_id="door-5",
            devices=[{"name": "door-5-portal", "driver": "llrp", "host": "127.0.0.1", "port": reader.port,
                      "cycle_mode": "triggered", "cycle_ms": 0, "gpi_triggers": [1],
                      "inside_antennas": [2], "outside_antennas": [1]}])
        gw = gateway_process(config)
        assert gw.wait_log("door-5-portal: open", 15), gw.log()
        time.sleep(1.0)
        assert subscriber.on("events") == []   # the door is closed: tags in range, no cycle, no event
        reader.gpi(1, True)                     # the door opens
        time.sleep(2.5)
        reader.gpi(1, False)                    # and closes: the cycle ends with it
        assert subscriber.wait_for(lambda s: len(s.on("events")) >= 1, 15), gw.log()
        time.sleep(0.5)
        [event] = subscriber.on("events")
        assert_epcis(event)
        assert event["tally:cycle"]["reason"] == "trigger"
        assert event["bizStep"] == "shipping" and len(event["epcList"]) >= 40
        assert gw.terminate() == 0
