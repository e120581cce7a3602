"""The reader's side of LLRP 1.0.1 on the wire: framing, and the messages a reader sends.

Written from the LLRP 1.0.1 specification (EPCglobal, §15 message and §16 parameter encodings),
not from drivers/llrp: the simulator and the driver share no codec, so a layout bug in the
driver's decoder fails the end-to-end tests instead of being mirrored by the simulator.

    message:  reserved(3) version(3) type(10) | length (32, whole message) | message ID (32) | body
    TLV:      reserved(6) type(10) | length (16, whole parameter) | value, nested parameters
    TV:       1 type(7) | value of a length fixed by the type (the small fields of a tag report)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

VERSION = 1
HEADER = struct.Struct(">HII")
MAX_MESSAGE = 1 << 20  # no client message a reader accepts comes near this: a bigger one is a broken stream

# message types (§15)
GET_READER_CAPABILITIES, GET_READER_CONFIG, SET_READER_CONFIG, CLOSE_CONNECTION_RESPONSE = 1, 2, 3, 4
GET_READER_CAPABILITIES_RESPONSE, GET_READER_CONFIG_RESPONSE, SET_READER_CONFIG_RESPONSE = 11, 12, 13
CLOSE_CONNECTION = 14
ADD_ROSPEC, DELETE_ROSPEC, START_ROSPEC, STOP_ROSPEC, ENABLE_ROSPEC, DISABLE_ROSPEC = 20, 21, 22, 23, 24, 25
RESPONSE_TO = {ADD_ROSPEC: 30, DELETE_ROSPEC: 31, START_ROSPEC: 32, STOP_ROSPEC: 33, ENABLE_ROSPEC: 34,
               DISABLE_ROSPEC: 35, SET_READER_CONFIG: SET_READER_CONFIG_RESPONSE,
               CLOSE_CONNECTION: CLOSE_CONNECTION_RESPONSE}
GET_REPORT, RO_ACCESS_REPORT, KEEPALIVE, READER_EVENT_NOTIFICATION, ENABLE_EVENTS_AND_REPORTS = 60, 61, 62, 63, 64
KEEPALIVE_ACK, ERROR_MESSAGE, CUSTOM_MESSAGE = 72, 100, 1023
#: what only a reader sends (responses, reports, events): a client sending one is refused
FROM_READER = frozenset({*RESPONSE_TO.values(), GET_READER_CAPABILITIES_RESPONSE, GET_READER_CONFIG_RESPONSE,
                         36, 45, 46, 47, 48, 49, RO_ACCESS_REPORT, KEEPALIVE, READER_EVENT_NOTIFICATION,
                         ERROR_MESSAGE})

# parameter types (§16)
UTC_TIMESTAMP = 128
GENERAL_DEVICE_CAPABILITIES, RECEIVE_SENSITIVITY_TABLE_ENTRY, PER_ANTENNA_AIR_PROTOCOL = 137, 139, 140
GPIO_CAPABILITIES, LLRP_CAPABILITIES, REGULATORY_CAPABILITIES, UHF_BAND_CAPABILITIES = 141, 142, 143, 144
TRANSMIT_POWER_LEVEL_TABLE_ENTRY, FREQUENCY_INFORMATION, FREQUENCY_HOP_TABLE = 145, 146, 147
ROSPEC, RO_BOUNDARY_SPEC, ROSPEC_START_TRIGGER, ROSPEC_STOP_TRIGGER = 177, 178, 179, 182
AI_SPEC, AI_SPEC_STOP_TRIGGER, INVENTORY_PARAMETER_SPEC = 183, 184, 186
KEEPALIVE_SPEC, ANTENNA_CONFIGURATION, RF_TRANSMITTER = 220, 222, 224
RO_REPORT_SPEC, TAG_REPORT_CONTENT_SELECTOR, TAG_REPORT_DATA, EPC_DATA = 237, 238, 240, 241
READER_EVENT_NOTIFICATION_DATA, GPI_EVENT, CONNECTION_ATTEMPT_EVENT = 246, 248, 256
LLRP_STATUS, PARAMETER_ERROR = 287, 289
C1G2_LLRP_CAPABILITIES, UHF_C1G2_RF_MODE_TABLE, UHF_C1G2_RF_MODE_TABLE_ENTRY = 327, 328, 329
C1G2_INVENTORY_COMMAND, C1G2_SINGULATION_CONTROL, C1G2_EPC_MEMORY_SELECTOR = 330, 336, 348
CUSTOM = 1023

# TV parameters of a TagReportData: type → value size
TV_ANTENNA_ID, TV_FIRST_SEEN_UTC, TV_LAST_SEEN_UTC, TV_PEAK_RSSI, TV_CHANNEL_INDEX = 1, 2, 4, 6, 7
TV_TAG_SEEN_COUNT, TV_ROSPEC_ID, TV_INVENTORY_PARAMETER_SPEC_ID, TV_C1G2_PC, TV_EPC96, TV_SPEC_INDEX = \
    8, 9, 10, 12, 13, 14


class WireError(ValueError):
    """Bytes that are not LLRP: the stream cannot be resynchronised, the connection ends."""


# --- framing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    type: int
    message_id: int
    body: bytes
    version: int = VERSION


class FrameReader:
    """TCP bytes → whole messages, cut by the length field of each header."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self.pending += data
        frames = []
        while len(self.pending) >= HEADER.size:
            word, length, message_id = HEADER.unpack_from(self.pending)
            if not HEADER.size <= length <= MAX_MESSAGE:
                raise WireError(f"message length {length} is impossible")
            if len(self.pending) < length:
                break
            frames.append(Frame(word & 0x3FF, message_id, bytes(self.pending[HEADER.size:length]), (word >> 10) & 7))
            del self.pending[:length]
        return frames


