"""LLRP codec: real reader captures, an independent implementation's bytes, framing, fuzzing, speed.

Byte sources other than our own encoder:
  * captures from Impinj readers published in sllurp's test suite (tests/test_all.py):
    a READER_EVENT_NOTIFICATION, RO_ACCESS_REPORTs (EPC-96 TV and EPCData TLV forms) and an
    843-byte GET_READER_CONFIG_RESPONSE full of vendor parameters;
  * sllurp 3.0.5's encoder (client messages) and decoder (reader messages), installed here.
"""

from __future__ import annotations

import logging
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.llrp.messages import (
    CLOSED,
    MESSAGE_TYPES,
    NEED_DATA,
    AddROSpec,
    AddROSpecResponse,
    BadMessage,
    CloseConnection,
    CloseConnectionResponse,
    CustomMessage,
    DeleteROSpec,
    EnableEventsAndReports,
    EnableROSpec,
    ErrorMessage,
    GetReaderCapabilities,
    GetReaderCapabilitiesResponse,
    GetReaderConfig,
    GetReaderConfigResponse,
    GetReport,
    Keepalive,
    KeepaliveAck,
    LlrpConnection,
    LlrpProtocolError,
    ReaderEventNotification,
    ROAccessReport,
    SetReaderConfig,
    StartROSpec,
    StopROSpec,
    UnknownMessage,
    decode_message,
    encode_message,
)
from drivers.llrp.params import (
    AISpec,
    AISpecStopTrigger,
    AntennaConfiguration,
    AntennaEvent,
    C1G2InventoryCommand,
    C1G2RFControl,
    C1G2SingulationControl,
    ConnectionAttemptEvent,
    ConnectionCloseEvent,
    EventsAndReports,
    FieldError,
    GeneralDeviceCapabilities,
    GPITriggerValue,
    InventoryParameterSpec,
    KeepaliveSpec,
    LlrpStatus,
    ParameterError,
    ReaderEventNotificationData,
    ReaderEventNotificationSpec,
    ReaderExceptionEvent,
    RegulatoryCapabilities,
    RFTransmitter,
    ROReportSpec,
    ROSpec,
    ROSpecStartTrigger,
    ROSpecStopTrigger,
    TagObservationTrigger,
    TagReport,
    TagReportContentSelector,
    c1g2_rf_mode_table,
    custom_param,
    frequency_information,
)

logging.getLogger("sllurp").setLevel(logging.CRITICAL)

# --- captures from Impinj readers (sllurp tests/test_all.py) --------------------------------------

READER_EVENT_CAPTURE = "043f000000200ab288c900f600160080000c0004f8535baadaff010000060000"
REPORT_EPC96_CAPTURE = ("043d0000002c4095892f00f000228d3005fb63ac1f3841ec88046781000186ce820004ec2ea8354c09880001")
REPORT_EPCDATA_CAPTURE = ("043d000000374095894100f0002d00f1001800901fb41f712ac9c37ab79d618173188324001a81000186ef"
                          "820004ec2ea8381f57880001")
GET_READER_CONFIG_RESPONSE_CAPTURE = (
    "040c0000034b00000003011f00080000000000da000f000008001625ffff10ba4700"
    "dd0009800001000000dd0009000002000000de0072000100df0006000100e0000a00"
    "0100000051014a005c00014f000803e800000150000b4000200000000003ff000e00"
    "00651a00000017000003ff00120000651a0000001a00000000000003ff0012000065"
    "1a0000001b00000000000003ff00120000651a0000001c00000000000000de007200"
    "0200df0006000100e0000a000100000051014a005c00014f000803e800000150000b"
    "4000200000000003ff000e0000651a00000017000003ff00120000651a0000001a00"
    "000000000003ff00120000651a0000001b00000000000003ff00120000651a000000"
    "1c00000000000000f4004300f5000700000000f5000700010000f5000700020000f5"
    "000700030000f5000700048000f5000700050000f5000700060000f5000700070000"
    "f5000700088000ed008602000100ee000b1600015c00050003ff00140000651a0000"
    "0018000000020000000003ff00600000651a0000003203ff000e0000651a00000033"
    "000003ff000e0000651a00000034000003ff000e0000651a00000035000003ff000e"
    "0000651a00000036000003ff000e0000651a00000041000003ff000e0000651a0000"
    "0043000000ef00050100d900087857993700dc0009000000000000e1000800010000"
    "00e100080002000000e100080003000000e100080004000000db000700010000db00"
    "0700020000db000700030000db000700040000e200050003ff000e0000651a000000"
    "16000003ff00120000651a0000002400010000001403ff00120000651a0000002400"
    "020000001403ff00120000651a0000002400030000001403ff00120000651a000000"
    "2400040000001403ff000e0000651a00000025001b03ff00100000651a0000002600"
    "00000003ff000e0000651a00000027000003ff00360000651a0000002803ff000e00"
    "00651a00000029000103ff000e0000651a0000003f000003ff000e0000651a000000"
    "42000003ff000c0000651a0000003c03ff00140000651a0000004000010000000000"
    "0003ff00140000651a00000040000200000000000003ff00140000651a0000004000"
    "0300000000000003ff00140000651a000000400004000000000000"
)


