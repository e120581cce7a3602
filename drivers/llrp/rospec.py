"""ROSpec (§16.2.4): when a reader inventories (triggers), with which antennas (AISpec) and how it reports."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .encoding import (
    AIR_PROTOCOL_EPC_C1G2,
    AISPEC_STOP_NULL,
    AI_SPEC,
    AI_SPEC_STOP_TRIGGER,
    ANTENNA_CONFIGURATION,
    CUSTOM,
    GPI_TRIGGER_VALUE,
    INVENTORY_PARAMETER_SPEC,
    PERIODIC_TRIGGER_VALUE,
    ROSPEC,
    ROSPEC_DISABLED,
    ROSPEC_START_TRIGGER,
    ROSPEC_STOP_TRIGGER,
    RO_BOUNDARY_SPEC,
    RO_REPORT_SPEC,
    START_TRIGGER_NULL,
    STOP_TRIGGER_NULL,
    TAG_OBSERVATION_TRIGGER,
    U16,
    U32,
    LlrpProtocolError,
    RawParam,
    iter_params,
    need,
    only_one,
    others,
    tlv,
)
from .reader_config import AntennaConfiguration, ROReportSpec


@dataclass(frozen=True, slots=True)
class GPITriggerValue:
    port: int
    event: bool
    timeout_ms: int = 0

    def encode(self) -> bytes:
        return tlv(GPI_TRIGGER_VALUE, U16.pack(self.port) + bytes([0x80 if self.event else 0]) + U32.pack(self.timeout_ms))

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "GPITriggerValue":
        need(data, pos, 7, end, "GPITriggerValue")
        return cls(U16.unpack_from(data, pos)[0], bool(data[pos + 2] & 0x80), U32.unpack_from(data, pos + 3)[0])


@dataclass(frozen=True, slots=True)
class ROSpecStartTrigger:
    trigger_type: int = START_TRIGGER_NULL
    #: (offset ms, period ms) for a Periodic trigger
    periodic: tuple[int, int] | None = None
    gpi: GPITriggerValue | None = None

    def encode(self) -> bytes:
        body = bytes([self.trigger_type])
        if self.periodic is not None:
            body += tlv(PERIODIC_TRIGGER_VALUE, U32.pack(self.periodic[0]) + U32.pack(self.periodic[1]))
        if self.gpi:
            body += self.gpi.encode()
        return tlv(ROSPEC_START_TRIGGER, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "ROSpecStartTrigger":
        need(data, pos, 1, end, "ROSpecStartTrigger")
        params = iter_params(data, pos + 1, end, "ROSpecStartTrigger")

        def periodic(d: bytes, s: int, e: int) -> tuple[int, int]:
            need(d, s, 8, e, "PeriodicTriggerValue")
            return U32.unpack_from(d, s)[0], U32.unpack_from(d, s + 4)[0]

        return cls(data[pos],
                   only_one(data, params, PERIODIC_TRIGGER_VALUE, "ROSpecStartTrigger", periodic),  # type: ignore[arg-type]
                   only_one(data, params, GPI_TRIGGER_VALUE, "ROSpecStartTrigger", GPITriggerValue.decode))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ROSpecStopTrigger:
    trigger_type: int = STOP_TRIGGER_NULL
    duration_ms: int = 0
    gpi: GPITriggerValue | None = None

    def encode(self) -> bytes:
        body = bytes([self.trigger_type]) + U32.pack(self.duration_ms)
        if self.gpi:
            body += self.gpi.encode()
        return tlv(ROSPEC_STOP_TRIGGER, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "ROSpecStopTrigger":
        need(data, pos, 5, end, "ROSpecStopTrigger")
        params = iter_params(data, pos + 5, end, "ROSpecStopTrigger")
        return cls(data[pos], U32.unpack_from(data, pos + 1)[0],
                   only_one(data, params, GPI_TRIGGER_VALUE, "ROSpecStopTrigger", GPITriggerValue.decode))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class TagObservationTrigger:
    trigger_type: int
    number_of_tags: int = 0
    number_of_attempts: int = 0
    t: int = 0
    timeout_ms: int = 0

    def encode(self) -> bytes:
        return tlv(TAG_OBSERVATION_TRIGGER, struct.pack("!BBHHHI", self.trigger_type, 0, self.number_of_tags,
                                                         self.number_of_attempts, self.t, self.timeout_ms))

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "TagObservationTrigger":
        need(data, pos, 12, end, "TagObservationTrigger")
        ttype, _, tags, attempts, t, timeout = struct.unpack_from("!BBHHHI", data, pos)
        return cls(ttype, tags, attempts, t, timeout)


@dataclass(frozen=True, slots=True)
class AISpecStopTrigger:
    trigger_type: int = AISPEC_STOP_NULL
    duration_ms: int = 0
    gpi: GPITriggerValue | None = None
    tag_observation: TagObservationTrigger | None = None

    def encode(self) -> bytes:
        body = bytes([self.trigger_type]) + U32.pack(self.duration_ms)
        if self.gpi:
            body += self.gpi.encode()
        if self.tag_observation:
            body += self.tag_observation.encode()
        return tlv(AI_SPEC_STOP_TRIGGER, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "AISpecStopTrigger":
        need(data, pos, 5, end, "AISpecStopTrigger")
        params = iter_params(data, pos + 5, end, "AISpecStopTrigger")
        return cls(data[pos], U32.unpack_from(data, pos + 1)[0],
                   only_one(data, params, GPI_TRIGGER_VALUE, "AISpecStopTrigger", GPITriggerValue.decode),  # type: ignore[arg-type]
                   only_one(data, params, TAG_OBSERVATION_TRIGGER, "AISpecStopTrigger",
                         TagObservationTrigger.decode))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class InventoryParameterSpec:
    spec_id: int = 1
    protocol_id: int = AIR_PROTOCOL_EPC_C1G2
    antenna_configurations: tuple[AntennaConfiguration, ...] = ()
    extra: tuple[RawParam, ...] = ()

    def encode(self) -> bytes:
        body = U16.pack(self.spec_id) + bytes([self.protocol_id])
        body += b"".join(a.encode() for a in self.antenna_configurations)
        body += b"".join(p.encode() for p in self.extra)
        return tlv(INVENTORY_PARAMETER_SPEC, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "InventoryParameterSpec":
        need(data, pos, 3, end, "InventoryParameterSpec")
        params = iter_params(data, pos + 3, end, "InventoryParameterSpec")
        return cls(
            U16.unpack_from(data, pos)[0], data[pos + 2],
            tuple(AntennaConfiguration.decode(data, s, e) for t, s, e in params if t == ANTENNA_CONFIGURATION),
            others(data, params, {ANTENNA_CONFIGURATION}, "InventoryParameterSpec"),
        )


@dataclass(frozen=True, slots=True)
class AISpec:
    #: antenna IDs; (0,) means every antenna
    antenna_ids: tuple[int, ...] = (0,)
    stop_trigger: AISpecStopTrigger = field(default_factory=AISpecStopTrigger)
    inventory_specs: tuple[InventoryParameterSpec, ...] = (InventoryParameterSpec(),)
    extra: tuple[RawParam, ...] = ()

    def encode(self) -> bytes:
        body = U16.pack(len(self.antenna_ids)) + b"".join(U16.pack(a) for a in self.antenna_ids)
        body += self.stop_trigger.encode()
        body += b"".join(s.encode() for s in self.inventory_specs)
        body += b"".join(p.encode() for p in self.extra)
        return tlv(AI_SPEC, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "AISpec":
        need(data, pos, 2, end, "AISpec")
        (count,) = U16.unpack_from(data, pos)
        need(data, pos + 2, 2 * count, end, "AISpec antenna list")
        antennas = struct.unpack_from(f"!{count}H", data, pos + 2)
        params = iter_params(data, pos + 2 + 2 * count, end, "AISpec")
        specs = tuple(InventoryParameterSpec.decode(data, s, e) for t, s, e in params if t == INVENTORY_PARAMETER_SPEC)
        if not specs:
            raise LlrpProtocolError("AISpec: no InventoryParameterSpec")
        return cls(
            antennas,
            only_one(data, params, AI_SPEC_STOP_TRIGGER, "AISpec", AISpecStopTrigger.decode, required=True),  # type: ignore[arg-type]
            specs,
            others(data, params, {AI_SPEC_STOP_TRIGGER, INVENTORY_PARAMETER_SPEC}, "AISpec"),
        )


@dataclass(frozen=True, slots=True)
class ROSpec:
    rospec_id: int = 1
    priority: int = 0
    current_state: int = ROSPEC_DISABLED
    start_trigger: ROSpecStartTrigger = field(default_factory=ROSpecStartTrigger)
    stop_trigger: ROSpecStopTrigger = field(default_factory=ROSpecStopTrigger)
    ai_specs: tuple[AISpec, ...] = (AISpec(),)
    report_spec: ROReportSpec | None = None
    #: RFSurveySpec, LoopSpec (LLRP 1.1) or vendor parameters
    extra: tuple[RawParam, ...] = ()

    def encode(self) -> bytes:
        body = U32.pack(self.rospec_id) + bytes([self.priority, self.current_state])
        body += tlv(RO_BOUNDARY_SPEC, self.start_trigger.encode() + self.stop_trigger.encode())
        body += b"".join(a.encode() for a in self.ai_specs)
        body += b"".join(p.encode() for p in self.extra if p.type != CUSTOM)
        if self.report_spec:
            body += self.report_spec.encode()
        body += b"".join(p.encode() for p in self.extra if p.type == CUSTOM)
        return tlv(ROSPEC, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "ROSpec":
        need(data, pos, 6, end, "ROSpec")
        params = iter_params(data, pos + 6, end, "ROSpec")

        def boundary(d: bytes, s: int, e: int) -> tuple[ROSpecStartTrigger, ROSpecStopTrigger]:
            inner = iter_params(d, s, e, "ROBoundarySpec")
            return (only_one(d, inner, ROSPEC_START_TRIGGER, "ROBoundarySpec", ROSpecStartTrigger.decode, True),  # type: ignore[return-value]
                    only_one(d, inner, ROSPEC_STOP_TRIGGER, "ROBoundarySpec", ROSpecStopTrigger.decode, True))

        start, stop = only_one(data, params, RO_BOUNDARY_SPEC, "ROSpec", boundary, required=True)  # type: ignore[misc]
        return cls(
            U32.unpack_from(data, pos)[0], data[pos + 4], data[pos + 5], start, stop,
            tuple(AISpec.decode(data, s, e) for t, s, e in params if t == AI_SPEC),
            only_one(data, params, RO_REPORT_SPEC, "ROSpec", ROReportSpec.decode),  # type: ignore[arg-type]
            others(data, params, {RO_BOUNDARY_SPEC, AI_SPEC, RO_REPORT_SPEC}, "ROSpec"),
        )
