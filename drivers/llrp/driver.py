"""LlrpReader: a fixed UHF reader (Impinj, Zebra, any LLRP 1.0.1 reader) as a Tally device.

open(): TCP connect → wait for READER_EVENT_NOTIFICATION (ConnectionAttemptEvent) →
GET_READER_CAPABILITIES → DELETE_ROSPEC (all) → [Impinj: enable extensions] → SET_READER_CONFIG
(keepalives, events, report spec) → ADD_ROSPEC → ENABLE_ROSPEC → START_ROSPEC.
read(): one Read per TagReportData; KEEPALIVEs are acknowledged; silence longer than three
keepalive periods, a closed socket, a ConnectionCloseEvent or undecodable framing is DeviceGone.
flush(): STOP_ROSPEC, keeping the final ROAccessReports the reader sends before its response.
close(): DELETE_ROSPEC, CLOSE_CONNECTION, best effort.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import replace
from typing import Any

from ..base import DeviceGone, DeviceUnavailable, Driver, Option, Read, in_range, one_of
from .inventory import (
    ROSPEC_ID,
    SEARCH_MODES,
    InventorySettings,
    SetupError,
    build_rospec,
    check_antennas,
    reader_config,
)
from .messages import (
    AddROSpec,
    AddROSpecResponse,
    BadMessage,
    CloseConnection,
    CloseConnectionResponse,
    CustomMessage,
    DeleteROSpec,
    DeleteROSpecResponse,
    EnableROSpec,
    EnableROSpecResponse,
    ErrorMessage,
    GetReaderCapabilities,
    GetReaderCapabilitiesResponse,
    GetReport,
    Keepalive,
    KeepaliveAck,
    LlrpConnection,
    Message,
    ROAccessReport,
    ReaderEventNotification,
    SetReaderConfig,
    SetReaderConfigResponse,
    StartROSpec,
    StartROSpecResponse,
    StopROSpec,
    StopROSpecResponse,
    encode_message,
)
from .params import (
    CONNECTION_ATTEMPT_STATUS,
    VENDOR_IMPINJ,
    AntennaEvent,
    ConnectionAttemptEvent,
    ConnectionCloseEvent,
    GpiEvent,
    LlrpProtocolError,
    LlrpStatus,
    ReaderExceptionEvent,
    TagReport,
    iter_params,
    status_of,
)

log = logging.getLogger(__name__)

IMPINJ_ENABLE_EXTENSIONS = 21
#: missed keepalive periods before the reader counts as gone
KEEPALIVE_MISSES = 3
#: seconds to wait for STOP_ROSPEC's response (and the final report before it) on the way out:
#: a reader answers at once, so a longer wait would only delay a shutdown behind a dead reader
STOP_TIMEOUT = 2.0


def _antenna_list(value: Any) -> str | None:
    if not all(isinstance(a, int) and not isinstance(a, bool) and 1 <= a <= 0xFFFF for a in value):
        return "must be a list of antenna numbers (1-65535); [] means all antennas"
    return None


def _gpi_ports(value: Any) -> str | None:
    if not all(isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 0xFFFF for p in value):
        return "must be a list of GPI port numbers (1-65535)"
    return None


def _keepalive(value: int) -> str | None:
    return None if value == 0 or 100 <= value <= 3_600_000 else "must be 0 (off) or 100-3600000 ms"


class LlrpReader(Driver):
    name = "llrp"
    content = "epc"
    options = {
        "host": Option(str, doc="the reader's address (name or IP)"),
        "port": Option(int, 5084, in_range(1, 65535)),
        "antennas": Option(list, [], _antenna_list, doc="antenna numbers to read with; [] = all"),
        "transmit_power": Option((int, float), None, in_range(0, 40),
                                 doc="dBm; the reader's nearest table entry at or below it is used; unset = reader default"),
        "session": Option(int, 1, one_of(0, 1, 2, 3), doc="Gen2 session: 1 suits doors, 2 large static populations"),
        "search_mode": Option(str, "reader-default", one_of("reader-default", *SEARCH_MODES),
                              doc="Impinj search mode (ignored on other readers)"),
        "tag_population": Option(int, 32, in_range(1, 65535), doc="expected tags in the field"),
        "report_every_n_tags": Option(int, 1, in_range(0, 65535),
                                      doc="reader sends a report every N tag reads; 0 = only on report_interval_ms"),
        "report_interval_ms": Option(int, 0, in_range(0, 3_600_000),
                                     doc="also ask for buffered reads this often (GET_REPORT); 0 = off"),
        "keepalive_ms": Option(int, 5000, _keepalive, doc="reader keepalive period; 3 missed = reader gone; 0 = off"),
        "connect_timeout": Option((int, float), 5.0, in_range(0.1, 120), doc="seconds for connect and each setup step"),
        "gpi_triggers": Option(list, [], _gpi_ports,
                               doc="reader GPI ports (door sensor, light barrier) whose high/low opens/closes "
                                   "read cycles (with cycle_mode = \"triggered\")"),
    }

    def __init__(self, device: str, settings: dict[str, Any]):
        super().__init__(device, settings)
        self.sock: socket.socket | None = None
        self.conn = LlrpConnection()
        self.capabilities: GetReaderCapabilitiesResponse | None = None
        self._pending: list[Read] = []
        self._unread: list[Message] = []  # decoded after a reply, in the same segment: the next read's
        self._last_rx = 0.0
        self._next_report = 0.0
        self._bad_messages = 0
        self._gone = False
        self._stopped = False

    # --- options ---------------------------------------------------------------------------

    @property
    def _address(self) -> tuple[str, int]:
        return self.settings["host"], int(self.settings["port"])

    def describe(self) -> str:
        host, port = self._address
        return f"llrp://{host}:{port}"

    def _inventory_settings(self) -> InventorySettings:
        return InventorySettings(
            antennas=tuple(self.settings["antennas"]),
            transmit_power_dbm=self.settings["transmit_power"],
            session=self.settings["session"],
            tag_population=self.settings["tag_population"],
            search_mode=self.settings["search_mode"],
            report_every_n_tags=self.settings["report_every_n_tags"],
            keepalive_ms=self.settings["keepalive_ms"],
        )

    @property
    def _report_interval(self) -> float:
        interval = self.settings["report_interval_ms"]
        if not interval and not self.settings["report_every_n_tags"]:
            interval = 1000  # N=0 and no interval would never report: poll once a second
        return interval / 1000.0

    # --- open --------------------------------------------------------------------------------

    def open(self) -> None:
        host, port = self._address
        timeout = float(self.settings["connect_timeout"])
        self.conn = LlrpConnection()
        self._pending = []
        self._unread = []
        self._gone = self._stopped = False
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise DeviceUnavailable(f"cannot connect to LLRP reader {host}:{port}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self.sock = sock
        try:
            self._setup(timeout)
        except DeviceUnavailable:
            self._drop()
            raise
        except (DeviceGone, OSError, LlrpProtocolError) as exc:
            self._drop()
            raise DeviceUnavailable(f"LLRP reader {host}:{port} setup failed: {exc}") from None
        self._last_rx = time.monotonic()
        self._next_report = self._last_rx + self._report_interval if self._report_interval else float("inf")

    def _setup(self, timeout: float) -> None:
        self._await_connection_event(timeout)
        caps = self._transact(GetReaderCapabilities(0), GetReaderCapabilitiesResponse, timeout)
        self._require(caps.status, "GET_READER_CAPABILITIES")  # type: ignore[attr-defined]
        self.capabilities = caps  # type: ignore[assignment]
        settings = self._inventory_settings()
        general = self.capabilities.general
        impinj = bool(general and general.manufacturer == VENDOR_IMPINJ)
        try:
            check_antennas(settings.antennas, general)
            rospec, note = build_rospec(settings, self.capabilities.regulatory, impinj)
        except SetupError as exc:
            raise DeviceUnavailable(f"{self.describe()}: {exc}") from None
        if note:
            log.info("%s: %s", self.device, note)
        if settings.search_mode != "reader-default" and not impinj:
            log.warning("%s: search_mode only applies to Impinj readers; ignored", self.device)
        # leftovers from an earlier session (ours or another client's) must not keep reading
        response = self._transact(DeleteROSpec(0), DeleteROSpecResponse, timeout)
        self._require(response.status, "DELETE_ROSPEC")  # type: ignore[attr-defined]
        if impinj and settings.search_mode != "reader-default":
            reply = self._transact(CustomMessage(vendor=VENDOR_IMPINJ, subtype=IMPINJ_ENABLE_EXTENSIONS, data=b"\0\0\0\0"),
                                   CustomMessage, timeout)
            self._require(_custom_status(reply), "IMPINJ_ENABLE_EXTENSIONS")  # type: ignore[arg-type]
        response = self._transact(SetReaderConfig(**reader_config(settings)), SetReaderConfigResponse, timeout)
        self._require(response.status, "SET_READER_CONFIG")  # type: ignore[attr-defined]
        response = self._transact(AddROSpec(rospec), AddROSpecResponse, timeout)
        self._require(response.status, "ADD_ROSPEC")  # type: ignore[attr-defined]
        response = self._transact(EnableROSpec(ROSPEC_ID), EnableROSpecResponse, timeout)
        self._require(response.status, "ENABLE_ROSPEC")  # type: ignore[attr-defined]
        response = self._transact(StartROSpec(ROSPEC_ID), StartROSpecResponse, timeout)
        self._require(response.status, "START_ROSPEC")  # type: ignore[attr-defined]
        if general:
            log.info("%s: LLRP reader %s (manufacturer %d, model %d, firmware %s, %d antennas) inventorying",
                     self.device, self.describe(), general.manufacturer, general.model, general.firmware or "?",
                     general.max_antennas)

    def _require(self, status: LlrpStatus, what: str) -> None:
        if not status.ok:
            raise DeviceUnavailable(f"{self.describe()} refused {what}: {status.describe()}")

    def _await_connection_event(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for message in self._receive(deadline, "the reader's connection event"):
                if isinstance(message, ReaderEventNotification):
                    event = message.data.event(ConnectionAttemptEvent)
                    if event is None:
                        continue
                    if event.status != 0:  # type: ignore[attr-defined]
                        reason = CONNECTION_ATTEMPT_STATUS.get(event.status, f"status {event.status}")  # type: ignore[attr-defined]
                        raise DeviceUnavailable(f"{self.describe()} refused the connection: {reason}")
                    return
                self._handle(message)

    def _transact(self, request: Message, response_type: type[Message], timeout: float) -> Message:
        message_id = self.conn.next_message_id()
        request = _with_id(request, message_id)
        self._send(request)
        deadline = time.monotonic() + timeout
        while True:
            messages = self._receive(deadline, f"the reply to {request.name}")
            for i, message in enumerate(messages):
                if isinstance(message, response_type):
                    # a reply shares its TCP segment with the tag reports the reader sent after it
                    self._unread = messages[i + 1:] + self._unread
                    return message
                if isinstance(message, ErrorMessage) and message.message_id == message_id:
                    raise DeviceUnavailable(f"{self.describe()} rejected {request.name}: {message.status.describe()}")
                self._handle(message)

    def _receive(self, deadline: float, waiting_for: str) -> list[Message]:
        """Block until at least one message arrives (or the deadline passes: DeviceUnavailable)."""
        sock = self.sock
        if sock is None:
            raise DeviceGone("not connected")
        while True:
            messages = self._decode()
            if messages:
                return messages
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceUnavailable(f"{self.describe()}: no answer, waiting for {waiting_for}")
            sock.settimeout(remaining)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise DeviceGone("the reader closed the connection")
            self.conn.receive_data(data)

    def _decode(self) -> list[Message]:
        out, self._unread = self._unread, []
        for event in self.conn.events():
            if isinstance(event, BadMessage):
                self._bad_messages += 1
                if self._bad_messages <= 3 or self._bad_messages % 1000 == 0:
                    log.warning("%s: ignoring an undecodable %s from the reader (%d so far): %s",
                                self.device, event.name, self._bad_messages, event.error)
                continue
            out.append(event)
        return out

    # --- read ----------------------------------------------------------------------------------

    def read(self, timeout: float) -> list[Read]:
        try:
            return self._read(timeout)
        except DeviceGone:
            self._gone = True  # flush() must not wait on a reader that is not there
            raise

    def _read(self, timeout: float) -> list[Read]:
        sock = self.sock
        if sock is None:
            raise DeviceGone("not connected")
        deadline = time.monotonic() + timeout
        keepalive = self.settings["keepalive_ms"] / 1000.0
        silence_limit = keepalive * KEEPALIVE_MISSES if keepalive else None
        while True:
            try:
                for message in self._decode():
                    self._handle(message)
            except LlrpProtocolError as exc:
                raise DeviceGone(f"LLRP stream from {self.describe()} is broken: {exc}") from None
            if self._pending:
                reads, self._pending = self._pending, []
                return reads
            now = time.monotonic()
            if silence_limit is not None and now - self._last_rx > silence_limit:
                raise DeviceGone(f"{self.describe()} silent for {now - self._last_rx:.1f} s "
                                 f"({KEEPALIVE_MISSES} keepalives missed)")
            if now >= self._next_report:
                self._send(_with_id(GetReport(), self.conn.next_message_id()))
                self._next_report = now + self._report_interval
            wait = min(deadline, self._next_report) - now
            if silence_limit is not None:
                wait = min(wait, self._last_rx + silence_limit - now + 0.01)
            if deadline <= now:
                return []
            sock.settimeout(max(wait, 0.001))
            try:
                data = sock.recv(262144)
            except socket.timeout:
                continue
            except OSError as exc:
                raise DeviceGone(f"{self.describe()}: {exc.strerror or exc}") from None
            if not data:
                raise DeviceGone(f"{self.describe()} closed the connection")
            self._last_rx = time.monotonic()
            try:
                self.conn.receive_data(data)
            except LlrpProtocolError as exc:
                raise DeviceGone(f"LLRP stream from {self.describe()} is broken: {exc}") from None

    def _handle(self, message: Message) -> None:
        if isinstance(message, ROAccessReport):
            self._pending.extend(self._to_read(tag) for tag in message.tags)
        elif isinstance(message, Keepalive):
            self._send(KeepaliveAck(message_id=message.message_id))
        elif isinstance(message, ReaderEventNotification):
            for event in message.data.events:
                if isinstance(event, ConnectionCloseEvent):
                    raise DeviceGone(f"{self.describe()} is closing the connection")
                if isinstance(event, AntennaEvent):
                    log.warning("%s: antenna %d %s", self.device, event.antenna_id,
                                "connected" if event.connected else "disconnected")
                elif isinstance(event, ReaderExceptionEvent):
                    log.warning("%s: reader exception: %s", self.device, event.message)
                elif isinstance(event, GpiEvent) and event.port in self.settings["gpi_triggers"]:
                    self._pending.append(Read(self.device, self.name, "trigger", f"GPI {event.port}",
                                              meta={"on": event.state, "gpi": event.port, "devices": [self.device]}))
        elif isinstance(message, ErrorMessage):
            log.warning("%s: reader error: %s", self.device, message.status.describe())
        else:
            log.debug("%s: ignoring %s", self.device, message.name)

    def _to_read(self, tag: TagReport) -> Read:
        meta: dict[str, Any] = {}
        if tag.antenna_id is not None:
            meta["antenna"] = tag.antenna_id
        if tag.peak_rssi is not None:
            meta["rssi"] = tag.peak_rssi
        if tag.first_seen_utc is not None:
            meta["first_seen"] = tag.first_seen_utc / 1e6
        if tag.last_seen_utc is not None:
            meta["last_seen"] = tag.last_seen_utc / 1e6
        reader_time = tag.last_seen_utc or tag.first_seen_utc
        if reader_time is not None:
            meta["reader_time"] = reader_time / 1e6
        elif tag.first_seen_uptime is not None:
            meta["reader_uptime"] = tag.first_seen_uptime / 1e6
        if tag.seen_count is not None:
            meta["seen_count"] = tag.seen_count
        if tag.channel_index is not None:
            meta["channel"] = tag.channel_index
        if tag.epc_bits is not None and tag.epc_bits != len(tag.epc) * 8:
            meta["epc_bits"] = tag.epc_bits
        return self.make_read(tag.epc.hex().upper(), **meta)

    def flush(self) -> list[Read]:
        """Stop the inventory and keep what the reader still had: LLRP readers send their buffered
        tags as ROAccessReports between STOP_ROSPEC and its response (the final report)."""
        if self.sock is not None and not self._gone and not self._stopped:
            try:
                self._transact(StopROSpec(ROSPEC_ID), StopROSpecResponse, STOP_TIMEOUT)
                for message in self._decode():  # anything that shared the reply's segment
                    self._handle(message)
            except (OSError, DeviceGone, DeviceUnavailable, LlrpProtocolError) as exc:
                log.debug("%s: STOP_ROSPEC on the way out: %s", self.device, exc)
            self._stopped = True
        reads, self._pending = self._pending, []
        return reads

    # --- close ---------------------------------------------------------------------------------

    def close(self) -> None:
        sock = self.sock
        if sock is None:
            return
        try:
            sock.settimeout(1.0)
            requests = (DeleteROSpec(ROSPEC_ID), CloseConnection())
            if not self._stopped:  # close() without flush(): nobody is left to take a final report
                requests = (StopROSpec(ROSPEC_ID), *requests)
            for request in requests:
                self._send(_with_id(request, self.conn.next_message_id()))
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                if any(isinstance(m, CloseConnectionResponse) for m in self._receive(deadline, "CLOSE_CONNECTION")):
                    break
        except (OSError, DeviceGone, DeviceUnavailable, LlrpProtocolError):
            pass
        self._drop()

    def _drop(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def _send(self, message: Message) -> None:
        if self.sock is None:
            raise DeviceGone("not connected")
        try:
            self.sock.sendall(encode_message(message))
        except OSError as exc:
            raise DeviceGone(f"{self.describe()}: {exc.strerror or exc}") from None


def _custom_status(reply: CustomMessage) -> LlrpStatus:
    """The LLRPStatus inside a vendor response (e.g. IMPINJ_ENABLE_EXTENSIONS_RESPONSE)."""
    data = reply.data
    try:
        params = iter_params(data, 0, len(data), "vendor response")
        return status_of(data, params, "vendor response")
    except LlrpProtocolError as exc:
        return LlrpStatus(100, f"unreadable vendor response: {exc}")


def _with_id(message: Message, message_id: int) -> Message:
    return replace(message, message_id=message_id)