def message(mtype: int, message_id: int, body: bytes = b"") -> bytes:
    return HEADER.pack(VERSION << 10 | mtype, HEADER.size + len(body), message_id) + body


def tlv(ptype: int, *parts: bytes) -> bytes:
    value = b"".join(parts)
    return struct.pack(">HH", ptype, 4 + len(value)) + value


def tv(ptype: int, fmt: str, value: int) -> bytes:
    return bytes([0x80 | ptype]) + struct.pack(">" + fmt, value)


def utf8v(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">H", len(data)) + data


# --- what a reader sends --------------------------------------------------------------------------

def status(code: int = 0, description: str = "", parameter_type: int | None = None) -> bytes:
    """LLRPStatus; a ParameterError names the parameter a refusal is about."""
    body = struct.pack(">H", code) + utf8v(description)
    if parameter_type is not None:
        body += tlv(PARAMETER_ERROR, struct.pack(">HH", parameter_type, code))
    return tlv(LLRP_STATUS, body)


def custom(vendor: int, subtype: int, data: bytes = b"") -> bytes:
    return tlv(CUSTOM, struct.pack(">II", vendor, subtype), data)


def event_notification(utc_us: int, *events: bytes) -> bytes:
    return tlv(READER_EVENT_NOTIFICATION_DATA, tlv(UTC_TIMESTAMP, struct.pack(">Q", utc_us)), *events)


def connection_attempt_event(status_code: int) -> bytes:
    return tlv(CONNECTION_ATTEMPT_EVENT, struct.pack(">H", status_code))


def gpi_event(port: int, high: bool) -> bytes:
    return tlv(GPI_EVENT, struct.pack(">HB", port, 0x80 if high else 0))


def keepalive_spec(period_ms: int) -> bytes:
    return tlv(KEEPALIVE_SPEC, struct.pack(">BI", 1 if period_ms else 0, period_ms))