def test_header_layout():
    # 3 reserved bits, version 1 in bits 10-12, type in the low 10 bits, then length and ID
    frame = encode_message(KeepaliveAck(message_id=0x01020304))
    assert frame == bytes.fromhex("0448" "0000000a" "01020304")
    assert struct.unpack("!HII", frame) == ((1 << 10) | 72, 10, 0x01020304)


def test_reader_event_notification_capture():
    frame = bytes.fromhex(READER_EVENT_CAPTURE)
    message = decode_message(frame)
    assert isinstance(message, ReaderEventNotification)
    assert message.message_id == 0x0AB288C9
    assert message.data.timestamp_us == 0x0004F8535BAADAFF
    assert message.data.uptime is False
    assert message.data.events == (ConnectionAttemptEvent(0),)
    assert encode_message(message) == frame


def test_ro_access_report_capture_epc96():
    frame = bytes.fromhex(REPORT_EPC96_CAPTURE)
    message = decode_message(frame)
    assert isinstance(message, ROAccessReport)
    (tag,) = message.tags
    assert tag.epc_hex == "3005FB63AC1F3841EC880467"
    assert tag.epc_bits is None  # came as the EPC-96 TV parameter
    assert (tag.antenna_id, tag.peak_rssi, tag.seen_count) == (1, -50, 1)
    assert tag.first_seen_utc == 0x0004EC2EA8354C09
    assert encode_message(message) == frame


def test_ro_access_report_capture_epcdata():
    frame = bytes.fromhex(REPORT_EPCDATA_CAPTURE)
    message = decode_message(frame)
    (tag,) = message.tags  # type: ignore[union-attr]
    assert tag.epc_bits == 144
    assert tag.epc_hex == "1FB41F712AC9C37AB79D618173188324001A"
    assert (tag.antenna_id, tag.peak_rssi) == (1, -17)
    assert encode_message(message) == frame


def test_get_reader_config_response_capture():
    frame = bytes.fromhex(GET_READER_CONFIG_RESPONSE_CAPTURE)
    assert len(frame) == 843
    message = decode_message(frame)
    assert isinstance(message, GetReaderConfigResponse)
    assert message.status.ok
    assert message.keepalive == KeepaliveSpec(0)
    assert message.events_and_reports == EventsAndReports(False)
    assert [a.antenna_id for a in message.antenna_configurations] == [1, 2]
    antenna = message.antenna_configurations[0]
    assert antenna.transmitter == RFTransmitter(hop_table_id=1, channel_index=0, transmit_power=81)
    (inventory,) = antenna.inventory
    assert inventory.rf_control == C1G2RFControl(1000, 0)
    assert inventory.singulation == C1G2SingulationControl(session=1, tag_population=32, tag_transit_time=0)
    assert [p.subtype for p in inventory.extra] == [23, 26, 27, 28]  # Impinj search mode, ...
    report = message.ro_report_spec
    assert (report.trigger, report.n) == (2, 1)
    assert report.content.antenna_id and report.content.peak_rssi and report.content.first_seen
    assert not report.content.last_seen and report.content.crc is False
    assert dict(message.event_spec.states)[8] is True  # antenna events on
    # every vendor parameter survives, in order: the re-encoding is byte-exact
    assert encode_message(message) == frame


