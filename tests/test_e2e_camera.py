"""A packing-table camera end to end: rendered video frames -> camera driver -> daemon -> mosquitto.

A label that stays in view for many frames is one read; GS1 DataMatrix (FNC1 as GS) becomes a unit event.
"""

from __future__ import annotations

import time

import pytest

from simulators.camera import Label, Scene, VideoFileCamera
from tests.helpers.gateway import wait_status, write_config

pytestmark = pytest.mark.slow  # each test starts the gateway (and a broker) as its own process


def test_camera_labels_become_events(tmp_path, mosquitto, subscriber, gateway_process, assert_epcis):
    scene = Scene([
        Label("gs1-datamatrix", "(01)09506000134352(21)CAM-1", x=0.3, y=0.5, module=8, appear=0, leave=30),
        Label("gs1-128", "(00)106141411234567897", x=0.7, y=0.5, module=3, appear=5, leave=30),
    ], width=1280, height=720)
    with VideoFileCamera(scene, frames=30, fps=15) as camera:
        config = write_config(tmp_path / "t.toml", broker_port=mosquitto.port, data_dir=tmp_path / "d",
                              devices=[{"name": "pack-cam", "driver": "camera", "device": camera.path, "fps": 30,
                                        "repeat_ms": 60_000}],
                              extra={"gateway": {"company_prefixes": ["0614141"]}})
        gw = gateway_process(config)
        assert subscriber.wait_for(lambda s: len(s.on("events")) >= 2, 40), gw.log()
        events = subscriber.on("events")
        for event in events:
            assert_epcis(event)
            assert event["tally:device"] == "pack-cam"
        identities = {event["epcList"][0] for event in events}
        assert identities == {"https://id.gs1.org/01/09506000134352/21/CAM-1", "urn:epc:id:sscc:0614141.1123456789"}
        # Thirty frames with the same two labels in view are two reads, not one per frame.
        time.sleep(2)
        assert len(subscriber.on("events")) == 2, [e["tally:raw"] for e in subscriber.on("events")]
        assert "end of file after 30 frames" in gw.log()
        assert events[0]["tally:symbology"] in ("gs1-datamatrix", "gs1-128")
        # the camera's own counters are in `tally status`
        [device] = wait_status(config, lambda s: s["devices"][0].get("driver_stats", {}).get("frames_decoded", 0)
                               >= 30)["devices"]
        assert device["driver_stats"]["frames_captured"] == 30, device
        assert gw.terminate() == 0
