"""An LLRP 1.0.1 fixed reader on a TCP port, speaking the real protocol (drivers.llrp codec).

It answers what a gateway sends (capabilities, reader config, ROSpec lifecycle, GET_REPORT,
keepalive acks, close), sends KEEPALIVEs and RO_ACCESS_REPORTs per the client's ROReportSpec,
and plays scenarios: a pallet of SGTIN-96 cases passing a dock door (outside antennas first,
then inside), a tag lingering at the edge of range, a steady tag population for benchmarks,
and a reader reboot (the connection drops, connects are refused, then it comes back).

    with LlrpReaderSimulator(port=0, scenario=PalletPass(cases=50)) as sim:
        ... connect to ("127.0.0.1", sim.port) ...
"""

from __future__ import annotations

import argparse
import errno
import random
import select
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Protocol

from drivers.llrp.messages import (
    AddROSpec,
    AddROSpecResponse,
    BadMessage,
    CloseConnection,
    CloseConnectionResponse,
    CustomMessage,
    DeleteROSpec,
    DeleteROSpecResponse,
    DisableROSpec,
    DisableROSpecResponse,
    EnableEventsAndReports,
    EnableROSpec,
    EnableROSpecResponse,
    ErrorMessage,
    GetReaderCapabilities,
    GetReaderCapabilitiesResponse,
    GetReaderConfig,
    GetReaderConfigResponse,
    GetReport,
    Keepalive,
    KeepaliveAck,
    LlrpConnection,
    Message,
    ReaderEventNotification,
    ROAccessReport,
    SetReaderConfig,
    SetReaderConfigResponse,
    StartROSpec,
    StartROSpecResponse,
    StopROSpec,
    StopROSpecResponse,
    UnknownMessage,
    encode_message,
)
from drivers.llrp.params import (
    AIR_PROTOCOL_EPC_C1G2,
    LLRP_CAPABILITIES,
    ROSPEC_ACTIVE,
    ROSPEC_DISABLED,
    ROSPEC_INACTIVE,
    START_TRIGGER_IMMEDIATE,
    STOP_TRIGGER_DURATION,
    VENDOR_IMPINJ,
    ConnectionAttemptEvent,
    GpiEvent,
    GeneralDeviceCapabilities,
    KeepaliveSpec,
    LlrpProtocolError,
    LlrpStatus,
    ParameterError,
    RawParam,
    ReaderEventNotificationData,
    RegulatoryCapabilities,
    ROReportSpec,
    ROSpec,
    TagReport,
    TagReportContentSelector,
    c1g2_rf_mode_table,
    frequency_information,
)

# --- EPCs ---------------------------------------------------------------------------------------

# SGTIN-96 partition table: company prefix digits -> (partition, prefix bits, item reference bits)
_SGTIN_PARTITIONS = {12: (0, 40, 4), 11: (1, 37, 7), 10: (2, 34, 10), 9: (3, 30, 14), 8: (4, 27, 17),
                     7: (5, 24, 20), 6: (6, 20, 24)}


def sgtin96(company_prefix: str, item_ref: str, serial: int, filter_value: int = 1) -> bytes:
    """An SGTIN-96 EPC (TDS §14.5.1): header 0x30, filter, partition, prefix, item ref, serial."""
    if len(company_prefix) + len(item_ref) != 13:
        raise ValueError("company prefix + item reference (with indicator) must be 13 digits")
    partition, prefix_bits, item_bits = _SGTIN_PARTITIONS[len(company_prefix)]
    value = 0x30
    for bits, field_value in ((3, filter_value), (3, partition), (prefix_bits, int(company_prefix)),
                              (item_bits, int(item_ref)), (38, serial)):
        value = (value << bits) | field_value
    return value.to_bytes(12, "big")


# --- scenarios ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sighting:
    """A tag an antenna can see now: RSSI range (dBm) and the chance one inventory attempt reads it."""

    epc: bytes
    antenna: int
    rssi: tuple[int, int] = (-60, -45)
    probability: float = 1.0


class Scenario(Protocol):
    def sightings(self, t: float) -> list[Sighting]:
        """What is in the field `t` seconds after the inventory started."""