# --- agreement with sllurp, an independent implementation ------------------------------------

def _sllurp():
    return pytest.importorskip("sllurp.llrp", reason="sllurp (test dependency) is not installed")


def _sllurp_bytes(msgdict):
    LLRPMessage = _sllurp().LLRPMessage

    return LLRPMessage(msgdict=msgdict).msgbytes


def _sllurp_decode(frame):
    LLRPMessage = _sllurp().LLRPMessage

    message = LLRPMessage(msgbytes=frame)
    return message.msgname, message.msgdict[message.msgname]


def test_add_rospec_matches_sllurp_bytes():
    _sllurp()
    from sllurp.llrp_proto import LLRPROSpec

    rospec = LLRPROSpec({"ModeIdentifier": 1002, "MaxTari": 7250}, 1, antennas=(1, 2), tx_power={1: 81, 2: 60},
                        session=2, tag_population=16, duration_sec=2.5)
    frame = _sllurp_bytes({"ADD_ROSPEC": {"ID": 7, "ROSpec": rospec}})
    ours = AddROSpec(ROSpec(
        rospec_id=1,
        start_trigger=ROSpecStartTrigger(1),
        stop_trigger=ROSpecStopTrigger(1, 2500),
        ai_specs=(AISpec(
            antenna_ids=(1, 2),
            stop_trigger=AISpecStopTrigger(1, 2500),
            inventory_specs=(InventoryParameterSpec(1, 1, tuple(
                AntennaConfiguration(a, transmitter=RFTransmitter(1, 1, power), inventory=(C1G2InventoryCommand(
                    rf_control=C1G2RFControl(1002, 0),
                    singulation=C1G2SingulationControl(session=2, tag_population=16)),))
                for a, power in ((1, 81), (2, 60)))),),
        ),),
        report_spec=ROReportSpec(1, 0, TagReportContentSelector(rospec_id=True, first_seen=False, last_seen=True,
                                                                crc=False, pc_bits=False)),
    ), message_id=7)
    assert encode_message(ours) == frame
    assert decode_message(frame) == ours


