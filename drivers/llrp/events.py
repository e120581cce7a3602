"""READER_EVENT_NOTIFICATION content (§16.2.7.6): connection, antenna, ROSpec and reader exception events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .encoding import (
    AI_SPEC_EVENT,
    ANTENNA_EVENT,
    CONNECTION_ATTEMPT_EVENT,
    CONNECTION_CLOSE_EVENT,
    GPI_EVENT,
    READER_EVENT_NOTIFICATION_DATA,
    READER_EXCEPTION_EVENT,
    ROSPEC_EVENT,
    U16,
    U32,
    U64,
    UPTIME,
    UTC_TIMESTAMP,
    LlrpProtocolError,
    RawParam,
    iter_params,
    need,
    read_utf8v,
    tlv,
    utf8v,
)


@dataclass(frozen=True, slots=True)
class ConnectionAttemptEvent:
    status: int = 0

    TYPE: ClassVar[int] = CONNECTION_ATTEMPT_EVENT

    def body(self) -> bytes:
        return U16.pack(self.status)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int) -> "ConnectionAttemptEvent":
        need(data, pos, 2, end, "ConnectionAttemptEvent")
        return cls(U16.unpack_from(data, pos)[0])


@dataclass(frozen=True, slots=True)
class ConnectionCloseEvent:
    TYPE: ClassVar[int] = CONNECTION_CLOSE_EVENT

    def body(self) -> bytes:
        return b""

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int) -> "ConnectionCloseEvent":
        return cls()


@dataclass(frozen=True, slots=True)
class AntennaEvent:
    connected: bool
    antenna_id: int

    TYPE: ClassVar[int] = ANTENNA_EVENT

    def body(self) -> bytes:
        return bytes([1 if self.connected else 0]) + U16.pack(self.antenna_id)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int) -> "AntennaEvent":
        need(data, pos, 3, end, "AntennaEvent")
        return cls(data[pos] == 1, U16.unpack_from(data, pos + 1)[0])


@dataclass(frozen=True, slots=True)
class GpiEvent:
    port: int
    state: bool

    TYPE: ClassVar[int] = GPI_EVENT

    def body(self) -> bytes:
        return U16.pack(self.port) + bytes([0x80 if self.state else 0])

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int) -> "GpiEvent":
        need(data, pos, 3, end, "GPIEvent")
        return cls(U16.unpack_from(data, pos)[0], bool(data[pos + 2] & 0x80))


@dataclass(frozen=True, slots=True)
class ROSpecEvent:
    event_type: int  # 0 start, 1 end, 2 preempted
    rospec_id: int
    preempting_rospec_id: int = 0

    TYPE: ClassVar[int] = ROSPEC_EVENT

    def body(self) -> bytes:
        return bytes([self.event_type]) + U32.pack(self.rospec_id) + U32.pack(self.preempting_rospec_id)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int) -> "ROSpecEvent":
        need(data, pos, 9, end, "ROSpecEvent")
        return cls(data[pos], U32.unpack_from(data, pos + 1)[0], U32.unpack_from(data, pos + 5)[0])


@dataclass(frozen=True, slots=True)
class ReaderExceptionEvent:
    message: str

    TYPE: ClassVar[int] = READER_EXCEPTION_EVENT

    def body(self) -> bytes:
        return utf8v(self.message)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int) -> "ReaderExceptionEvent":
        return cls(read_utf8v(data, pos, end, "ReaderExceptionEvent")[0])


@dataclass(frozen=True, slots=True)
class AISpecEvent:
    event_type: int
    rospec_id: int
    spec_index: int

    TYPE: ClassVar[int] = AI_SPEC_EVENT

    def body(self) -> bytes:
        return bytes([self.event_type]) + U32.pack(self.rospec_id) + U16.pack(self.spec_index)

    @classmethod
    def from_body(cls, data: bytes, pos: int, end: int) -> "AISpecEvent":
        need(data, pos, 7, end, "AISpecEvent")
        return cls(data[pos], U32.unpack_from(data, pos + 1)[0], U16.unpack_from(data, pos + 5)[0])


EVENT_TYPES = {c.TYPE: c for c in (ConnectionAttemptEvent, ConnectionCloseEvent, AntennaEvent, GpiEvent,
                                   ROSpecEvent, ReaderExceptionEvent, AISpecEvent)}
ReaderEvent = (ConnectionAttemptEvent | ConnectionCloseEvent | AntennaEvent | GpiEvent | ROSpecEvent
               | ReaderExceptionEvent | AISpecEvent | RawParam)


@dataclass(frozen=True, slots=True)
class ReaderEventNotificationData:
    """When (µs since the epoch, or since boot if `uptime`) and what happened."""

    timestamp_us: int
    events: tuple[ReaderEvent, ...] = ()
    uptime: bool = False

    def encode(self) -> bytes:
        body = tlv(UPTIME if self.uptime else UTC_TIMESTAMP, U64.pack(self.timestamp_us))
        for event in self.events:
            body += event.encode() if isinstance(event, RawParam) else tlv(event.TYPE, event.body())
        return tlv(READER_EVENT_NOTIFICATION_DATA, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "ReaderEventNotificationData":
        params = iter_params(data, pos, end, "ReaderEventNotificationData")
        timestamp: int | None = None
        uptime = False
        events: list[ReaderEvent] = []
        for ptype, start, stop in params:
            if ptype in (UTC_TIMESTAMP, UPTIME) and ptype >= 128:
                need(data, start, 8, stop, "Timestamp")
                timestamp = U64.unpack_from(data, start)[0]
                uptime = ptype == UPTIME
            elif ptype in EVENT_TYPES and ptype >= 128:
                events.append(EVENT_TYPES[ptype].from_body(data, start, stop))
            elif ptype < 128:
                raise LlrpProtocolError(f"ReaderEventNotificationData: unexpected TV parameter {ptype}")
            else:
                events.append(RawParam(ptype, data[start:stop]))
        if timestamp is None:
            raise LlrpProtocolError("ReaderEventNotificationData: timestamp is missing")
        return cls(timestamp, tuple(events), uptime)

    def event(self, kind: type) -> object | None:
        return next((e for e in self.events if isinstance(e, kind)), None)
