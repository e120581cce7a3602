"""The LLRP simulator's own codec (simulators/llrp_wire.py, llrp_requests.py) against two other
implementations: sllurp (an independent LLRP library) and our driver's codec. The simulator shares
no code with the driver, so these agreements are what the end-to-end tests rest on."""

from __future__ import annotations

import struct

import pytest

from drivers.llrp.messages import LlrpConnection, ROAccessReport, decode_message
from simulators import llrp_requests as rq
from simulators import llrp_wire as w
from simulators.llrp_session import POWER_TABLE
from simulators.sgtin import sgtin96

sllurp = pytest.importorskip("sllurp.llrp", reason="sllurp (test dependency) is not installed")

EPC = sgtin96("0614141", "812345", 6789, 3)


def sllurp_decode(frame: bytes) -> tuple[str, dict]:
    message = sllurp.LLRPMessage(msgbytes=frame)
    return message.msgname, message.msgdict[message.msgname]


def sllurp_bytes(msgdict: dict) -> bytes:
    return sllurp.LLRPMessage(msgdict=msgdict).msgbytes


def test_sgtin96_matches_the_tag_data_standard_example():
    assert EPC.hex().upper() == "3074257BF7194E4000001A85"


def test_tag_reports_decode_alike_in_sllurp_and_the_driver():
    tags = [w.TagSeen(EPC, antenna_id=2, peak_rssi=-61, channel_index=12, first_seen_utc=1_700_000_000_123_456,
                      last_seen_utc=1_700_000_000_223_456, seen_count=7, rospec_id=1, pc_bits=0x3000),
            w.TagSeen(bytes.fromhex("3174257BF4499602D2000000AABB"), antenna_id=1, peak_rssi=-70)]
    frame = w.ro_access_report(99, tags)
    name, decoded = sllurp_decode(frame)
    assert name == "RO_ACCESS_REPORT" and decoded["ID"] == 99
    first, second = decoded["TagReportData"]
    assert first["EPC-96"] == EPC.hex().encode()
    assert (first["AntennaID"], first["PeakRSSI"], first["TagSeenCount"], first["ChannelIndex"]) == (2, -61, 7, 12)
    assert (first["FirstSeenTimestampUTC"], first["LastSeenTimestampUTC"]) == (1_700_000_000_123_456,
                                                                               1_700_000_000_223_456)
    assert first["ROSpecID"] == 1
    assert second["EPC"] == b"3174257bf4499602d2000000aabb"
    report = decode_message(frame)
    assert isinstance(report, ROAccessReport) and report.message_id == 99
    ours = report.tags[0]
    assert (ours.epc, ours.antenna_id, ours.peak_rssi, ours.seen_count, ours.channel_index, ours.pc_bits) == (
        EPC, 2, -61, 7, 12, 0x3000)
    assert report.tags[1].epc_bits in (None, 112)


def test_capabilities_decode_in_sllurp():
    caps = w.Capabilities(max_antennas=4, manufacturer=25882, model=2001002, firmware="5.12",
                          power_table=POWER_TABLE[:2], hop_table_khz=(902_750, 903_250))
    name, decoded = sllurp_decode(w.message(w.GET_READER_CAPABILITIES_RESPONSE, 5, caps.encode()))
    assert name == "GET_READER_CAPABILITIES_RESPONSE"
    assert decoded["LLRPStatus"]["StatusCode"] == "Success"
    general = decoded["GeneralDeviceCapabilities"]
    assert (general["MaxNumberOfAntennaSupported"], general["DeviceManufacturerName"], general["ModelName"]) == (
        4, 25882, 2001002)
    assert general["ReaderFirmwareVersion"] == b"5.12"
    power = decoded["RegulatoryCapabilities"]["UHFBandCapabilities"]["TransmitPowerLevelTableEntry"]
    assert [(p["Index"], p["TransmitPowerValue"]) for p in power] == [(1, 1000), (2, 1025)]