@pytest.mark.parametrize(
    "msgdict,ours",
    [
        ({"GET_READER_CAPABILITIES": {"ID": 3, "RequestedData": 0}}, GetReaderCapabilities(0, message_id=3)),
        ({"DELETE_ROSPEC": {"ID": 4, "ROSpecID": 0}}, DeleteROSpec(0, message_id=4)),
        ({"ENABLE_ROSPEC": {"ID": 5, "ROSpecID": 31345}}, EnableROSpec(31345, message_id=5)),
        ({"START_ROSPEC": {"ID": 6, "ROSpecID": 31345}}, StartROSpec(31345, message_id=6)),
        ({"STOP_ROSPEC": {"ID": 7, "ROSpecID": 31345}}, StopROSpec(31345, message_id=7)),
        ({"KEEPALIVE_ACK": {"ID": 11}}, KeepaliveAck(message_id=11)),
        ({"CLOSE_CONNECTION": {"ID": 12}}, CloseConnection(message_id=12)),
        ({"ENABLE_EVENTS_AND_REPORTS": {"ID": 13}}, EnableEventsAndReports(message_id=13)),
        ({"GET_READER_CONFIG": {"ID": 14, "RequestedData": 0}}, GetReaderConfig(message_id=14)),
        ({"SET_READER_CONFIG": {"ID": 9, "ResetToFactoryDefaults": False,
                                "ReaderEventNotificationSpec": {"EventNotificationState": {
                                    "HoppingEvent": False, "GPIEvent": False, "ROSpecEvent": True,
                                    "ReportBufferFillWarning": False, "ReaderExceptionEvent": True,
                                    "RFSurveyEvent": False, "AISpecEvent": False, "AISpecEventWithSingulation": False,
                                    "AntennaEvent": True}},
                                "KeepaliveSpec": {"KeepaliveTriggerType": 1, "TimeInterval": 5000}}},
         SetReaderConfig(event_spec=ReaderEventNotificationSpec(
             ((0, False), (1, False), (2, True), (3, False), (4, True), (5, False), (6, False), (7, False), (8, True))),
             keepalive=KeepaliveSpec(5000), message_id=9)),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else "",
)
def test_client_messages_match_sllurp_bytes(msgdict, ours):
    frame = _sllurp_bytes(msgdict)
    assert encode_message(ours) == frame
    assert decode_message(frame) == ours


def test_tag_report_content_selector_bits_match_sllurp():
    # sllurp's own test: antenna, peak RSSI, first+last seen, seen count -> flags 0b0001011110 (type 238, 6 bytes)
    data = TagReportContentSelector(antenna_id=True, peak_rssi=True, first_seen=True, last_seen=True,
                                    seen_count=True).encode()
    assert data == bytes.fromhex("00ee0006") + struct.pack("!H", 0b0001011110 << 6)


def test_sllurp_decodes_our_reader_messages():
    tags = (TagReport(bytes.fromhex("3074257BF7194E4000001A85"), antenna_id=2, peak_rssi=-61,
                      first_seen_utc=1_700_000_000_123_456, last_seen_utc=1_700_000_000_223_456, seen_count=7,
                      channel_index=12),
            TagReport(bytes.fromhex("3174257BF4499602D2000000AABB"), epc_bits=112, antenna_id=1, peak_rssi=-70))
    name, decoded = _sllurp_decode(encode_message(ROAccessReport(tags, message_id=99)))
    assert name == "RO_ACCESS_REPORT" and decoded["ID"] == 99
    first, second = decoded["TagReportData"]
    assert first["EPC-96"] == b"3074257bf7194e4000001a85"
    assert (first["AntennaID"], first["PeakRSSI"], first["TagSeenCount"], first["ChannelIndex"]) == (2, -61, 7, 12)
    assert first["FirstSeenTimestampUTC"] == 1_700_000_000_123_456
    assert first["LastSeenTimestampUTC"] == 1_700_000_000_223_456
    assert second["EPC"] == b"3174257bf4499602d2000000aabb"

    note = ReaderEventNotification(ReaderEventNotificationData(1_700_000_000_000_000, (ConnectionAttemptEvent(0),)))
    name, decoded = _sllurp_decode(encode_message(note))
    assert decoded["ReaderEventNotificationData"]["ConnectionAttemptEvent"]["Status"] == "Success"

    name, decoded = _sllurp_decode(encode_message(AddROSpecResponse(LlrpStatus(301, "antenna 9 does not exist"))))
    assert decoded["LLRPStatus"]["StatusCode"] == "A_OutOfRange"
    assert decoded["LLRPStatus"]["ErrorDescription"] == b"antenna 9 does not exist"

    caps = GetReaderCapabilitiesResponse(
        general=GeneralDeviceCapabilities(max_antennas=4, manufacturer=25882, model=2001002, firmware="5.12"),
        regulatory=RegulatoryCapabilities(840, 1, ((1, 1000), (2, 1025)),
                                          (frequency_information((902750, 903250)), c1g2_rf_mode_table((1000,)))))
    name, decoded = _sllurp_decode(encode_message(caps))
    general = decoded["GeneralDeviceCapabilities"]
    assert (general["MaxNumberOfAntennaSupported"], general["DeviceManufacturerName"]) == (4, 25882)
    assert general["ReaderFirmwareVersion"] == b"5.12"
    power = decoded["RegulatoryCapabilities"]["UHFBandCapabilities"]["TransmitPowerLevelTableEntry"]
    assert [(p["Index"], p["TransmitPowerValue"]) for p in power] == [(1, 1000), (2, 1025)]


# --- round trips of everything we model ---------------------------------------------------------

FULL_ROSPEC = ROSpec(
    rospec_id=0x7A11, priority=3,
    start_trigger=ROSpecStartTrigger(2, periodic=(0, 1000)),
    stop_trigger=ROSpecStopTrigger(2, 0, GPITriggerValue(1, True, 500)),
    ai_specs=(AISpec((1, 2, 3), AISpecStopTrigger(3, 250, tag_observation=TagObservationTrigger(1, 10, 2, 500, 3000)),
                     (InventoryParameterSpec(9, 1, (
        AntennaConfiguration(1, 3, RFTransmitter(1, 2, 70), (C1G2InventoryCommand(
            True, C1G2RFControl(2, 6250), C1G2SingulationControl(3, 500, 10),
            (custom_param(25882, 23, b"\x00\x02"),)),)),)),)),),
    report_spec=ROReportSpec(2, 100, TagReportContentSelector(True, True, True, True, True, True, True, True, True, True,
                                                              crc=True, pc_bits=True)),
)

ROUND_TRIP = [
    GetReaderCapabilities(2, message_id=1),
    GetReaderCapabilitiesResponse(LlrpStatus(), GeneralDeviceCapabilities(4, True, True, 161, 7, "fw",
                                                                          ((1, 0), (2, -10)), 2, 3,
                                                                          ((1, (1,)), (2, (1,)))),
                                  RegulatoryCapabilities(276, 2, ((1, 1000),)), message_id=2),
    SetReaderConfig(ReaderEventNotificationSpec(((8, True),)),
                    (AntennaConfiguration(0, None, RFTransmitter(1, 1, 5)),),
                    ROReportSpec(1, 1), KeepaliveSpec(1000), EventsAndReports(True), reset_to_factory_default=True,
                    message_id=3),
    AddROSpec(FULL_ROSPEC, message_id=4),
    AddROSpecResponse(LlrpStatus(101, "bad field", FieldError(3, 301),
                                 ParameterError(183, 201, FieldError(0, 301), ParameterError(222, 301))), message_id=5),
    ROAccessReport((TagReport(b"\x30" * 12, None, 1, -40, 5, 1, 2, 3, 4, 5, 6, 7, 8, 0x3000, 0xBEEF, 9),
                    TagReport(b"\xE2\x00\x01", 20, peak_rssi=-128)), message_id=6),
    ReaderEventNotification(ReaderEventNotificationData(123, (AntennaEvent(False, 3), ReaderExceptionEvent("hot"),
                                                              ConnectionCloseEvent()), uptime=True), message_id=7),
    ErrorMessage(LlrpStatus(109, "unsupported"), message_id=8),
    CloseConnectionResponse(message_id=9),
    CustomMessage(vendor=25882, subtype=21, data=b"\0\0\0\0", message_id=10),
    GetReport(message_id=11),
    Keepalive(message_id=12),
    UnknownMessage(type=40, raw_body=b"\x01\x02", message_id=13),
]


@pytest.mark.parametrize("message", ROUND_TRIP, ids=lambda m: m.name)
def test_round_trip(message):
    frame = encode_message(message)
    assert decode_message(frame) == message
    assert encode_message(decode_message(frame)) == frame


# --- framing ----------------------------------------------------------------------------------

def _frames():
    return [encode_message(m) for m in ROUND_TRIP]


def test_connection_reassembles_any_split():
    stream = b"".join(_frames())
    for chunk in (1, 3, 10, 64, len(stream)):
        conn = LlrpConnection()
        got = []
        for i in range(0, len(stream), chunk):
            conn.receive_data(stream[i:i + chunk])
            got.extend(conn.events())
        assert got == ROUND_TRIP
        assert conn.next_event() is NEED_DATA
        conn.receive_data(b"")
        assert conn.next_event() is CLOSED


@pytest.mark.parametrize(
    "data,error",
    [
        (bytes.fromhex("0448 00000009 00000001"), "shorter than the header"),
        (bytes.fromhex("0448 7fffffff 00000001"), "exceeds"),
    ],
)
def test_framing_errors_are_fatal_and_clear(data, error):
    conn = LlrpConnection(max_message_size=1 << 20)
    conn.receive_data(data)
    with pytest.raises(LlrpProtocolError, match=error):
        conn.next_event()
    with pytest.raises(LlrpProtocolError):  # the stream cannot be resynchronised
        conn.next_event()


def test_stream_cut_mid_message():
    frame = encode_message(ROUND_TRIP[3])
    conn = LlrpConnection()
    conn.receive_data(frame[:-3])
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(LlrpProtocolError, match="stream ended inside a message"):
        conn.next_event()


def test_bad_body_is_reported_and_stream_continues():
    bad = bytes.fromhex("041e 0000000e 00000005") + b"\x01\x1f\x00\x09"  # ADD_ROSPEC_RESPONSE, param overruns
    conn = LlrpConnection()
    conn.receive_data(bad + encode_message(Keepalive(message_id=6)))
    first, second = list(conn.events())
    assert isinstance(first, BadMessage) and first.message_id == 5 and "claims" in first.error
    assert first.name == "AddROSpecResponse"
    assert second == Keepalive(message_id=6)


@pytest.mark.parametrize(
    "frame,error",
    [
        (bytes.fromhex("083e 0000000a 00000001"), "unsupported LLRP version 2"),
        (bytes.fromhex("041f 0000000a 00000001"), "LLRPStatus"),  # response without its status
        (bytes.fromhex("0414 0000000e 00000001 00b10004"), "ROSpec"),  # ADD_ROSPEC, empty ROSpec
        (bytes.fromhex("043d 0000000f 00000001 00f0000501"), "TagReportData"),
        (bytes.fromhex("043d 00000011 00000001 00f00007 810001"), "no EPC"),
        (bytes.fromhex("043d 00000010 00000001 00f00006 ff00"), "unknown TV parameter type 127"),
        (bytes.fromhex("043d 00000012 00000001 00f00008 00050004"), "reserved type 5"),
        (bytes.fromhex("0415 0000000c 00000001 0000"), "4 bytes"),
        (bytes.fromhex("043e 0000000b 00000001 00"), "no body"),
    ],
)
def test_bad_bodies_say_why(frame, error):
    message = decode_message(frame)
    assert isinstance(message, BadMessage)
    assert error in message.error


def test_decode_message_wants_one_whole_frame():
    with pytest.raises(LlrpProtocolError):
        decode_message(b"\x04")
    with pytest.raises(LlrpProtocolError):
        decode_message(encode_message(Keepalive()) + b"\0")


# --- fuzzing: any bytes → messages or LlrpProtocolError, never anything else ------------------------

def _drain(conn: LlrpConnection) -> None:
    while True:
        event = conn.next_event()
        if event is NEED_DATA or event is CLOSED:
            return
        assert event is not None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8), st.booleans())
