"""Reader and antenna configuration parameters (§16.2.6, §16.2.7.1, §16.3.1.2): keepalives, report specs,
event selection, transmitter, Gen2 inventory settings."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar

from .encoding import (
    ANTENNA_CONFIGURATION,
    C1G2_EPC_MEMORY_SELECTOR,
    C1G2_INVENTORY_COMMAND,
    C1G2_RF_CONTROL,
    C1G2_SINGULATION_CONTROL,
    CUSTOM,
    EVENTS_AND_REPORTS,
    EVENT_NOTIFICATION_STATE,
    KEEPALIVE_SPEC,
    READER_EVENT_NOTIFICATION_SPEC,
    RF_RECEIVER,
    RF_TRANSMITTER,
    RO_REPORT_N_TAGS_OR_END_OF_AISPEC,
    RO_REPORT_SPEC,
    TAG_REPORT_CONTENT_SELECTOR,
    U16,
    U16_U16,
    U32,
    RawParam,
    iter_params,
    need,
    only_one,
    others,
    tlv,
)


@dataclass(frozen=True, slots=True)
class KeepaliveSpec:
    """Periodic KEEPALIVE messages every `period_ms` (0 = none)."""

    period_ms: int = 0

    def encode(self) -> bytes:
        return tlv(KEEPALIVE_SPEC, bytes([1 if self.period_ms else 0]) + U32.pack(self.period_ms))

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "KeepaliveSpec":
        need(data, pos, 5, end, "KeepaliveSpec")
        return cls(U32.unpack_from(data, pos + 1)[0] if data[pos] == 1 else 0)


@dataclass(frozen=True, slots=True)
class TagReportContentSelector:
    rospec_id: bool = False
    spec_index: bool = False
    inventory_parameter_spec_id: bool = False
    antenna_id: bool = True
    channel_index: bool = False
    peak_rssi: bool = True
    first_seen: bool = True
    last_seen: bool = False
    seen_count: bool = True
    access_spec_id: bool = False
    #: C1G2EPCMemorySelector (None = leave out)
    crc: bool | None = None
    pc_bits: bool | None = None

    _FLAGS: ClassVar[tuple[str, ...]] = ("rospec_id", "spec_index", "inventory_parameter_spec_id", "antenna_id",
                                         "channel_index", "peak_rssi", "first_seen", "last_seen", "seen_count",
                                         "access_spec_id")

    def encode(self) -> bytes:
        bits = 0
        for i, name in enumerate(self._FLAGS):
            if getattr(self, name):
                bits |= 1 << (15 - i)
        body = U16.pack(bits)
        if self.crc is not None or self.pc_bits is not None:
            body += tlv(C1G2_EPC_MEMORY_SELECTOR, bytes([(0x80 if self.crc else 0) | (0x40 if self.pc_bits else 0)]))
        return tlv(TAG_REPORT_CONTENT_SELECTOR, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "TagReportContentSelector":
        need(data, pos, 2, end, "TagReportContentSelector")
        (bits,) = U16.unpack_from(data, pos)
        flags = {name: bool(bits & (1 << (15 - i))) for i, name in enumerate(cls._FLAGS)}
        crc = pc = None
        for ptype, start, stop in iter_params(data, pos + 2, end, "TagReportContentSelector"):
            if ptype == C1G2_EPC_MEMORY_SELECTOR and ptype >= 128:
                need(data, start, 1, stop, "C1G2EPCMemorySelector")
                crc, pc = bool(data[start] & 0x80), bool(data[start] & 0x40)
        return cls(**flags, crc=crc, pc_bits=pc)


@dataclass(frozen=True, slots=True)
class ROReportSpec:
    """When the reader sends RO_ACCESS_REPORTs (`trigger`, every `n` tags) and what they hold."""

    trigger: int = RO_REPORT_N_TAGS_OR_END_OF_AISPEC
    n: int = 1
    content: TagReportContentSelector = field(default_factory=TagReportContentSelector)
    extra: tuple[RawParam, ...] = ()

    def encode(self) -> bytes:
        body = bytes([self.trigger]) + U16.pack(self.n) + self.content.encode()
        return tlv(RO_REPORT_SPEC, body + b"".join(p.encode() for p in self.extra))

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "ROReportSpec":
        need(data, pos, 3, end, "ROReportSpec")
        params = iter_params(data, pos + 3, end, "ROReportSpec")
        content = only_one(data, params, TAG_REPORT_CONTENT_SELECTOR, "ROReportSpec",
                        TagReportContentSelector.decode, required=True)
        return cls(data[pos], U16.unpack_from(data, pos + 1)[0], content,  # type: ignore[arg-type]
                   others(data, params, {TAG_REPORT_CONTENT_SELECTOR}, "ROReportSpec"))


@dataclass(frozen=True, slots=True)
class EventsAndReports:
    hold_on_reconnect: bool = False

    def encode(self) -> bytes:
        return tlv(EVENTS_AND_REPORTS, bytes([0x80 if self.hold_on_reconnect else 0]))

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "EventsAndReports":
        need(data, pos, 1, end, "EventsAndReports")
        return cls(bool(data[pos] & 0x80))


@dataclass(frozen=True, slots=True)
class ReaderEventNotificationSpec:
    """Which reader events to report: (NotificationEventType, on/off) pairs."""

    states: tuple[tuple[int, bool], ...] = ()

    def encode(self) -> bytes:
        body = b"".join(tlv(EVENT_NOTIFICATION_STATE, U16.pack(t) + bytes([0x80 if on else 0])) for t, on in self.states)
        return tlv(READER_EVENT_NOTIFICATION_SPEC, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "ReaderEventNotificationSpec":
        states = []
        for ptype, start, stop in iter_params(data, pos, end, "ReaderEventNotificationSpec"):
            if ptype == EVENT_NOTIFICATION_STATE and ptype >= 128:
                need(data, start, 3, stop, "EventNotificationState")
                states.append((U16.unpack_from(data, start)[0], bool(data[start + 2] & 0x80)))
        return cls(tuple(states))


# --- antenna and air-protocol settings ----------------------------------------------------

@dataclass(frozen=True, slots=True)
class RFTransmitter:
    hop_table_id: int = 1
    channel_index: int = 1
    #: index into the reader's TransmitPowerLevelTable, not dBm
    transmit_power: int = 1

    def encode(self) -> bytes:
        return tlv(RF_TRANSMITTER, U16.pack(self.hop_table_id) + U16.pack(self.channel_index) + U16.pack(self.transmit_power))

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "RFTransmitter":
        need(data, pos, 6, end, "RFTransmitter")
        return cls(*struct.unpack_from("!HHH", data, pos))


@dataclass(frozen=True, slots=True)
class C1G2RFControl:
    mode_index: int = 0
    tari: int = 0

    def encode(self) -> bytes:
        return tlv(C1G2_RF_CONTROL, U16_U16.pack(self.mode_index, self.tari))

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "C1G2RFControl":
        need(data, pos, 4, end, "C1G2RFControl")
        return cls(*U16_U16.unpack_from(data, pos))


@dataclass(frozen=True, slots=True)
class C1G2SingulationControl:
    session: int = 1
    tag_population: int = 32
    tag_transit_time: int = 0

    def encode(self) -> bytes:
        return tlv(C1G2_SINGULATION_CONTROL,
                   bytes([(self.session & 3) << 6]) + U16.pack(self.tag_population) + U32.pack(self.tag_transit_time))

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "C1G2SingulationControl":
        need(data, pos, 7, end, "C1G2SingulationControl")
        return cls(data[pos] >> 6, U16.unpack_from(data, pos + 1)[0], U32.unpack_from(data, pos + 3)[0])


@dataclass(frozen=True, slots=True)
class C1G2InventoryCommand:
    tag_inventory_state_aware: bool = False
    rf_control: C1G2RFControl | None = None
    singulation: C1G2SingulationControl | None = None
    #: C1G2Filter and vendor parameters (e.g. Impinj search mode), in order
    extra: tuple[RawParam, ...] = ()

    def encode(self) -> bytes:
        body = bytes([0x80 if self.tag_inventory_state_aware else 0])
        # spec order: C1G2Filter*, C1G2RFControl?, C1G2SingulationControl?, Custom*
        filters = [p for p in self.extra if p.type != CUSTOM]
        customs = [p for p in self.extra if p.type == CUSTOM]
        body += b"".join(p.encode() for p in filters)
        if self.rf_control:
            body += self.rf_control.encode()
        if self.singulation:
            body += self.singulation.encode()
        body += b"".join(p.encode() for p in customs)
        return tlv(C1G2_INVENTORY_COMMAND, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "C1G2InventoryCommand":
        need(data, pos, 1, end, "C1G2InventoryCommand")
        params = iter_params(data, pos + 1, end, "C1G2InventoryCommand")
        return cls(
            bool(data[pos] & 0x80),
            only_one(data, params, C1G2_RF_CONTROL, "C1G2InventoryCommand", C1G2RFControl.decode),  # type: ignore[arg-type]
            only_one(data, params, C1G2_SINGULATION_CONTROL, "C1G2InventoryCommand",
                  C1G2SingulationControl.decode),  # type: ignore[arg-type]
            others(data, params, {C1G2_RF_CONTROL, C1G2_SINGULATION_CONTROL}, "C1G2InventoryCommand"),
        )


@dataclass(frozen=True, slots=True)
class AntennaConfiguration:
    antenna_id: int = 0
    receiver_sensitivity: int | None = None
    transmitter: RFTransmitter | None = None
    inventory: tuple[C1G2InventoryCommand, ...] = ()
    extra: tuple[RawParam, ...] = ()

    def encode(self) -> bytes:
        body = U16.pack(self.antenna_id)
        if self.receiver_sensitivity is not None:
            body += tlv(RF_RECEIVER, U16.pack(self.receiver_sensitivity))
        if self.transmitter:
            body += self.transmitter.encode()
        body += b"".join(c.encode() for c in self.inventory)
        body += b"".join(p.encode() for p in self.extra)
        return tlv(ANTENNA_CONFIGURATION, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "AntennaConfiguration":
        need(data, pos, 2, end, "AntennaConfiguration")
        params = iter_params(data, pos + 2, end, "AntennaConfiguration")

        def receiver(d: bytes, s: int, e: int) -> int:
            need(d, s, 2, e, "RFReceiver")
            return U16.unpack_from(d, s)[0]

        return cls(
            U16.unpack_from(data, pos)[0],
            only_one(data, params, RF_RECEIVER, "AntennaConfiguration", receiver),  # type: ignore[arg-type]
            only_one(data, params, RF_TRANSMITTER, "AntennaConfiguration", RFTransmitter.decode),  # type: ignore[arg-type]
            tuple(C1G2InventoryCommand.decode(data, s, e) for t, s, e in params if t == C1G2_INVENTORY_COMMAND),
            others(data, params, {RF_RECEIVER, RF_TRANSMITTER, C1G2_INVENTORY_COMMAND}, "AntennaConfiguration"),
        )
