"""LLRP 1.0.1 binary parameter encoding: type numbers, TLV/TV framing, and the helpers all parameters share.

Layouts and type numbers follow the LLRP 1.0.1 specification (§16.2) as machine-read in the
LLRP Toolkit definition llrp-1x0-def.xml. TLV parameters carry a 16-bit header (6 reserved bits,
10-bit type) and a 16-bit length that includes the header; TV parameters are one byte (high
bit set, 7-bit type) followed by a fixed-size value.

Decoders are total: any bytes give values or `LlrpProtocolError` with a plain message. Unknown
TLV parameters are kept as `RawParam` (vendor extensions are legal almost everywhere); an unknown
TV parameter cannot be skipped (its size is unknown), so it is an error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable


# --- parameter type numbers (LLRP 1.0.1 §16.2) ----------------------------------------------

ANTENNA_ID = 1
FIRST_SEEN_UTC = 2
FIRST_SEEN_UPTIME = 3
LAST_SEEN_UTC = 4
LAST_SEEN_UPTIME = 5
PEAK_RSSI = 6
CHANNEL_INDEX = 7
TAG_SEEN_COUNT = 8
ROSPEC_ID = 9
INVENTORY_PARAMETER_SPEC_ID = 10
C1G2_CRC = 11
C1G2_PC = 12
EPC_96 = 13
SPEC_INDEX = 14
CLIENT_REQUEST_OPSPEC_RESULT = 15
ACCESS_SPEC_ID = 16
OPSPEC_ID = 17
C1G2_SINGULATION_DETAILS = 18
C1G2_XPCW1 = 19
C1G2_XPCW2 = 20

UTC_TIMESTAMP = 128
UPTIME = 129
GENERAL_DEVICE_CAPABILITIES = 137
RECEIVE_SENSITIVITY_TABLE_ENTRY = 139
PER_ANTENNA_AIR_PROTOCOL = 140
GPIO_CAPABILITIES = 141
LLRP_CAPABILITIES = 142
REGULATORY_CAPABILITIES = 143
UHF_BAND_CAPABILITIES = 144
TRANSMIT_POWER_LEVEL_TABLE_ENTRY = 145
FREQUENCY_INFORMATION = 146
FREQUENCY_HOP_TABLE = 147
ROSPEC = 177
RO_BOUNDARY_SPEC = 178
ROSPEC_START_TRIGGER = 179
PERIODIC_TRIGGER_VALUE = 180
GPI_TRIGGER_VALUE = 181
ROSPEC_STOP_TRIGGER = 182
AI_SPEC = 183
AI_SPEC_STOP_TRIGGER = 184
TAG_OBSERVATION_TRIGGER = 185
INVENTORY_PARAMETER_SPEC = 186
KEEPALIVE_SPEC = 220
ANTENNA_CONFIGURATION = 222
RF_RECEIVER = 223
RF_TRANSMITTER = 224
EVENTS_AND_REPORTS = 226
RO_REPORT_SPEC = 237
TAG_REPORT_CONTENT_SELECTOR = 238
TAG_REPORT_DATA = 240
EPC_DATA = 241
READER_EVENT_NOTIFICATION_SPEC = 244
EVENT_NOTIFICATION_STATE = 245
READER_EVENT_NOTIFICATION_DATA = 246
HOPPING_EVENT = 247
GPI_EVENT = 248
ROSPEC_EVENT = 249
READER_EXCEPTION_EVENT = 252
AI_SPEC_EVENT = 254
ANTENNA_EVENT = 255
CONNECTION_ATTEMPT_EVENT = 256
CONNECTION_CLOSE_EVENT = 257
LLRP_STATUS = 287
FIELD_ERROR = 288
PARAMETER_ERROR = 289
C1G2_UHF_RF_MODE_TABLE = 328
C1G2_UHF_RF_MODE_TABLE_ENTRY = 329
C1G2_INVENTORY_COMMAND = 330
C1G2_RF_CONTROL = 335
C1G2_SINGULATION_CONTROL = 336
C1G2_EPC_MEMORY_SELECTOR = 348
CUSTOM = 1023

PARAM_NAMES: dict[int, str] = {
    ANTENNA_ID: "AntennaID", FIRST_SEEN_UTC: "FirstSeenTimestampUTC", PEAK_RSSI: "PeakRSSI", EPC_96: "EPC-96",
    UTC_TIMESTAMP: "UTCTimestamp", UPTIME: "Uptime", GENERAL_DEVICE_CAPABILITIES: "GeneralDeviceCapabilities",
    LLRP_CAPABILITIES: "LLRPCapabilities", REGULATORY_CAPABILITIES: "RegulatoryCapabilities",
    UHF_BAND_CAPABILITIES: "UHFBandCapabilities", ROSPEC: "ROSpec", RO_BOUNDARY_SPEC: "ROBoundarySpec",
    ROSPEC_START_TRIGGER: "ROSpecStartTrigger", PERIODIC_TRIGGER_VALUE: "PeriodicTriggerValue",
    GPI_TRIGGER_VALUE: "GPITriggerValue", ROSPEC_STOP_TRIGGER: "ROSpecStopTrigger", AI_SPEC: "AISpec",
    AI_SPEC_STOP_TRIGGER: "AISpecStopTrigger", TAG_OBSERVATION_TRIGGER: "TagObservationTrigger",
    INVENTORY_PARAMETER_SPEC: "InventoryParameterSpec", KEEPALIVE_SPEC: "KeepaliveSpec",
    ANTENNA_CONFIGURATION: "AntennaConfiguration", RF_RECEIVER: "RFReceiver", RF_TRANSMITTER: "RFTransmitter",
    EVENTS_AND_REPORTS: "EventsAndReports", RO_REPORT_SPEC: "ROReportSpec",
    TAG_REPORT_CONTENT_SELECTOR: "TagReportContentSelector", TAG_REPORT_DATA: "TagReportData", EPC_DATA: "EPCData",
    READER_EVENT_NOTIFICATION_SPEC: "ReaderEventNotificationSpec",
    READER_EVENT_NOTIFICATION_DATA: "ReaderEventNotificationData", LLRP_STATUS: "LLRPStatus",
    FIELD_ERROR: "FieldError", PARAMETER_ERROR: "ParameterError", C1G2_INVENTORY_COMMAND: "C1G2InventoryCommand",
    C1G2_RF_CONTROL: "C1G2RFControl", C1G2_SINGULATION_CONTROL: "C1G2SingulationControl", CUSTOM: "Custom",
}


def param_name(ptype: int) -> str:
    name = PARAM_NAMES.get(ptype)
    return f"{name} ({ptype})" if name else f"parameter type {ptype}"


# value sizes of the TV parameters (§16.2.7.3, §16.3.1.x)
TV_SIZES: dict[int, int] = {
    ANTENNA_ID: 2, FIRST_SEEN_UTC: 8, FIRST_SEEN_UPTIME: 8, LAST_SEEN_UTC: 8, LAST_SEEN_UPTIME: 8,
    PEAK_RSSI: 1, CHANNEL_INDEX: 2, TAG_SEEN_COUNT: 2, ROSPEC_ID: 4, INVENTORY_PARAMETER_SPEC_ID: 2,
    C1G2_CRC: 2, C1G2_PC: 2, EPC_96: 12, SPEC_INDEX: 2, CLIENT_REQUEST_OPSPEC_RESULT: 2,
    ACCESS_SPEC_ID: 4, OPSPEC_ID: 2, C1G2_SINGULATION_DETAILS: 4, C1G2_XPCW1: 2, C1G2_XPCW2: 2,
}


# --- status codes (§14.1.2.1 / StatusCode enumeration) --------------------------------------

STATUS_NAMES: dict[int, str] = {
    0: "M_Success", 100: "M_ParameterError", 101: "M_FieldError", 102: "M_UnexpectedParameter",
    103: "M_MissingParameter", 104: "M_DuplicateParameter", 105: "M_OverflowParameter",
    106: "M_OverflowField", 107: "M_UnknownParameter", 108: "M_UnknownField", 109: "M_UnsupportedMessage",
    110: "M_UnsupportedVersion", 111: "M_UnsupportedParameter", 200: "P_ParameterError",
    201: "P_FieldError", 202: "P_UnexpectedParameter", 203: "P_MissingParameter",
    204: "P_DuplicateParameter", 205: "P_OverflowParameter", 206: "P_OverflowField",
    207: "P_UnknownParameter", 208: "P_UnknownField", 209: "P_UnsupportedParameter",
    300: "A_Invalid", 301: "A_OutOfRange", 401: "R_DeviceError",
}

CONNECTION_ATTEMPT_STATUS = {
    0: "Success",
    1: "Failed (a reader-initiated connection already exists)",
    2: "Failed (a client-initiated connection already exists)",
    3: "Failed (reason other than a connection already existing)",
    4: "Another connection attempted",
}

# enumerations used by the gateway
RO_REPORT_NONE = 0
RO_REPORT_N_TAGS_OR_END_OF_AISPEC = 1
RO_REPORT_N_TAGS_OR_END_OF_ROSPEC = 2
START_TRIGGER_NULL, START_TRIGGER_IMMEDIATE, START_TRIGGER_PERIODIC, START_TRIGGER_GPI = 0, 1, 2, 3
STOP_TRIGGER_NULL, STOP_TRIGGER_DURATION, STOP_TRIGGER_GPI = 0, 1, 2
AISPEC_STOP_NULL, AISPEC_STOP_DURATION, AISPEC_STOP_GPI, AISPEC_STOP_TAG_OBSERVATION = 0, 1, 2, 3
ROSPEC_DISABLED, ROSPEC_INACTIVE, ROSPEC_ACTIVE = 0, 1, 2
AIR_PROTOCOL_EPC_C1G2 = 1
# NotificationEventType
EVENT_HOPPING, EVENT_GPI, EVENT_ROSPEC, EVENT_BUFFER_WARNING, EVENT_READER_EXCEPTION = 0, 1, 2, 3, 4
EVENT_RF_SURVEY, EVENT_AISPEC, EVENT_AISPEC_DETAILS, EVENT_ANTENNA = 5, 6, 7, 8

VENDOR_IMPINJ = 25882
IMPINJ_INVENTORY_SEARCH_MODE = 23

MAX_NESTING = 16


class LlrpProtocolError(ValueError):
    """Bytes that are not valid LLRP; the message says what and where."""


# --- primitive helpers ------------------------------------------------------------------------

U16 = struct.Struct("!H")
U16_U16 = struct.Struct("!HH")
U32 = struct.Struct("!I")
U64 = struct.Struct("!Q")


def tlv(ptype: int, body: bytes) -> bytes:
    """One TLV parameter: header + body (length counts the 4 header bytes)."""
    length = 4 + len(body)
    if length > 0xFFFF:
        raise ValueError(f"parameter {ptype} too long for LLRP ({length} bytes)")
    return U16_U16.pack(ptype & 0x3FF, length) + body


def need(data: bytes, pos: int, size: int, end: int, what: str) -> None:
    if pos + size > end:
        raise LlrpProtocolError(f"{what}: needs {size} bytes at offset {pos}, only {max(end - pos, 0)} left")


def read_utf8v(data: bytes, pos: int, end: int, what: str) -> tuple[str, int]:
    need(data, pos, 2, end, what)
    (count,) = U16.unpack_from(data, pos)
    need(data, pos + 2, count, end, what)
    return data[pos + 2:pos + 2 + count].decode("utf-8", "replace"), pos + 2 + count


def utf8v(text: str) -> bytes:
    raw = text.encode("utf-8")
    return U16.pack(len(raw)) + raw


def iter_params(data: bytes, pos: int, end: int, where: str) -> list[tuple[int, int, int]]:
    """Split `data[pos:end]` into parameters: (type, value start, parameter end).

    Types below 128 are TV parameters (LLRP reserves TLV types 0-127 for them), so callers
    can tell the two encodings apart by the type alone.
    """
    out: list[tuple[int, int, int]] = []
    while pos < end:
        first = data[pos]
        if first & 0x80:
            ptype = first & 0x7F
            size = TV_SIZES.get(ptype)
            if size is None:
                raise LlrpProtocolError(f"{where}: unknown TV parameter type {ptype} at offset {pos}")
            stop = pos + 1 + size
            if stop > end:
                raise LlrpProtocolError(f"{where}: TV parameter {ptype} truncated at offset {pos}")
            out.append((ptype, pos + 1, stop))
            pos = stop
            continue
        if pos + 4 > end:
            raise LlrpProtocolError(f"{where}: {end - pos} stray bytes at offset {pos}")
        header, length = U16_U16.unpack_from(data, pos)
        ptype = header & 0x3FF
        if ptype < 128:
            raise LlrpProtocolError(f"{where}: TLV parameter at offset {pos} has reserved type {ptype}")
        if length < 4:
            raise LlrpProtocolError(f"{where}: parameter length {length} at offset {pos} is below 4")
        stop = pos + length
        if stop > end:
            raise LlrpProtocolError(
                f"{where}: {param_name(ptype)} at offset {pos} claims {length} bytes, only {end - pos} left")
        out.append((ptype, pos + 4, stop))
        pos = stop
    return out


@dataclass(frozen=True, slots=True)
class RawParam:
    """A TLV parameter this codec does not model (vendor extensions, optional reports)."""

    type: int
    body: bytes

    def encode(self) -> bytes:
        return tlv(self.type, self.body)

    @property
    def vendor(self) -> int | None:
        return U32.unpack_from(self.body, 0)[0] if self.type == CUSTOM and len(self.body) >= 8 else None

    @property
    def subtype(self) -> int | None:
        return U32.unpack_from(self.body, 4)[0] if self.type == CUSTOM and len(self.body) >= 8 else None


def custom_param(vendor: int, subtype: int, data: bytes) -> RawParam:
    """A Custom parameter (§16.2.9): vendor PEN, subtype, vendor data."""
    return RawParam(CUSTOM, U32.pack(vendor) + U32.pack(subtype) + data)


def only_one(data: bytes, params: list[tuple[int, int, int]], ptype: int, where: str,
          decode: Callable[[bytes, int, int], object], required: bool = False) -> object | None:
    found = [p for p in params if p[0] == ptype]
    if len(found) > 1:
        raise LlrpProtocolError(f"{where}: {param_name(ptype)} appears {len(found)} times")
    if not found:
        if required:
            raise LlrpProtocolError(f"{where}: required {param_name(ptype)} is missing")
        return None
    _, start, stop = found[0]
    return decode(data, start, stop)


def others(data: bytes, params: list[tuple[int, int, int]], known: set[int], where: str) -> tuple[RawParam, ...]:
    extra = []
    for ptype, start, stop in params:
        if ptype in known:
            continue
        if ptype < 128:
            raise LlrpProtocolError(f"{where}: unexpected TV parameter {ptype}")
        extra.append(RawParam(ptype, data[start:stop]))
    return tuple(extra)
