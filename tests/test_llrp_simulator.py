"""The LLRP simulator's own codec (simulators/llrp_wire.py, llrp_requests.py) against two other
implementations: sllurp (an independent LLRP library) and our driver's codec. The simulator shares
no code with the driver, so these agreements are what the end-to-end tests rest on."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- the simulator's decoders are total: any bytes give a value or their own error ----------------

def _client_frames() -> list[bytes]:
    from drivers.llrp.inventory import InventorySettings, build_rospec, reader_config
    from drivers.llrp.messages import AddROSpec, SetReaderConfig, encode_message

    settings = InventorySettings(antennas=(1, 2), transmit_power_dbm=None, session=1, tag_population=32,
                                 search_mode="reader-default", report_every_n_tags=1, keepalive_ms=5000)
    rospec, _ = build_rospec(settings, None, False)
    return [encode_message(AddROSpec(rospec, message_id=1)),
            encode_message(SetReaderConfig(**reader_config(settings), message_id=2))]


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200))
def test_request_decoders_are_total_on_any_body(body):
    for decode in (rq.add_rospec, rq.set_reader_config, lambda b: rq.rospec_id(b, "ROSpecID")):
        try:
            decode(body)
        except rq.RequestError:
            pass


@settings(max_examples=300, deadline=None)
@given(which=st.integers(0, 1), edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6))
def test_request_decoders_are_total_on_mutated_driver_messages(which, edits):
    data = bytearray(_client_frames()[which])
    for position, value in edits:
        data[10 + position % (len(data) - 10)] = value
    (frame,) = w.FrameReader().feed(bytes(data))
    decode = rq.add_rospec if frame.type == w.ADD_ROSPEC else rq.set_reader_config
    try:
        decode(frame.body)
    except rq.RequestError:
        pass


def test_the_driver_setup_messages_decode_in_the_simulator():
    add, config = (w.FrameReader().feed(f)[0] for f in _client_frames())
    rospec = rq.add_rospec(add.body)
    assert rospec.ai_specs[0].antenna_ids == (1, 2) and rospec.report_spec.n == 1
    assert rq.set_reader_config(config.body).keepalive_ms == 5000


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.binary(max_size=40), max_size=10))
def test_framing_is_total_on_any_stream(chunks):
    reader = w.FrameReader()
    try:
        for chunk in chunks:
            reader.feed(chunk)
    except w.WireError:
        pass


@settings(max_examples=300, deadline=None)
@given(mtype=st.sampled_from([1, 2, 3, 14, 20, 21, 22, 23, 24, 25, 26, 30, 60, 61, 64, 72, 100, 1023, 999]),
       body=st.binary(max_size=64), version=st.sampled_from([1, 1, 1, 2]))
def test_a_session_answers_any_message_without_failing(mtype, body, version):
    import socket

    from simulators.llrp_reader import LlrpReaderSimulator
    from simulators.llrp_session import Session

    near, far = socket.socketpair()
    try:
        session = Session(LlrpReaderSimulator(), near)
        session.handle(w.Frame(mtype, 7, body, version))
        session.tick(session.last_tick + 0.01)
        for frame in w.FrameReader().feed(bytes(session.out)):
            assert frame.version == 1
    finally:
        near.close()
        far.close()
