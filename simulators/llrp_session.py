"""One client connection to the simulated LLRP reader: the ROSpec lifecycle, inventory and reports."""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulators import llrp_requests as rq
from simulators import llrp_wire as w
from simulators.llrp_scenarios import Sighting

if TYPE_CHECKING:
    from simulators.llrp_reader import LlrpReaderSimulator

DISABLED, INACTIVE, ACTIVE = 0, 1, 2  # ROSpec states (§10.2.1)
START_IMMEDIATE, STOP_DURATION = 1, 1
AIR_PROTOCOL_EPC_C1G2 = 1
VENDOR_IMPINJ, IMPINJ_ENABLE_EXTENSIONS, IMPINJ_ENABLE_EXTENSIONS_RESPONSE = 25882, 21, 22
# LLRPStatus codes (§16.2.8.1)
M_PARAMETER_ERROR, M_UNSUPPORTED_MESSAGE, M_UNSUPPORTED_VERSION = 100, 109, 110
P_MISSING_PARAMETER, A_INVALID, A_OUT_OF_RANGE = 203, 300, 301
#: an Impinj-like power table: index 1 = 10.00 dBm, then 0.25 dB steps to 30.00 dBm
POWER_TABLE = tuple((i, 1000 + 25 * (i - 1)) for i in range(1, 82))


@dataclass
class Spec:
    rospec: rq.ROSpec
    state: int = DISABLED
    started: float = 0.0


class Refusal(Exception):
    def __init__(self, code: int, description: str, parameter_type: int | None = None):
        super().__init__(description)
        self.status = w.status(code, description, parameter_type)


