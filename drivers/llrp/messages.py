"""LLRP 1.0.1 messages and a sans-I/O connection: bytes in → messages out, messages → bytes.

Every message starts with a 10-byte header: 3 reserved bits, a 3-bit version (1 for LLRP 1.0.1),
a 10-bit message type, a 32-bit length that counts the header, and a 32-bit message ID that a
response echoes. `LlrpConnection` is h11-shaped: `receive_data(bytes)`, then `next_event()`
until it says NEED_DATA. A frame it cannot delimit (length below 10 or over the limit, a stream
cut mid-message) is a `LlrpProtocolError` and the connection is unusable afterwards; a
well-delimited frame whose body is bad comes out as a `BadMessage`, and the stream goes on.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, field
from typing import ClassVar, Iterator

from .encoding import iter_params, only_one, others
from .params import (
    ANTENNA_CONFIGURATION,
    CUSTOM,
    EVENTS_AND_REPORTS,
    GENERAL_DEVICE_CAPABILITIES,
    KEEPALIVE_SPEC,
    LLRP_CAPABILITIES,
    LLRP_STATUS,
    READER_EVENT_NOTIFICATION_DATA,
    READER_EVENT_NOTIFICATION_SPEC,
    REGULATORY_CAPABILITIES,
    ROSPEC,
    RO_REPORT_SPEC,
    TAG_REPORT_DATA,
    AntennaConfiguration,
    EventsAndReports,
    GeneralDeviceCapabilities,
    KeepaliveSpec,
    LlrpProtocolError,
    LlrpStatus,
    ROReportSpec,
    ROSpec,
    RawParam,
    ReaderEventNotificationData,
    ReaderEventNotificationSpec,
    RegulatoryCapabilities,
    TagReport,
    decode_tag_report,
    status_of,
)

HEADER = struct.Struct("!HII")
HEADER_SIZE = HEADER.size
LLRP_VERSION = 1
#: default ceiling for one message; an RO_ACCESS_REPORT with 100k tags stays well below it
MAX_MESSAGE_SIZE = 16 << 20

U32 = struct.Struct("!I")


@dataclass(frozen=True, slots=True)
class Message:
    """Base of all messages: `TYPE` is the LLRP message type, `message_id` the header ID."""

    TYPE: ClassVar[int] = -1
    message_id: int = field(default=0, kw_only=True)

    def body(self) -> bytes:
        return b""

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        if pos != end:
            raise LlrpProtocolError(f"{cls.__name__} has no body, got {end - pos} bytes")
        return cls(message_id=message_id)

    @property
    def name(self) -> str:
        return type(self).__name__


def _ordered(parts: list[tuple[int, bytes]], order: tuple[int, ...]) -> bytes:
    """Parameters in the order the spec lists them (readers may insist); unknowns before Custom."""
    rank = {t: i for i, t in enumerate(order)}
    unknown, custom = len(order), len(order) + 1
    return b"".join(p for _, p in sorted(parts, key=lambda tp: rank.get(tp[0], custom if tp[0] == CUSTOM else unknown)))


# --- messages with only an LLRPStatus (responses) ---------------------------------------------

@dataclass(frozen=True, slots=True)
class _StatusResponse(Message):
    status: LlrpStatus = field(default_factory=LlrpStatus)
    extra: tuple[RawParam, ...] = ()

    def body(self) -> bytes:
        return self.status.encode() + b"".join(p.encode() for p in self.extra)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        params = iter_params(data, pos, end, cls.__name__)
        return cls(status_of(data, params, cls.__name__), others(data, params, {LLRP_STATUS}, cls.__name__),
                   message_id=message_id)


@dataclass(frozen=True, slots=True)
class _ROSpecIdMessage(Message):
    #: 0 means "all ROSpecs" for DELETE/ENABLE/DISABLE
    rospec_id: int = 0

    def body(self) -> bytes:
        return U32.pack(self.rospec_id)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        if end - pos != 4:
            raise LlrpProtocolError(f"{cls.__name__}: body must be 4 bytes (ROSpecID), got {end - pos}")
        return cls(U32.unpack_from(data, pos)[0], message_id=message_id)


# --- capabilities and configuration --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GetReaderCapabilities(Message):
    TYPE: ClassVar[int] = 1
    #: 0 all, 1 general device, 2 LLRP, 3 regulatory, 4 air protocol
    requested_data: int = 0
    extra: tuple[RawParam, ...] = ()

    def body(self) -> bytes:
        return bytes([self.requested_data]) + b"".join(p.encode() for p in self.extra)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        if end - pos < 1:
            raise LlrpProtocolError("GET_READER_CAPABILITIES: RequestedData is missing")
        params = iter_params(data, pos + 1, end, "GET_READER_CAPABILITIES")
        return cls(data[pos], others(data, params, set(), "GET_READER_CAPABILITIES"), message_id=message_id)


@dataclass(frozen=True, slots=True)
class GetReaderCapabilitiesResponse(Message):
    TYPE: ClassVar[int] = 11
    status: LlrpStatus = field(default_factory=LlrpStatus)
    general: GeneralDeviceCapabilities | None = None
    regulatory: RegulatoryCapabilities | None = None
    #: LLRPCapabilities, C1G2LLRPCapabilities and vendor parameters, as received
    extra: tuple[RawParam, ...] = ()

    def body(self) -> bytes:
        parts = [(LLRP_STATUS, self.status.encode())]
        if self.general:
            parts.append((GENERAL_DEVICE_CAPABILITIES, self.general.encode()))
        if self.regulatory:
            parts.append((REGULATORY_CAPABILITIES, self.regulatory.encode()))
        parts += [(p.type, p.encode()) for p in self.extra]
        return _ordered(parts, (LLRP_STATUS, GENERAL_DEVICE_CAPABILITIES, LLRP_CAPABILITIES, REGULATORY_CAPABILITIES))

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        where = "GET_READER_CAPABILITIES_RESPONSE"
        params = iter_params(data, pos, end, where)
        return cls(
            status_of(data, params, where),
            only_one(data, params, GENERAL_DEVICE_CAPABILITIES, where, GeneralDeviceCapabilities.decode),  # type: ignore[arg-type]
            only_one(data, params, REGULATORY_CAPABILITIES, where, RegulatoryCapabilities.decode),  # type: ignore[arg-type]
            others(data, params, {LLRP_STATUS, GENERAL_DEVICE_CAPABILITIES, REGULATORY_CAPABILITIES}, where),
            message_id=message_id,
        )


@dataclass(frozen=True, slots=True)
class GetReaderConfig(Message):
    TYPE: ClassVar[int] = 2
    antenna_id: int = 0
    requested_data: int = 0
    gpi_port: int = 0
    gpo_port: int = 0

    def body(self) -> bytes:
        return struct.pack("!HBHH", self.antenna_id, self.requested_data, self.gpi_port, self.gpo_port)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        if end - pos < 7:
            raise LlrpProtocolError("GET_READER_CONFIG: body shorter than its 7 bytes of fields")
        iter_params(data, pos + 7, end, "GET_READER_CONFIG")
        return cls(*struct.unpack_from("!HBHH", data, pos), message_id=message_id)


# spec order of SET_READER_CONFIG / GET_READER_CONFIG_RESPONSE parameters
_CONFIG_ORDER = (LLRP_STATUS, 218, READER_EVENT_NOTIFICATION_SPEC, 221, ANTENNA_CONFIGURATION, RO_REPORT_SPEC, 239,
                 217, KEEPALIVE_SPEC, 219, 225, EVENTS_AND_REPORTS)
_CONFIG_ORDER_RESPONSE = (LLRP_STATUS, 218, 221, ANTENNA_CONFIGURATION, READER_EVENT_NOTIFICATION_SPEC, RO_REPORT_SPEC,
                          239, 217, KEEPALIVE_SPEC, 225, 219, EVENTS_AND_REPORTS)


@dataclass(frozen=True, slots=True)
class _ReaderConfig(Message):
    event_spec: ReaderEventNotificationSpec | None = None
    antenna_configurations: tuple[AntennaConfiguration, ...] = ()
    ro_report_spec: ROReportSpec | None = None
    keepalive: KeepaliveSpec | None = None
    events_and_reports: EventsAndReports | None = None
    #: AntennaProperties, AccessReportSpec, GPO/GPI state, Identification, vendor parameters
    extra: tuple[RawParam, ...] = ()

    def _parts(self) -> list[tuple[int, bytes]]:
        parts = []
        if self.event_spec:
            parts.append((READER_EVENT_NOTIFICATION_SPEC, self.event_spec.encode()))
        parts += [(ANTENNA_CONFIGURATION, a.encode()) for a in self.antenna_configurations]
        if self.ro_report_spec:
            parts.append((RO_REPORT_SPEC, self.ro_report_spec.encode()))
        if self.keepalive:
            parts.append((KEEPALIVE_SPEC, self.keepalive.encode()))
        if self.events_and_reports:
            parts.append((EVENTS_AND_REPORTS, self.events_and_reports.encode()))
        return parts + [(p.type, p.encode()) for p in self.extra]

    @staticmethod
    def _fields(data: bytes, params: list[tuple[int, int, int]], where: str) -> dict:
        return dict(
            event_spec=only_one(data, params, READER_EVENT_NOTIFICATION_SPEC, where, ReaderEventNotificationSpec.decode),
            antenna_configurations=tuple(AntennaConfiguration.decode(data, s, e)
                                         for t, s, e in params if t == ANTENNA_CONFIGURATION),
            ro_report_spec=only_one(data, params, RO_REPORT_SPEC, where, ROReportSpec.decode),
            keepalive=only_one(data, params, KEEPALIVE_SPEC, where, KeepaliveSpec.decode),
            events_and_reports=only_one(data, params, EVENTS_AND_REPORTS, where, EventsAndReports.decode),
            extra=others(data, params, {LLRP_STATUS, READER_EVENT_NOTIFICATION_SPEC, ANTENNA_CONFIGURATION,
                                         RO_REPORT_SPEC, KEEPALIVE_SPEC, EVENTS_AND_REPORTS}, where),
        )


@dataclass(frozen=True, slots=True)
class SetReaderConfig(_ReaderConfig):
    TYPE: ClassVar[int] = 3
    reset_to_factory_default: bool = False

    def body(self) -> bytes:
        return bytes([0x80 if self.reset_to_factory_default else 0]) + _ordered(self._parts(), _CONFIG_ORDER)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        if end - pos < 1:
            raise LlrpProtocolError("SET_READER_CONFIG: ResetToFactoryDefault is missing")
        params = iter_params(data, pos + 1, end, "SET_READER_CONFIG")
        return cls(**cls._fields(data, params, "SET_READER_CONFIG"),
                   reset_to_factory_default=bool(data[pos] & 0x80), message_id=message_id)


@dataclass(frozen=True, slots=True)
class GetReaderConfigResponse(_ReaderConfig):
    TYPE: ClassVar[int] = 12
    status: LlrpStatus = field(default_factory=LlrpStatus)

    def body(self) -> bytes:
        return _ordered([(LLRP_STATUS, self.status.encode())] + self._parts(), _CONFIG_ORDER_RESPONSE)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        where = "GET_READER_CONFIG_RESPONSE"
        params = iter_params(data, pos, end, where)
        return cls(**cls._fields(data, params, where), status=status_of(data, params, where), message_id=message_id)


@dataclass(frozen=True, slots=True)
class SetReaderConfigResponse(_StatusResponse):
    TYPE: ClassVar[int] = 13


# --- ROSpecs ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AddROSpec(Message):
    TYPE: ClassVar[int] = 20
    rospec: ROSpec = field(default_factory=ROSpec)

    def body(self) -> bytes:
        return self.rospec.encode()

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        params = iter_params(data, pos, end, "ADD_ROSPEC")
        if len(params) != 1 or params[0][0] != ROSPEC:
            raise LlrpProtocolError("ADD_ROSPEC must carry exactly one ROSpec")
        return cls(ROSpec.decode(data, params[0][1], params[0][2]), message_id=message_id)


@dataclass(frozen=True, slots=True)
class AddROSpecResponse(_StatusResponse):
    TYPE: ClassVar[int] = 30


@dataclass(frozen=True, slots=True)
class DeleteROSpec(_ROSpecIdMessage):
    TYPE: ClassVar[int] = 21


@dataclass(frozen=True, slots=True)
class DeleteROSpecResponse(_StatusResponse):
    TYPE: ClassVar[int] = 31


@dataclass(frozen=True, slots=True)
class StartROSpec(_ROSpecIdMessage):
    TYPE: ClassVar[int] = 22


@dataclass(frozen=True, slots=True)
class StartROSpecResponse(_StatusResponse):
    TYPE: ClassVar[int] = 32


@dataclass(frozen=True, slots=True)
class StopROSpec(_ROSpecIdMessage):
    TYPE: ClassVar[int] = 23


@dataclass(frozen=True, slots=True)
class StopROSpecResponse(_StatusResponse):
    TYPE: ClassVar[int] = 33


@dataclass(frozen=True, slots=True)
class EnableROSpec(_ROSpecIdMessage):
    TYPE: ClassVar[int] = 24


@dataclass(frozen=True, slots=True)
class EnableROSpecResponse(_StatusResponse):
    TYPE: ClassVar[int] = 34


@dataclass(frozen=True, slots=True)
class DisableROSpec(_ROSpecIdMessage):
    TYPE: ClassVar[int] = 25


@dataclass(frozen=True, slots=True)
class DisableROSpecResponse(_StatusResponse):
    TYPE: ClassVar[int] = 35


# --- reports, events, keepalives, closing ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GetReport(Message):
    TYPE: ClassVar[int] = 60


@dataclass(frozen=True, slots=True)
class ROAccessReport(Message):
    TYPE: ClassVar[int] = 61
    tags: tuple[TagReport, ...] = ()
    #: RFSurveyReportData and vendor parameters
    extra: tuple[RawParam, ...] = ()

    def body(self) -> bytes:
        return b"".join(t.encode() for t in self.tags) + b"".join(p.encode() for p in self.extra)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        tags: list[TagReport] = []
        extra: list[RawParam] = []
        unpack = struct.Struct("!HH").unpack_from
        while pos < end:
            if data[pos] & 0x80:
                raise LlrpProtocolError(f"RO_ACCESS_REPORT: unexpected TV parameter at offset {pos}")
            if pos + 4 > end:
                raise LlrpProtocolError(f"RO_ACCESS_REPORT: {end - pos} stray bytes at offset {pos}")
            header, length = unpack(data, pos)
            stop = pos + length
            if length < 4 or stop > end:
                raise LlrpProtocolError(f"RO_ACCESS_REPORT: bad parameter length {length} at offset {pos}")
            ptype = header & 0x3FF
            if ptype == TAG_REPORT_DATA:
                tags.append(decode_tag_report(data, pos + 4, stop))
            elif ptype < 128:
                raise LlrpProtocolError(f"RO_ACCESS_REPORT: TLV parameter at offset {pos} has reserved type {ptype}")
            else:
                extra.append(RawParam(ptype, data[pos + 4:stop]))
            pos = stop
        return cls(tuple(tags), tuple(extra), message_id=message_id)


@dataclass(frozen=True, slots=True)
class Keepalive(Message):
    TYPE: ClassVar[int] = 62


@dataclass(frozen=True, slots=True)
class KeepaliveAck(Message):
    TYPE: ClassVar[int] = 72


@dataclass(frozen=True, slots=True)
class ReaderEventNotification(Message):
    TYPE: ClassVar[int] = 63
    data: ReaderEventNotificationData = field(default_factory=lambda: ReaderEventNotificationData(0))

    def body(self) -> bytes:
        return self.data.encode()

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        params = iter_params(data, pos, end, "READER_EVENT_NOTIFICATION")
        return cls(only_one(data, params, READER_EVENT_NOTIFICATION_DATA, "READER_EVENT_NOTIFICATION",  # type: ignore[arg-type]
                         ReaderEventNotificationData.decode, required=True), message_id=message_id)


@dataclass(frozen=True, slots=True)
class EnableEventsAndReports(Message):
    TYPE: ClassVar[int] = 64


@dataclass(frozen=True, slots=True)
class CloseConnection(Message):
    TYPE: ClassVar[int] = 14


@dataclass(frozen=True, slots=True)
class CloseConnectionResponse(_StatusResponse):
    TYPE: ClassVar[int] = 4


@dataclass(frozen=True, slots=True)
class ErrorMessage(_StatusResponse):
    TYPE: ClassVar[int] = 100


@dataclass(frozen=True, slots=True)
class CustomMessage(Message):
    TYPE: ClassVar[int] = 1023
    vendor: int = 0
    subtype: int = 0
    data: bytes = b""

    def body(self) -> bytes:
        return U32.pack(self.vendor) + bytes([self.subtype]) + self.data

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int, message_id: int) -> "Message":
        if end - pos < 5:
            raise LlrpProtocolError("CUSTOM_MESSAGE: vendor and subtype need 5 bytes")
        return cls(U32.unpack_from(data, pos)[0], data[pos + 4], data[pos + 5:end], message_id=message_id)


@dataclass(frozen=True, slots=True)
class UnknownMessage(Message):
    """A well-formed message of a type this codec does not model (AccessSpec operations, ...)."""

    type: int = 0
    raw_body: bytes = b""

    def body(self) -> bytes:
        return self.raw_body


@dataclass(frozen=True, slots=True)
class BadMessage:
    """A frame whose header was fine but whose body (or version) is not valid LLRP."""

    type: int
    message_id: int
    version: int
    body: bytes
    error: str

    @property
    def name(self) -> str:
        return MESSAGE_TYPES[self.type].__name__ if self.type in MESSAGE_TYPES else f"message type {self.type}"


MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        GetReaderCapabilities, GetReaderCapabilitiesResponse, GetReaderConfig, GetReaderConfigResponse,
        SetReaderConfig, SetReaderConfigResponse, AddROSpec, AddROSpecResponse, DeleteROSpec, DeleteROSpecResponse,
        StartROSpec, StartROSpecResponse, StopROSpec, StopROSpecResponse, EnableROSpec, EnableROSpecResponse,
        DisableROSpec, DisableROSpecResponse, GetReport, ROAccessReport, Keepalive, KeepaliveAck,
        ReaderEventNotification, EnableEventsAndReports, CloseConnection, CloseConnectionResponse, ErrorMessage,
        CustomMessage,
    )
}


def encode_message(message: Message) -> bytes:
    """Header + body. The message ID is the message's `message_id`."""
    mtype = message.type if isinstance(message, UnknownMessage) else message.TYPE
    body = message.body()
    return HEADER.pack((LLRP_VERSION << 10) | (mtype & 0x3FF), HEADER_SIZE + len(body), message.message_id) + body