def test_status_and_events_decode_in_sllurp():
    name, decoded = sllurp_decode(w.message(30, 3, w.status(301, "antenna 9 does not exist", w.AI_SPEC)))
    assert name == "ADD_ROSPEC_RESPONSE"
    assert decoded["LLRPStatus"]["StatusCode"] == "A_OutOfRange"
    assert decoded["LLRPStatus"]["ErrorDescription"] == b"antenna 9 does not exist"
    note = w.event_notification(1_700_000_000_000_000, w.connection_attempt_event(0))
    name, decoded = sllurp_decode(w.message(w.READER_EVENT_NOTIFICATION, 0, note))
    assert decoded["ReaderEventNotificationData"]["ConnectionAttemptEvent"]["Status"] == "Success"


def test_the_simulator_reads_an_add_rospec_sllurp_wrote():
    from sllurp.llrp_proto import LLRPROSpec

    spec = LLRPROSpec({"ModeIdentifier": 1002, "MaxTari": 7250}, 7, antennas=(1, 2), tx_power={1: 81, 2: 60},
                      session=2, tag_population=16, duration_sec=2.5)
    (frame,) = w.FrameReader().feed(sllurp_bytes({"ADD_ROSPEC": {"ID": 7, "ROSpec": spec}}))
    assert (frame.type, frame.message_id, frame.version) == (w.ADD_ROSPEC, 7, 1)
    rospec = rq.add_rospec(frame.body)
    assert (rospec.rospec_id, rospec.current_state, rospec.start_trigger) == (7, 0, 1)
    assert (rospec.stop_trigger, rospec.duration_ms) == (1, 2500)
    (ai,) = rospec.ai_specs
    assert ai.antenna_ids == (1, 2)
    (inventory,) = ai.inventory_specs
    assert inventory.protocol_id == 1
    configs = inventory.antenna_configurations
    assert [(c.antenna_id, c.transmitter.transmit_power) for c in configs] == [(1, 81), (2, 60)]
    singulation = configs[0].inventory[0].singulation
    assert (singulation.session, singulation.tag_population) == (2, 16)
    assert rospec.report_spec.n == 0 and rospec.report_spec.content.rospec_id


def test_the_simulator_reads_a_set_reader_config_sllurp_wrote():
    frame_bytes = sllurp_bytes({"SET_READER_CONFIG": {"ID": 9, "ResetToFactoryDefaults": True,
                                                      "KeepaliveSpec": {"KeepaliveTriggerType": 1,
                                                                        "TimeInterval": 5000}}})
    (frame,) = w.FrameReader().feed(frame_bytes)
    config = rq.set_reader_config(frame.body)
    assert config.reset_to_factory_default and config.keepalive_ms == 5000


def test_framing_splits_anywhere_and_refuses_an_impossible_length():
    stream = b"".join(w.message(w.KEEPALIVE, i) for i in range(5)) + w.ro_access_report(6, [w.TagSeen(EPC)])
    reader = w.FrameReader()
    frames = [f for i in range(len(stream)) for f in reader.feed(stream[i:i + 1])]
    assert [f.message_id for f in frames] == [0, 1, 2, 3, 4, 6]
    driver_side = LlrpConnection()
    driver_side.receive_data(stream)
    assert [m.message_id for m in driver_side.events()] == [0, 1, 2, 3, 4, 6]
    with pytest.raises(w.WireError):
        w.FrameReader().feed(struct.pack(">HII", 1 << 10 | 62, 3, 1))


def test_a_body_that_does_not_decode_is_a_request_error():
    with pytest.raises(rq.RequestError):
        rq.add_rospec(struct.pack(">HH", w.ROSPEC, 5) + b"\x00")
    with pytest.raises(rq.RequestError):
        rq.set_reader_config(b"")


def test_no_simulator_imports_the_code_it_stands_in_for():
    import ast
    import pathlib

    import simulators

    found = []
    for path in sorted(pathlib.Path(simulators.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("drivers", "gateway")]
    assert found == []
