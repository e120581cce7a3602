"""What a client asks an LLRP reader, decoded by the reader (LLRP 1.0.1 §15-16, independently of
drivers/llrp): the ROSpec and reader configuration the simulator acts on, and nothing more.

Parameters the simulator does not act on are skipped by their length, as a reader that does not
implement an optional feature would; a parameter that does not fit its parent is a RequestError.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from simulators import llrp_wire as w


class RequestError(ValueError):
    """A message body that does not decode; the reader answers with an ERROR_MESSAGE."""


def params(data: bytes, where: str) -> list[tuple[int, bytes]]:
    """(type, value) of each TLV parameter in `data`."""
    out, pos = [], 0
    while pos < len(data):
        if data[pos] & 0x80:
            raise RequestError(f"{where}: unexpected TV parameter {data[pos] & 0x7F}")
        if len(data) - pos < 4:
            raise RequestError(f"{where}: {len(data) - pos} stray bytes")
        ptype, length = struct.unpack_from(">HH", data, pos)
        if length < 4 or pos + length > len(data):
            raise RequestError(f"{where}: parameter {ptype & 0x3FF} claims {length} bytes")
        out.append((ptype & 0x3FF, data[pos + 4:pos + length]))
        pos += length
    return out


def fields(fmt: str, data: bytes, where: str) -> tuple:
    size = struct.calcsize(">" + fmt)
    if len(data) < size:
        raise RequestError(f"{where}: {len(data)} bytes, needs {size}")
    return struct.unpack_from(">" + fmt, data)


def one(found: list[tuple[int, bytes]], ptype: int) -> bytes | None:
    return next((value for kind, value in found if kind == ptype), None)


# --- the model ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContentSelector:
    rospec_id: bool = False
    spec_index: bool = False
    inventory_parameter_spec_id: bool = False
    antenna_id: bool = False
    channel_index: bool = False
    peak_rssi: bool = False
    first_seen: bool = False
    last_seen: bool = False
    seen_count: bool = False
    access_spec_id: bool = False
    pc_bits: bool = False


@dataclass(frozen=True)
class ReportSpec:
    trigger: int = 0
    n: int = 1
    content: ContentSelector = ContentSelector(antenna_id=True, peak_rssi=True, first_seen=True, seen_count=True)


@dataclass(frozen=True)
class Custom:
    vendor: int
    subtype: int
    data: bytes


@dataclass(frozen=True)
class Singulation:
    session: int
    tag_population: int
    tag_transit_time: int


@dataclass(frozen=True)
class InventoryCommand:
    state_aware: bool
    singulation: Singulation | None
    extra: tuple[Custom, ...] = ()


@dataclass(frozen=True)
class Transmitter:
    hop_table_id: int
    channel_index: int
    transmit_power: int


@dataclass(frozen=True)
class AntennaConfiguration:
    antenna_id: int
    transmitter: Transmitter | None = None
    inventory: tuple[InventoryCommand, ...] = ()


@dataclass(frozen=True)
class InventorySpec:
    spec_id: int
    protocol_id: int
    antenna_configurations: tuple[AntennaConfiguration, ...] = ()


@dataclass(frozen=True)
class AISpec:
    antenna_ids: tuple[int, ...]
    inventory_specs: tuple[InventorySpec, ...]


@dataclass(frozen=True)
class ROSpec:
    rospec_id: int
    priority: int
    current_state: int
    start_trigger: int
    stop_trigger: int
    duration_ms: int
    ai_specs: tuple[AISpec, ...]
    report_spec: ReportSpec | None = None


@dataclass(frozen=True)
class ReaderConfig:
    reset_to_factory_default: bool = False
    antenna_ids: tuple[int, ...] = ()
    keepalive_ms: int | None = None
    report_spec: ReportSpec | None = None


# --- decoding -----------------------------------------------------------------------------------

def report_spec(value: bytes) -> ReportSpec:
    trigger, n = fields("BH", value, "ROReportSpec")
    inner = params(value[3:], "ROReportSpec")
    selector = one(inner, w.TAG_REPORT_CONTENT_SELECTOR)
    if selector is None:
        raise RequestError("ROReportSpec: no TagReportContentSelector")
    (bits,) = fields("H", selector, "TagReportContentSelector")
    names = ("rospec_id", "spec_index", "inventory_parameter_spec_id", "antenna_id", "channel_index", "peak_rssi",
             "first_seen", "last_seen", "seen_count", "access_spec_id")
    flags = {name: bool(bits & (0x8000 >> i)) for i, name in enumerate(names)}
    memory = one(params(selector[2:], "TagReportContentSelector"), w.C1G2_EPC_MEMORY_SELECTOR)
    flags["pc_bits"] = bool(memory and memory[0] & 0x40)
    return ReportSpec(trigger, n, ContentSelector(**flags))


def custom(value: bytes) -> Custom:
    vendor, subtype = fields("II", value, "Custom")
    return Custom(vendor, subtype, value[8:])


def inventory_command(value: bytes) -> InventoryCommand:
    (flags,) = fields("B", value, "C1G2InventoryCommand")
    inner = params(value[1:], "C1G2InventoryCommand")
    singulation = one(inner, w.C1G2_SINGULATION_CONTROL)
    if singulation is not None:
        session, population, transit = fields("BHI", singulation, "C1G2SingulationControl")
        singulation = Singulation(session >> 6, population, transit)
    return InventoryCommand(bool(flags & 0x80), singulation,
                            tuple(custom(v) for kind, v in inner if kind == w.CUSTOM))


def antenna_configuration(value: bytes) -> AntennaConfiguration:
    (antenna,) = fields("H", value, "AntennaConfiguration")
    inner = params(value[2:], "AntennaConfiguration")
    transmitter = one(inner, w.RF_TRANSMITTER)
    return AntennaConfiguration(
        antenna, Transmitter(*fields("HHH", transmitter, "RFTransmitter")) if transmitter is not None else None,
        tuple(inventory_command(v) for kind, v in inner if kind == w.C1G2_INVENTORY_COMMAND))


def ai_spec(value: bytes) -> AISpec:
    (count,) = fields("H", value, "AISpec")
    antennas = fields("H" * (count + 1), value, "AISpec")[1:]
    inner = params(value[2 + 2 * count:], "AISpec")
    specs = []
    for kind, v in inner:
        if kind == w.INVENTORY_PARAMETER_SPEC:
            spec_id, protocol = fields("HB", v, "InventoryParameterSpec")
            configs = tuple(antenna_configuration(c) for k, c in params(v[3:], "InventoryParameterSpec")
                            if k == w.ANTENNA_CONFIGURATION)
            specs.append(InventorySpec(spec_id, protocol, configs))
    return AISpec(tuple(antennas), tuple(specs))


def rospec(value: bytes) -> ROSpec:
    rospec_id, priority, state = fields("IBB", value, "ROSpec")
    inner = params(value[6:], "ROSpec")
    boundary = one(inner, w.RO_BOUNDARY_SPEC)
    if boundary is None:
        raise RequestError("ROSpec: no ROBoundarySpec")
    triggers = params(boundary, "ROBoundarySpec")
    start, stop = one(triggers, w.ROSPEC_START_TRIGGER), one(triggers, w.ROSPEC_STOP_TRIGGER)
    if start is None or stop is None:
        raise RequestError("ROBoundarySpec: needs a start and a stop trigger")
    (start_type,) = fields("B", start, "ROSpecStartTrigger")
    stop_type, duration = fields("BI", stop, "ROSpecStopTrigger")
    report = one(inner, w.RO_REPORT_SPEC)
    return ROSpec(rospec_id, priority, state, start_type, stop_type, duration,
                  tuple(ai_spec(v) for kind, v in inner if kind == w.AI_SPEC),
                  report_spec(report) if report is not None else None)


def add_rospec(body: bytes) -> ROSpec:
    found = one(params(body, "ADD_ROSPEC"), w.ROSPEC)
    if found is None:
        raise RequestError("ADD_ROSPEC: no ROSpec")
    return rospec(found)


def set_reader_config(body: bytes) -> ReaderConfig:
    (flags,) = fields("B", body, "SET_READER_CONFIG")
    inner = params(body[1:], "SET_READER_CONFIG")
    keepalive = one(inner, w.KEEPALIVE_SPEC)
    report = one(inner, w.RO_REPORT_SPEC)
    return ReaderConfig(
        reset_to_factory_default=bool(flags & 0x80),
        antenna_ids=tuple(fields("H", v, "AntennaConfiguration")[0] for kind, v in inner
                          if kind == w.ANTENNA_CONFIGURATION),
        keepalive_ms=fields("BI", keepalive, "KeepaliveSpec")[1] if keepalive is not None else None,
        report_spec=report_spec(report) if report is not None else None,
    )


def rospec_id(body: bytes, where: str) -> int:
    return fields("I", body, where)[0]