def decode_message(frame: bytes) -> Message | BadMessage:
    """One complete frame → a message, or `BadMessage` if its body is not valid.

    Raises LlrpProtocolError only if `frame` is not exactly one frame (the header's length).
    """
    if len(frame) < HEADER_SIZE:
        raise LlrpProtocolError(f"an LLRP message needs a {HEADER_SIZE}-byte header, got {len(frame)} bytes")
    word, length, message_id = HEADER.unpack_from(frame, 0)
    if length != len(frame):
        raise LlrpProtocolError(f"header says {length} bytes, frame has {len(frame)}")
    version = (word >> 10) & 0x7
    mtype = word & 0x3FF
    body = frame[HEADER_SIZE:]
    if version != LLRP_VERSION:
        return BadMessage(mtype, message_id, version, body, f"unsupported LLRP version {version}")
    cls = MESSAGE_TYPES.get(mtype)
    try:
        if cls is None:
            return UnknownMessage(mtype, body, message_id=message_id)
        return cls.from_body(frame, HEADER_SIZE, length, message_id)
    except LlrpProtocolError as exc:
        return BadMessage(mtype, message_id, version, body, str(exc))
    except (struct.error, IndexError, ValueError, OverflowError) as exc:  # a decoder gap; still total
        return BadMessage(mtype, message_id, version, body, f"{cls.__name__ if cls else mtype}: {exc}")