@dataclass
class PalletPass:
    """A pallet of `cases` SGTIN-96 cases driven through a dock door, again every pass + gap.

    direction "in" (receiving): the outside antennas see it first, then both, then the inside
    ones. "out" (shipping): the reverse. Each pass carries new serial numbers.
    """

    cases: int = 24
    company_prefix: str = "0614141"
    item_ref: str = "812345"
    outside: tuple[int, ...] = (1,)
    inside: tuple[int, ...] = (2,)
    direction: str = "in"
    pass_s: float = 3.0
    gap_s: float = 3.0
    first_serial: int = 1
    passes: int | None = None
    _cache: dict[int, list[bytes]] = field(default_factory=dict, repr=False)

    def epcs(self, index: int) -> list[bytes]:
        if index not in self._cache:
            base = self.first_serial + index * self.cases
            self._cache = {index: [sgtin96(self.company_prefix, self.item_ref, base + i, 2) for i in range(self.cases)]}
        return self._cache[index]

    def sightings(self, t: float) -> list[Sighting]:
        period = self.pass_s + self.gap_s
        index = int(t // period)
        if self.passes is not None and index >= self.passes:
            return []
        phase = (t - index * period) / self.pass_s
        if phase >= 1.0:
            return []
        first, second = (self.outside, self.inside) if self.direction == "in" else (self.inside, self.outside)
        antennas = first if phase < 1 / 3 else (first + second if phase < 2 / 3 else second)
        return [Sighting(epc, antenna, (-58, -44)) for epc in self.epcs(index) for antenna in antennas]


@dataclass
class LingeringTag:
    """One tag at the edge of the field: weak, and read only now and then."""

    epc: bytes = field(default_factory=lambda: sgtin96("0614141", "812345", 274877906943, 1))
    antennas: tuple[int, ...] = (1,)
    rssi: tuple[int, int] = (-84, -76)
    probability: float = 0.05

    def sightings(self, t: float) -> list[Sighting]:
        return [Sighting(self.epc, a, self.rssi, self.probability) for a in self.antennas]


@dataclass
class TagPopulation:
    """`count` tags always in view of every listed antenna (static shelves; the benchmark load)."""

    count: int = 100
    antennas: tuple[int, ...] = (1, 2, 3, 4)
    company_prefix: str = "0614141"
    item_ref: str = "812345"
    first_serial: int = 1_000_000
    rssi: tuple[int, int] = (-65, -45)
    _sightings: list[Sighting] = field(default_factory=list, repr=False)

    def sightings(self, t: float) -> list[Sighting]:
        if not self._sightings:
            epcs = [sgtin96(self.company_prefix, self.item_ref, self.first_serial + i, 1) for i in range(self.count)]
            self._sightings = [Sighting(e, a, self.rssi) for e in epcs for a in self.antennas]
        return self._sightings


@dataclass
class Mix:
    parts: tuple[Scenario, ...] = ()

    def sightings(self, t: float) -> list[Sighting]:
        return [s for part in self.parts for s in part.sightings(t)]


# --- the reader ---------------------------------------------------------------------------------

DEFAULT_CONTENT = TagReportContentSelector(antenna_id=True, peak_rssi=True, first_seen=True, seen_count=True)
# Impinj-like power table: index 1 = 10.00 dBm, then 0.25 dB steps to 30.00 dBm
POWER_TABLE = tuple((i, 1000 + 25 * (i - 1)) for i in range(1, 82))
TICK_S = 0.005


def _status(code: int, description: str, param_type: int | None = None) -> LlrpStatus:
    return LlrpStatus(code, description, parameter_error=ParameterError(param_type, code) if param_type else None)


@dataclass
class _Spec:
    rospec: ROSpec
    state: int = ROSPEC_DISABLED
    started: float = 0.0


class _Session:
    """One client connection: protocol state, inventory and reporting."""

    def __init__(self, sim: "LlrpReaderSimulator", sock: socket.socket):
        self.sim = sim
        self.sock = sock
        self.conn = LlrpConnection()
        self.specs: dict[int, _Spec] = {}
        self.keepalive_s = 0.0
        self.next_keepalive = float("inf")
        self.report_spec = ROReportSpec(n=1, content=DEFAULT_CONTENT)
        self.buffer: dict[tuple[bytes, int], TagReport] = {}
        self.budget = 0.0
        self.cursor = 0
        self.last_tick = time.monotonic()
        self.ids = 1 << 20
        self.out = bytearray()
        self.closing = False

    # outgoing
    def send(self, message: Message) -> None:
        self.out += encode_message(message)

    def reply(self, request: Message, response: Message) -> None:
        self.send(replace(response, message_id=request.message_id))

    def next_id(self) -> int:
        self.ids += 1
        return self.ids

    def flush_out(self) -> None:
        if self.out:
            data, self.out = bytes(self.out), bytearray()
            self.sock.sendall(data)

    # incoming
    def handle(self, message: Message | BadMessage) -> None:
        sim = self.sim
        sim.stats["messages_received"] += 1
        if isinstance(message, BadMessage):
            code = 110 if "version" in message.error else 100
            self.send(ErrorMessage(_status(code, message.error), message_id=message.message_id))
            return
        if isinstance(message, GetReaderCapabilities):
            self.reply(message, sim.capabilities())
        elif isinstance(message, GetReaderConfig):
            self.reply(message, GetReaderConfigResponse(keepalive=KeepaliveSpec(int(self.keepalive_s * 1000)),
                                                        ro_report_spec=self.report_spec))
        elif isinstance(message, SetReaderConfig):
            self.reply(message, SetReaderConfigResponse(self._set_config(message)))
        elif isinstance(message, AddROSpec):
            self.reply(message, AddROSpecResponse(self._add(message.rospec)))
        elif isinstance(message, EnableROSpec):
            self.reply(message, EnableROSpecResponse(self._each(message.rospec_id, self._enable)))
        elif isinstance(message, StartROSpec):
            self.reply(message, StartROSpecResponse(self._each(message.rospec_id, self._start, allow_all=False)))
        elif isinstance(message, StopROSpec):
            self.reply(message, StopROSpecResponse(self._each(message.rospec_id, self._stop, allow_all=False)))
        elif isinstance(message, DisableROSpec):
            self.reply(message, DisableROSpecResponse(self._each(message.rospec_id, self._disable)))
        elif isinstance(message, DeleteROSpec):
            self.reply(message, DeleteROSpecResponse(self._each(message.rospec_id, self._delete)))
        elif isinstance(message, GetReport):
            self._report(force=True, empty_ok=True)
        elif isinstance(message, KeepaliveAck):
            sim.stats["keepalive_acks"] += 1
        elif isinstance(message, EnableEventsAndReports):
            pass
        elif isinstance(message, CloseConnection):
            self.reply(message, CloseConnectionResponse())
            self.closing = True
        elif (isinstance(message, CustomMessage) and sim.manufacturer == VENDOR_IMPINJ
              and message.vendor == VENDOR_IMPINJ and message.subtype == 21):
            # IMPINJ_ENABLE_EXTENSIONS -> IMPINJ_ENABLE_EXTENSIONS_RESPONSE
            self.reply(message, CustomMessage(vendor=VENDOR_IMPINJ, subtype=22, data=LlrpStatus().encode()))
        elif isinstance(message, (CustomMessage, UnknownMessage)):
            self.send(ErrorMessage(_status(109, f"{message.name} is not supported by this reader"),
                                   message_id=message.message_id))
        else:
            self.send(ErrorMessage(_status(109, f"{message.name} is not accepted from a client"),
                                   message_id=message.message_id))

    def _set_config(self, message: SetReaderConfig) -> LlrpStatus:
        if message.reset_to_factory_default:
            self.keepalive_s, self.report_spec = 0.0, ROReportSpec(n=1, content=DEFAULT_CONTENT)
        for config in message.antenna_configurations:
            if config.antenna_id > self.sim.antennas:
                return _status(301, f"antenna {config.antenna_id} does not exist", 222)
        if message.keepalive is not None:
            self.keepalive_s = message.keepalive.period_ms / 1000.0
            self.next_keepalive = time.monotonic() + self.keepalive_s if self.keepalive_s else float("inf")
        if message.ro_report_spec is not None:
            self.report_spec = message.ro_report_spec
        return LlrpStatus()

    def _add(self, rospec: ROSpec) -> LlrpStatus:
        if rospec.rospec_id == 0:
            return _status(301, "ROSpecID 0 is reserved", 177)
        if rospec.rospec_id in self.specs:
            return _status(300, f"ROSpec {rospec.rospec_id} already exists", 177)
        if rospec.current_state != ROSPEC_DISABLED:
            return _status(300, "a new ROSpec must be Disabled", 177)
        if not rospec.ai_specs:
            return _status(203, "ROSpec has no AISpec", 177)
        for ai in rospec.ai_specs:
            for antenna in ai.antenna_ids:
                if antenna > self.sim.antennas:
                    return _status(301, f"antenna {antenna} does not exist (reader has {self.sim.antennas})", 183)
            for inventory in ai.inventory_specs:
                if inventory.protocol_id != AIR_PROTOCOL_EPC_C1G2:
                    return _status(301, f"air protocol {inventory.protocol_id} is not supported", 186)
                for config in inventory.antenna_configurations:
                    if config.antenna_id > self.sim.antennas:
                        return _status(301, f"antenna {config.antenna_id} does not exist", 222)
                    if config.transmitter and not 1 <= config.transmitter.transmit_power <= len(POWER_TABLE):
                        return _status(301, f"transmit power index {config.transmitter.transmit_power} is not in "
                                            f"the power table (1-{len(POWER_TABLE)})", 224)
        self.specs[rospec.rospec_id] = _Spec(rospec)
        return LlrpStatus()

    def _each(self, rospec_id: int, action, allow_all: bool = True) -> LlrpStatus:
        if rospec_id == 0 and allow_all:
            for spec_id in list(self.specs):
                action(spec_id)
            return LlrpStatus()
        if rospec_id not in self.specs:
            return _status(300, f"no ROSpec {rospec_id}")
        return action(rospec_id) or LlrpStatus()

    def _enable(self, spec_id: int) -> LlrpStatus | None:
        spec = self.specs[spec_id]
        if spec.state == ROSPEC_DISABLED:
            spec.state = ROSPEC_INACTIVE
            if spec.rospec.start_trigger.trigger_type == START_TRIGGER_IMMEDIATE:
                self._start(spec_id)
        return None

    def _start(self, spec_id: int) -> LlrpStatus | None:
        spec = self.specs[spec_id]
        if spec.state == ROSPEC_DISABLED:
            return _status(300, f"ROSpec {spec_id} is not enabled")
        if spec.state != ROSPEC_ACTIVE:
            spec.state = ROSPEC_ACTIVE
            spec.started = time.monotonic()
            self.sim.inventory_started(spec.started)
        return None

    def _stop(self, spec_id: int) -> LlrpStatus | None:
        spec = self.specs[spec_id]
        if spec.state != ROSPEC_ACTIVE:
            return _status(300, f"ROSpec {spec_id} is not active")
        self._report(force=True)
        spec.state = ROSPEC_INACTIVE
        return None

    def _disable(self, spec_id: int) -> LlrpStatus | None:
        if self.specs[spec_id].state == ROSPEC_ACTIVE:
            self._stop(spec_id)
        self.specs[spec_id].state = ROSPEC_DISABLED
        return None

    def _delete(self, spec_id: int) -> LlrpStatus | None:
        if self.specs[spec_id].state == ROSPEC_ACTIVE:
            self._stop(spec_id)
        del self.specs[spec_id]
        return None

    # inventory
    def active(self) -> _Spec | None:
        return next((s for s in self.specs.values() if s.state == ROSPEC_ACTIVE), None)

    def tick(self, now: float) -> None:
        if now >= self.next_keepalive:
            self.send(Keepalive(message_id=self.next_id()))
            self.sim.stats["keepalives_sent"] += 1
            self.next_keepalive = now + self.keepalive_s
        dt, self.last_tick = now - self.last_tick, now
        spec = self.active()
        if spec is None:
            self.budget = 0.0
            return
        stop = spec.rospec.stop_trigger
        if stop.trigger_type == STOP_TRIGGER_DURATION and now - spec.started >= stop.duration_ms / 1000.0:
            self._report(force=True)
            spec.state = ROSPEC_INACTIVE
            return
        rate = self.sim.rate
        self.budget = min(self.budget + rate * dt, max(rate * 0.1, 1.0))
        attempts = int(self.budget)
        if attempts <= 0:
            return
        self.budget -= attempts
        antennas = set()
        for ai in spec.rospec.ai_specs:
            antennas.update(range(1, self.sim.antennas + 1) if 0 in ai.antenna_ids else ai.antenna_ids)
        sightings = [s for s in self.sim.scenario_sightings(now) if s.antenna in antennas]
        if not sightings:
            return
        rng = self.sim.rng
        report_spec = spec.rospec.report_spec or self.report_spec
        n = report_spec.n
        wall_us = int(time.time() * 1e6)
        for _ in range(attempts):
            sighting = sightings[self.cursor % len(sightings)]
            self.cursor += 1
            if sighting.probability < 1.0 and rng.random() >= sighting.probability:
                continue
            self._observe(sighting, rng.randint(*sighting.rssi), wall_us, spec.rospec.rospec_id, report_spec)
            if n and len(self.buffer) >= n:
                self._report(force=False)

    def _observe(self, sighting: Sighting, rssi: int, wall_us: int, rospec_id: int, spec: ROReportSpec) -> None:
        self.sim.stats["tag_reads"] += 1
        content = spec.content
        key = (sighting.epc, sighting.antenna if content.antenna_id else 0)
        known = self.buffer.get(key)
        if known is not None:
            if content.seen_count:
                known.seen_count = (known.seen_count or 0) + 1
            if content.peak_rssi:
                known.peak_rssi = max(known.peak_rssi or -128, rssi)
            if content.last_seen:
                known.last_seen_utc = wall_us
            return
        self.buffer[key] = TagReport(
            sighting.epc,
            antenna_id=sighting.antenna if content.antenna_id else None,
            peak_rssi=rssi if content.peak_rssi else None,
            channel_index=1 + self.cursor % 50 if content.channel_index else None,
            first_seen_utc=wall_us if content.first_seen else None,
            last_seen_utc=wall_us if content.last_seen else None,
            seen_count=1 if content.seen_count else None,
            rospec_id=rospec_id if content.rospec_id else None,
            spec_index=1 if content.spec_index else None,
            inventory_parameter_spec_id=1 if content.inventory_parameter_spec_id else None,
            pc_bits=0x3000 if content.pc_bits else None,
        )

    def _report(self, force: bool, empty_ok: bool = False) -> None:
        """Send what is buffered: when N tags are in (N > 0), or at the end of the inventory."""
        spec = self.active()
        n = (spec.rospec.report_spec if spec and spec.rospec.report_spec else self.report_spec).n
        if not (force or (n and len(self.buffer) >= n)):
            return
        if not self.buffer and not empty_ok:
            return
        tags = tuple(self.buffer.values())
        self.buffer.clear()
        self.send(ROAccessReport(tags, message_id=self.next_id()))
        self.sim.stats["reports_sent"] += 1
        self.sim.stats["tags_reported"] += len(tags)


class LlrpReaderSimulator:
    """A reader on `host:port` (port 0 picks a free one; see `.port` after start())."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, scenario: Scenario | None = None,
                 rate: float = 500.0, antennas: int = 4, manufacturer: int = 0, model: int = 1,
                 firmware: str = "tally-sim 1.0", seed: int = 0):
        self.host = host
        self._requested_port = port
        self.port = port
        self.scenario: Scenario = scenario if scenario is not None else PalletPass()
        self.rate = rate
        self.antennas = antennas
        self.manufacturer = manufacturer
        self.model = model
        self.firmware = firmware
        self.rng = random.Random(seed)
        self.stats = {k: 0 for k in ("connections", "refused", "messages_received", "reports_sent", "tags_reported",
                                     "tag_reads", "keepalives_sent", "keepalive_acks")}
        self._listener: socket.socket | None = None
        self._session: _Session | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._hung_until = 0.0
        self._drop_now = False
        self._epoch: float | None = None
        self._gpi: list[tuple[int, bool]] = []

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> "LlrpReaderSimulator":
        self._listen()
        self._running.set()
        self._thread = threading.Thread(target=self._loop, name=f"llrp-sim:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._close_session()
        self._close_listener()

    def __enter__(self) -> "LlrpReaderSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def connected(self) -> bool:
        return self._session is not None

    @property
    def inventorying(self) -> bool:
        session = self._session
        return session is not None and session.active() is not None

    def reboot(self, downtime: float = 2.0) -> None:
        """Drop the client mid-whatever, refuse connections for `downtime` s, then listen again."""
        with self._lock:
            self._down_until = time.monotonic() + downtime
            self._drop_now = True

    def gpi(self, port: int, state: bool) -> None:
        """A door sensor wired to GPI `port` goes high (True) or low: the reader reports a GPIEvent."""
        with self._lock:
            self._gpi.append((port, state))

    def hang(self, duration: float) -> None:
        """Go silent for `duration` s with the connection open (a frozen reader, a cut cable)."""
        with self._lock:
            self._hung_until = time.monotonic() + duration

    @property
    def rospecs(self) -> list[ROSpec]:
        """The ROSpecs the current client has added (what the gateway asked the reader to do)."""
        session = self._session
        return [spec.rospec for spec in session.specs.values()] if session else []

    @property
    def reader_config(self) -> tuple[float, ROReportSpec] | None:
        """(keepalive period s, default ROReportSpec) the current client configured."""
        session = self._session
        return (session.keepalive_s, session.report_spec) if session else None

    def set_scenario(self, scenario: Scenario) -> None:
        with self._lock:
            self.scenario = scenario
            self._epoch = time.monotonic()

    def wait_until(self, predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.005)
        return predicate()

    # --- what the sessions ask ----------------------------------------------------------------

    def inventory_started(self, now: float) -> None:
        if self._epoch is None:
            self._epoch = now

    def scenario_sightings(self, now: float) -> list[Sighting]:
        epoch = self._epoch if self._epoch is not None else now
        return self.scenario.sightings(now - epoch)

    def capabilities(self) -> GetReaderCapabilitiesResponse:
        llrp_caps = RawParam(LLRP_CAPABILITIES, bytes([0x00, 1]) + (0).to_bytes(2, "big")
                             + b"".join(n.to_bytes(4, "big") for n in (8, 1, 1, 8, 1)))
        c1g2_caps = RawParam(327, bytes([0x00]) + (2).to_bytes(2, "big"))
        return GetReaderCapabilitiesResponse(
            general=GeneralDeviceCapabilities(max_antennas=self.antennas, can_set_antenna_properties=False,
                                              has_utc_clock=True, manufacturer=self.manufacturer, model=self.model,
                                              firmware=self.firmware, gpi_count=4, gpo_count=4),
            regulatory=RegulatoryCapabilities(
                country_code=840, communications_standard=1, transmit_power_levels=POWER_TABLE,
                uhf_extra=(frequency_information(tuple(902_750 + 500 * i for i in range(50))),
                           c1g2_rf_mode_table((1000, 1002, 1003)))),
            extra=(llrp_caps, c1g2_caps),
        )

    # --- the network loop ----------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port or self._requested_port))
        listener.listen(4)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except OSError:
                pass
            self._listener = None

    def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.flush_out()
            except OSError:
                pass
            try:
                session.sock.close()
            except OSError:
                pass

    def _abort_session(self) -> None:
        """As a power cut looks to the client: an RST, nothing more."""
        session, self._session = self._session, None
        if session is not None:
            try:
                session.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                session.sock.close()
            except OSError:
                pass

    def _loop(self) -> None:
        while self._running.is_set():
            now = time.monotonic()
            with self._lock:
                drop, self._drop_now = self._drop_now, False
                down = now < self._down_until
                hung = now < self._hung_until
            if drop:
                self._abort_session()
                self._close_listener()
                self._epoch = None
            if down or hung:
                time.sleep(TICK_S)
                if hung and self._session is not None:
                    self._session.last_tick = time.monotonic()
                    self._session.next_keepalive = max(self._session.next_keepalive, self._hung_until)
                continue
            if self._listener is None:
                try:
                    self._listen()
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
                    time.sleep(0.05)
                    continue
            sockets = [self._listener] + ([self._session.sock] if self._session else [])
            try:
                readable, _, _ = select.select(sockets, [], [], TICK_S)
            except (OSError, ValueError):
                continue
            if self._listener in readable:
                self._accept()
            session = self._session
            if session is None:
                continue
            try:
                if session.sock in readable:
                    data = session.sock.recv(65536)
                    session.conn.receive_data(data)
                    for message in session.conn.events():
                        session.handle(message)
                    if not data:
                        self._close_session()
                        continue
                with self._lock:
                    gpi, self._gpi = self._gpi, []
                for port, state in gpi:
                    session.send(ReaderEventNotification(ReaderEventNotificationData(
                        int(time.time() * 1e6), (GpiEvent(port, state),)), message_id=session.next_id()))
                session.tick(time.monotonic())
                session.flush_out()
                if session.closing:
                    self._close_session()
            except (OSError, LlrpProtocolError):
                self._abort_session()
            except Exception:  # a simulator bug must not look like a reader that hangs
                traceback.print_exc()
                self._abort_session()

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()  # type: ignore[union-attr]
        except OSError:
            return
        sock.setblocking(True)
        sock.settimeout(5.0)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        busy = self._session is not None
        status = 2 if busy else 0  # 2: a client-initiated connection already exists
        note = ReaderEventNotification(ReaderEventNotificationData(int(time.time() * 1e6), (ConnectionAttemptEvent(status),)))
        try:
            sock.sendall(encode_message(note))
        except OSError:
            sock.close()
            return
        if busy:
            self.stats["refused"] += 1
            sock.close()
            return
        self.stats["connections"] += 1
        self._session = _Session(self, sock)


# --- CLI ------------------------------------------------------------------------------------------

def _antennas(text: str) -> tuple[int, ...]:
    return tuple(int(a) for a in text.split(",") if a.strip())


def build_scenario(args: argparse.Namespace) -> Scenario:
    pallet = PalletPass(cases=args.cases, outside=_antennas(args.outside), inside=_antennas(args.inside),
                        direction=args.direction, pass_s=args.pass_s, gap_s=args.gap_s)
    if args.scenario == "pallet":
        return pallet
    if args.scenario == "linger":
        return LingeringTag()
    if args.scenario == "steady":
        return TagPopulation(count=args.tags, antennas=tuple(range(1, args.antennas + 1)))
    return Mix((pallet, LingeringTag()))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5084, help="TCP port (default 5084; 0 = any free port)")
    parser.add_argument("--scenario", choices=("pallet", "linger", "steady", "mixed"), default="mixed",
                        help="pallet: cases through a door; linger: a weak tag at the edge; steady: a fixed "
                             "population (benchmarks); mixed: pallet + lingering tag")
    parser.add_argument("--rate", type=float, default=500.0, help="inventory attempts per second (default 500)")
    parser.add_argument("--antennas", type=int, default=4, help="antenna ports the reader has (default 4)")
    parser.add_argument("--cases", type=int, default=24, help="cases per pallet (default 24)")
    parser.add_argument("--tags", type=int, default=100, help="tags in the steady population (default 100)")
    parser.add_argument("--outside", default="1", help="outside antennas, comma separated (default 1)")
    parser.add_argument("--inside", default="2", help="inside antennas, comma separated (default 2)")
    parser.add_argument("--direction", choices=("in", "out"), default="in",
                        help="in = receiving (outside first), out = shipping")
    parser.add_argument("--pass-s", dest="pass_s", type=float, default=3.0, help="seconds a pallet takes through the door")
    parser.add_argument("--gap-s", dest="gap_s", type=float, default=3.0, help="seconds between pallets")
    parser.add_argument("--reboot-every", type=float, default=0.0, help="simulate a reader reboot every N s (0 = never)")
    parser.add_argument("--reboot-downtime", type=float, default=5.0, help="seconds a reboot refuses connections")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    sim = LlrpReaderSimulator(args.host, args.port, scenario=build_scenario(args), rate=args.rate,
                              antennas=args.antennas, seed=args.seed)
    try:
        sim.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return 1
    print(f"LLRP reader simulator on {sim.host}:{sim.port} ({args.scenario}, {args.rate:g} reads/s); Ctrl-C stops",
          flush=True)
    next_reboot = time.monotonic() + args.reboot_every if args.reboot_every > 0 else float("inf")
    try:
        while True:
            time.sleep(0.2)
            if time.monotonic() >= next_reboot:
                print(f"rebooting: refusing connections for {args.reboot_downtime:g} s", flush=True)
                sim.reboot(args.reboot_downtime)
                next_reboot = time.monotonic() + args.reboot_every
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        print(f"sent {sim.stats['tags_reported']} tag reports in {sim.stats['reports_sent']} messages", flush=True)
    return 0


__all__ = ["LingeringTag", "LlrpReaderSimulator", "Mix", "PalletPass", "Sighting", "TagPopulation",
           "add_arguments", "build_scenario", "run", "sgtin96"]
