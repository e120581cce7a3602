"""An LLRP 1.0.1 fixed reader on a TCP port, speaking the real protocol.

It answers what a gateway sends (capabilities, reader config, ROSpec lifecycle, GET_REPORT,
keepalive acks, close), sends KEEPALIVEs and RO_ACCESS_REPORTs per the client's ROReportSpec,
and plays scenarios: a pallet of SGTIN-96 cases passing a dock door (outside antennas first,
then inside), a tag lingering at the edge of range, a steady tag population for benchmarks,
and a reader reboot (the connection drops, connects are refused, then it comes back).

    with LlrpReaderSimulator(port=0, scenario=PalletPass(cases=50)) as sim:
        ... connect to ("127.0.0.1", sim.port) ...

The wire format is the simulator's own (llrp_wire, llrp_requests), shared with no driver; the
connection's protocol state is llrp_session, the scenarios llrp_scenarios.
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

from simulators import llrp_wire as w
from simulators.llrp_requests import ROSpec, ReportSpec
from simulators.llrp_scenarios import LingeringTag, Mix, PalletPass, Scenario, Sighting, TagPopulation
from simulators.llrp_session import POWER_TABLE, Session
from simulators.sgtin import sgtin96

TICK_S = 0.005


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
        self._session: Session | None = None
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
    def reader_config(self) -> tuple[float, ReportSpec] | None:
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

    def capabilities(self) -> w.Capabilities:
        return w.Capabilities(max_antennas=self.antennas, manufacturer=self.manufacturer, model=self.model,
                              firmware=self.firmware, power_table=POWER_TABLE,
                              hop_table_khz=tuple(902_750 + 500 * i for i in range(50)))

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
                # stop listening first: a client that sees the RST reconnects at once, and must be refused
                self._close_listener()
                self._abort_session()
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
                    session.receive(data)
                    if not data:
                        self._close_session()
                        continue
                with self._lock:
                    gpi, self._gpi = self._gpi, []
                for port, state in gpi:
                    session.gpi(port, state)
                session.tick(time.monotonic())
                session.flush_out()
                if session.closing:
                    self._close_session()
            except (OSError, w.WireError):
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
        note = w.event_notification(int(time.time() * 1e6), w.connection_attempt_event(status))
        try:
            sock.sendall(w.message(w.READER_EVENT_NOTIFICATION, 0, note))
        except OSError:
            sock.close()
            return
        if busy:
            self.stats["refused"] += 1
            sock.close()
            return
        self.stats["connections"] += 1
        self._session = Session(self, sock)


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