@dataclass(frozen=True)
class Capabilities:
    """What GET_READER_CAPABILITIES_RESPONSE tells a client about the reader."""

    max_antennas: int = 4
    manufacturer: int = 0
    model: int = 1
    firmware: str = "tally-sim 1.0"
    has_utc_clock: bool = True
    gpis: int = 4
    gpos: int = 4
    country_code: int = 840
    communications_standard: int = 1  # US FCC part 15
    #: (index, dBm x 100)
    power_table: tuple[tuple[int, int], ...] = ()
    hop_table_khz: tuple[int, ...] = ()
    rf_modes: tuple[int, ...] = (1000, 1002, 1003)

    def encode(self) -> bytes:
        flags = 0x4000 if self.has_utc_clock else 0
        general = tlv(GENERAL_DEVICE_CAPABILITIES,
                      struct.pack(">HHII", self.max_antennas, flags, self.manufacturer, self.model),
                      utf8v(self.firmware),
                      tlv(RECEIVE_SENSITIVITY_TABLE_ENTRY, struct.pack(">Hh", 1, 0)),
                      *(tlv(PER_ANTENNA_AIR_PROTOCOL, struct.pack(">HHB", antenna, 1, 1))  # protocol 1: EPC C1G2
                        for antenna in range(1, self.max_antennas + 1)),
                      tlv(GPIO_CAPABILITIES, struct.pack(">HH", self.gpis, self.gpos)))
        llrp = tlv(LLRP_CAPABILITIES, struct.pack(">BBHIIIII", 0, 1, 0, 8, 1, 1, 8, 1))
        hopping = tlv(FREQUENCY_INFORMATION, b"\x80",
                      tlv(FREQUENCY_HOP_TABLE, struct.pack(">BBH", 1, 0, len(self.hop_table_khz)),
                          *(struct.pack(">I", f) for f in self.hop_table_khz)))
        # FM0 at 640 kHz backscatter, Tari 6.25-25 µs, multi-interrogator mask: one such mode per identifier
        modes = tlv(UHF_C1G2_RF_MODE_TABLE, *(tlv(UHF_C1G2_RF_MODE_TABLE_ENTRY,
                                                  struct.pack(">IBBBBIIIII", mode, 0x40, 1, 1, 2, 640_000, 1500,
                                                              6250, 25000, 0)) for mode in self.rf_modes))
        band = tlv(UHF_BAND_CAPABILITIES,
                   *(tlv(TRANSMIT_POWER_LEVEL_TABLE_ENTRY, struct.pack(">Hh", index, value))
                     for index, value in self.power_table), hopping, modes)
        regulatory = tlv(REGULATORY_CAPABILITIES, struct.pack(">HH", self.country_code, self.communications_standard),
                         band)
        c1g2 = tlv(C1G2_LLRP_CAPABILITIES, struct.pack(">BH", 0, 2))
        return status() + general + llrp + regulatory + c1g2


@dataclass
class TagSeen:
    """One TagReportData: the EPC and whichever fields the client's content selector asked for."""

    epc: bytes
    antenna_id: int | None = None
    peak_rssi: int | None = None
    channel_index: int | None = None
    first_seen_utc: int | None = None
    last_seen_utc: int | None = None
    seen_count: int | None = None
    rospec_id: int | None = None
    spec_index: int | None = None
    inventory_parameter_spec_id: int | None = None
    pc_bits: int | None = None

    def encode(self) -> bytes:
        if len(self.epc) == 12:
            body = bytes([0x80 | TV_EPC96]) + self.epc
        else:
            body = tlv(EPC_DATA, struct.pack(">H", len(self.epc) * 8), self.epc)
        # §16.2.7.3: the optional fields in this order
        for ptype, fmt, value in ((TV_ROSPEC_ID, "I", self.rospec_id), (TV_SPEC_INDEX, "H", self.spec_index),
                                  (TV_INVENTORY_PARAMETER_SPEC_ID, "H", self.inventory_parameter_spec_id),
                                  (TV_ANTENNA_ID, "H", self.antenna_id), (TV_PEAK_RSSI, "b", self.peak_rssi),
                                  (TV_CHANNEL_INDEX, "H", self.channel_index),
                                  (TV_FIRST_SEEN_UTC, "Q", self.first_seen_utc),
                                  (TV_LAST_SEEN_UTC, "Q", self.last_seen_utc),
                                  (TV_TAG_SEEN_COUNT, "H", self.seen_count), (TV_C1G2_PC, "H", self.pc_bits)):
            if value is not None:
                body += tv(ptype, fmt, value)
        return tlv(TAG_REPORT_DATA, body)


def ro_access_report(message_id: int, tags: list[TagSeen]) -> bytes:
    return message(RO_ACCESS_REPORT, message_id, b"".join(tag.encode() for tag in tags))