class _Sentinel:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA = _Sentinel("NEED_DATA")
CLOSED = _Sentinel("CLOSED")


class LlrpConnection:
    """Frames an LLRP byte stream (either direction) into messages. No I/O, no clocks."""

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE):
        self.max_message_size = max_message_size
        self._buffer = bytearray()
        self._eof = False
        self._error: str | None = None
        self._ids = itertools.count(1)

    def receive_data(self, data: bytes) -> None:
        """Bytes from the peer; b"" means the peer closed the stream."""
        if data:
            if self._eof:
                raise LlrpProtocolError("data received after the end of the stream")
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Message | BadMessage | _Sentinel:
        """The next message, NEED_DATA, or CLOSED once the peer closed cleanly between messages."""
        if self._error:
            raise LlrpProtocolError(self._error)
        buffer = self._buffer
        if len(buffer) < HEADER_SIZE:
            if self._eof:
                if buffer:
                    return self._fail(f"stream ended inside a message header ({len(buffer)} bytes)")
                return CLOSED
            return NEED_DATA
        word, length, _ = HEADER.unpack_from(buffer, 0)
        if length < HEADER_SIZE:
            return self._fail(f"message length {length} is shorter than the header (type {word & 0x3FF})")
        if length > self.max_message_size:
            return self._fail(f"message length {length} exceeds the {self.max_message_size}-byte limit")
        if len(buffer) < length:
            if self._eof:
                return self._fail(f"stream ended inside a message ({len(buffer)} of {length} bytes)")
            return NEED_DATA
        frame = bytes(buffer[:length])
        del buffer[:length]
        return decode_message(frame)

    def events(self) -> Iterator[Message | BadMessage]:
        """Every complete message buffered so far."""
        while True:
            event = self.next_event()
            if event is NEED_DATA or event is CLOSED:
                return
            yield event  # type: ignore[misc]

    @property
    def closed(self) -> bool:
        return self._eof and not self._buffer

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def next_message_id(self) -> int:
        return next(self._ids) & 0xFFFFFFFF

    @staticmethod
    def send(message: Message) -> bytes:
        return encode_message(message)

    def _fail(self, error: str) -> _Sentinel:
        self._error = error
        raise LlrpProtocolError(error)


__all__ = [
    "CLOSED", "NEED_DATA", "AddROSpec", "AddROSpecResponse", "BadMessage", "CloseConnection",
    "CloseConnectionResponse", "CustomMessage", "DeleteROSpec", "DeleteROSpecResponse", "DisableROSpec",
    "DisableROSpecResponse", "EnableEventsAndReports", "EnableROSpec", "EnableROSpecResponse", "ErrorMessage",
    "GetReaderCapabilities", "GetReaderCapabilitiesResponse", "GetReaderConfig", "GetReaderConfigResponse",
    "GetReport", "Keepalive", "KeepaliveAck", "LlrpConnection", "LlrpProtocolError", "MESSAGE_TYPES", "Message",
    "ROAccessReport", "ReaderEventNotification", "SetReaderConfig", "SetReaderConfigResponse", "StartROSpec",
    "StartROSpecResponse", "StopROSpec", "StopROSpecResponse", "UnknownMessage", "decode_message",
    "encode_message",
]