def test_fuzz_connection_with_random_bytes(chunks, close):
    conn = LlrpConnection(max_message_size=4096)
    try:
        for chunk in chunks:
            conn.receive_data(chunk or b"x")
            _drain(conn)
        if close:
            conn.receive_data(b"")
            _drain(conn)
    except LlrpProtocolError as exc:
        assert str(exc)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(sorted(MESSAGE_TYPES)), st.binary(max_size=120), st.integers(0, 0xFFFFFFFF))
def test_fuzz_bodies_behind_valid_headers(mtype, body, message_id):
    frame = struct.pack("!HII", (1 << 10) | mtype, 10 + len(body), message_id) + body
    message = decode_message(frame)
    if isinstance(message, BadMessage):
        assert message.error and message.message_id == message_id
    else:
        assert encode_message(message)  # whatever decodes can be encoded again


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(_frames() + [bytes.fromhex(GET_READER_CONFIG_RESPONSE_CAPTURE),
                                   bytes.fromhex(REPORT_EPCDATA_CAPTURE)]),
       st.lists(st.tuples(st.integers(10, 10_000), st.integers(0, 255)), min_size=1, max_size=6))
def test_fuzz_mutated_real_messages(frame, edits):
    data = bytearray(frame)
    for position, value in edits:
        data[10 + position % max(len(data) - 10, 1) if len(data) > 10 else 0] = value
    message = decode_message(bytes(data))
    assert isinstance(message, BadMessage) or encode_message(message)


# --- speed ---------------------------------------------------------------------------------------

def test_decoding_a_100_tag_report_is_fast():
    tags = tuple(TagReport(bytes.fromhex(f"3074257BF7194E40{i:08X}"), antenna_id=1 + i % 4, peak_rssi=-50,
                           channel_index=3, first_seen_utc=1_700_000_000_000_000 + i,
                           last_seen_utc=1_700_000_000_000_000 + i, seen_count=2) for i in range(100))
    frame = encode_message(ROAccessReport(tags))
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        message = decode_message(frame)
    per_tag = (time.perf_counter() - started) / rounds / 100
    assert len(message.tags) == 100  # type: ignore[union-attr]
    assert message.tags[99].epc_hex == "3074257BF7194E4000000063"  # type: ignore[union-attr]
    # measured about 2 µs per tag on the build machine; the budget is 1 ms
    assert per_tag < 50e-6, f"{per_tag * 1e6:.1f} µs per tag"