class Session:
    """Protocol state of one connection; the simulator's loop feeds it bytes and ticks it."""

    def __init__(self, sim: "LlrpReaderSimulator", sock: socket.socket):
        self.sim = sim
        self.sock = sock
        self.reader = w.FrameReader()
        self.specs: dict[int, Spec] = {}
        self.keepalive_s = 0.0
        self.next_keepalive = float("inf")
        self.report_spec = rq.ReportSpec()
        self.buffer: dict[tuple[bytes, int], w.TagSeen] = {}
        self.budget = 0.0
        self.cursor = 0
        self.last_tick = time.monotonic()
        self.ids = 1 << 20
        self.out = bytearray()
        self.closing = False

    # outgoing
    def send(self, mtype: int, body: bytes = b"", message_id: int | None = None) -> None:
        self.out += w.message(mtype, self.next_id() if message_id is None else message_id, body)

    def next_id(self) -> int:
        self.ids += 1
        return self.ids

    def flush_out(self) -> None:
        if self.out:
            data, self.out = bytes(self.out), bytearray()
            self.sock.sendall(data)

    # incoming
    def receive(self, data: bytes) -> None:
        for frame in self.reader.feed(data):  # WireError: the caller drops the connection
            self.handle(frame)

    def handle(self, frame: w.Frame) -> None:
        self.sim.stats["messages_received"] += 1
        if frame.version != w.VERSION:
            self.send(w.ERROR_MESSAGE, w.status(M_UNSUPPORTED_VERSION, f"LLRP version {frame.version} is not "
                                                                        "supported"), frame.message_id)
            return
        try:
            self._answer(frame)
        except rq.RequestError as exc:
            self.send(w.ERROR_MESSAGE, w.status(M_PARAMETER_ERROR, str(exc)), frame.message_id)

    def _answer(self, frame: w.Frame) -> None:
        mtype, body, mid = frame.type, frame.body, frame.message_id
        sim = self.sim
        if mtype == w.GET_READER_CAPABILITIES:
            self.send(w.GET_READER_CAPABILITIES_RESPONSE, sim.capabilities().encode(), mid)
        elif mtype == w.GET_READER_CONFIG:
            self.send(w.GET_READER_CONFIG_RESPONSE, w.status() + w.keepalive_spec(int(self.keepalive_s * 1000)), mid)
        elif mtype == w.SET_READER_CONFIG:
            self.send(w.SET_READER_CONFIG_RESPONSE, self._outcome(self._set_config, rq.set_reader_config(body)), mid)
        elif mtype == w.ADD_ROSPEC:
            self.send(w.RESPONSE_TO[mtype], self._outcome(self._add, rq.add_rospec(body)), mid)
        elif mtype in (w.ENABLE_ROSPEC, w.START_ROSPEC, w.STOP_ROSPEC, w.DISABLE_ROSPEC, w.DELETE_ROSPEC):
            action, allow_all = {w.ENABLE_ROSPEC: (self._enable, True), w.START_ROSPEC: (self._start, False),
                                 w.STOP_ROSPEC: (self._stop, False), w.DISABLE_ROSPEC: (self._disable, True),
                                 w.DELETE_ROSPEC: (self._delete, True)}[mtype]
            spec_id = rq.rospec_id(body, "ROSpecID")
            # the final report of a STOP goes out before its response, as readers do
            self.send(w.RESPONSE_TO[mtype], self._outcome(self._each, spec_id, action, allow_all), mid)
        elif mtype == w.GET_REPORT:
            self._report(force=True, empty_ok=True)
        elif mtype == w.KEEPALIVE_ACK:
            sim.stats["keepalive_acks"] += 1
        elif mtype == w.ENABLE_EVENTS_AND_REPORTS:
            pass
        elif mtype == w.CLOSE_CONNECTION:
            self.send(w.CLOSE_CONNECTION_RESPONSE, w.status(), mid)
            self.closing = True
        elif mtype == w.CUSTOM_MESSAGE and self._impinj_extensions(body):
            self.send(w.CUSTOM_MESSAGE, struct.pack(">IB", VENDOR_IMPINJ, IMPINJ_ENABLE_EXTENSIONS_RESPONSE)
                      + w.status(), mid)
        elif mtype in w.FROM_READER:
            self.send(w.ERROR_MESSAGE, w.status(M_UNSUPPORTED_MESSAGE, f"message type {mtype} is not accepted "
                                                                         "from a client"), mid)
        else:
            self.send(w.ERROR_MESSAGE, w.status(M_UNSUPPORTED_MESSAGE, f"message type {mtype} is not supported by "
                                                                         "this reader"), mid)

    def _impinj_extensions(self, body: bytes) -> bool:
        if self.sim.manufacturer != VENDOR_IMPINJ or len(body) < 5:
            return False
        vendor, subtype = struct.unpack_from(">IB", body)
        return vendor == VENDOR_IMPINJ and subtype == IMPINJ_ENABLE_EXTENSIONS

    @staticmethod
    def _outcome(action, *args) -> bytes:
        try:
            action(*args)
        except Refusal as refusal:
            return refusal.status
        return w.status()

    def _set_config(self, config: rq.ReaderConfig) -> None:
        if config.reset_to_factory_default:
            self.keepalive_s, self.report_spec = 0.0, rq.ReportSpec()
        for antenna in config.antenna_ids:
            if antenna > self.sim.antennas:
                raise Refusal(A_OUT_OF_RANGE, f"antenna {antenna} does not exist", w.ANTENNA_CONFIGURATION)
        if config.keepalive_ms is not None:
            self.keepalive_s = config.keepalive_ms / 1000.0
            self.next_keepalive = time.monotonic() + self.keepalive_s if self.keepalive_s else float("inf")
        if config.report_spec is not None:
            self.report_spec = config.report_spec

    def _add(self, rospec: rq.ROSpec) -> None:
        if rospec.rospec_id == 0:
            raise Refusal(A_OUT_OF_RANGE, "ROSpecID 0 is reserved", w.ROSPEC)
        if rospec.rospec_id in self.specs:
            raise Refusal(A_INVALID, f"ROSpec {rospec.rospec_id} already exists", w.ROSPEC)
        if rospec.current_state != DISABLED:
            raise Refusal(A_INVALID, "a new ROSpec must be Disabled", w.ROSPEC)
        if not rospec.ai_specs:
            raise Refusal(P_MISSING_PARAMETER, "ROSpec has no AISpec", w.ROSPEC)
        antennas = self.sim.antennas
        for ai in rospec.ai_specs:
            for antenna in ai.antenna_ids:
                if antenna > antennas:
                    raise Refusal(A_OUT_OF_RANGE, f"antenna {antenna} does not exist (reader has {antennas})",
                                  w.AI_SPEC)
            for inventory in ai.inventory_specs:
                if inventory.protocol_id != AIR_PROTOCOL_EPC_C1G2:
                    raise Refusal(A_OUT_OF_RANGE, f"air protocol {inventory.protocol_id} is not supported",
                                  w.INVENTORY_PARAMETER_SPEC)
                for config in inventory.antenna_configurations:
                    if config.antenna_id > antennas:
                        raise Refusal(A_OUT_OF_RANGE, f"antenna {config.antenna_id} does not exist",
                                      w.ANTENNA_CONFIGURATION)
                    power = config.transmitter.transmit_power if config.transmitter else None
                    if power is not None and not 1 <= power <= len(POWER_TABLE):
                        raise Refusal(A_OUT_OF_RANGE, f"transmit power index {power} is not in the power table "
                                                      f"(1-{len(POWER_TABLE)})", w.RF_TRANSMITTER)
        self.specs[rospec.rospec_id] = Spec(rospec)

    def _each(self, rospec_id: int, action, allow_all: bool) -> None:
        if rospec_id == 0 and allow_all:
            for spec_id in list(self.specs):
                action(spec_id)
            return
        if rospec_id not in self.specs:
            raise Refusal(A_INVALID, f"no ROSpec {rospec_id}")
        action(rospec_id)

    def _enable(self, spec_id: int) -> None:
        spec = self.specs[spec_id]
        if spec.state == DISABLED:
            spec.state = INACTIVE
            if spec.rospec.start_trigger == START_IMMEDIATE:
                self._start(spec_id)

    def _start(self, spec_id: int) -> None:
        spec = self.specs[spec_id]
        if spec.state == DISABLED:
            raise Refusal(A_INVALID, f"ROSpec {spec_id} is not enabled")
        if spec.state != ACTIVE:
            spec.state = ACTIVE
            spec.started = time.monotonic()
            self.sim.inventory_started(spec.started)

    def _stop(self, spec_id: int) -> None:
        spec = self.specs[spec_id]
        if spec.state != ACTIVE:
            raise Refusal(A_INVALID, f"ROSpec {spec_id} is not active")
        self._report(force=True)
        spec.state = INACTIVE

    def _disable(self, spec_id: int) -> None:
        if self.specs[spec_id].state == ACTIVE:
            self._stop(spec_id)
        self.specs[spec_id].state = DISABLED

    def _delete(self, spec_id: int) -> None:
        if self.specs[spec_id].state == ACTIVE:
            self._stop(spec_id)
        del self.specs[spec_id]

    # inventory
    def active(self) -> Spec | None:
        return next((s for s in self.specs.values() if s.state == ACTIVE), None)

    def gpi(self, port: int, high: bool) -> None:
        self.send(w.READER_EVENT_NOTIFICATION, w.event_notification(int(time.time() * 1e6), w.gpi_event(port, high)))

    def tick(self, now: float) -> None:
        if now >= self.next_keepalive:
            self.send(w.KEEPALIVE)
            self.sim.stats["keepalives_sent"] += 1
            self.next_keepalive = now + self.keepalive_s
        dt, self.last_tick = now - self.last_tick, now
        spec = self.active()
        if spec is None:
            self.budget = 0.0
            return
        rospec = spec.rospec
        if rospec.stop_trigger == STOP_DURATION and now - spec.started >= rospec.duration_ms / 1000.0:
            self._report(force=True)
            spec.state = INACTIVE
            return
        rate = self.sim.rate
        self.budget = min(self.budget + rate * dt, max(rate * 0.1, 1.0))
        attempts = int(self.budget)
        if attempts <= 0:
            return
        self.budget -= attempts
        antennas = set()
        for ai in rospec.ai_specs:
            antennas.update(range(1, self.sim.antennas + 1) if 0 in ai.antenna_ids else ai.antenna_ids)
        sightings = [s for s in self.sim.scenario_sightings(now) if s.antenna in antennas]
        if not sightings:
            return
        rng = self.sim.rng
        report_spec = rospec.report_spec or self.report_spec
        n = report_spec.n
        wall_us = int(time.time() * 1e6)
        for _ in range(attempts):
            sighting = sightings[self.cursor % len(sightings)]
            self.cursor += 1
            if sighting.probability < 1.0 and rng.random() >= sighting.probability:
                continue
            self._observe(sighting, rng.randint(*sighting.rssi), wall_us, rospec.rospec_id, report_spec)
            if n and len(self.buffer) >= n:
                self._report(force=False)

    def _observe(self, sighting: Sighting, rssi: int, wall_us: int, rospec_id: int, spec: rq.ReportSpec) -> None:
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
        self.buffer[key] = w.TagSeen(
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
        tags = list(self.buffer.values())
        self.buffer.clear()
        self.out += w.ro_access_report(self.next_id(), tags)
        self.sim.stats["reports_sent"] += 1
        self.sim.stats["tags_reported"] += len(tags)
