"""An NMEA GPS receiver on a pty, driving a route at a chosen rate.

    tally simulate gps                                       # 1 Hz, GN talker, a generated drive
    tally simulate gps --start 52.37,4.89 --heading 90 --speed 13.9 --turn 60:90 --turn 120:-45
    tally simulate gps --gpx route.gpx --speed 20 --rate 5 --talker GP
    tally simulate gps --tunnel 30:15 --bad-checksum-rate 0.01 --garbage-rate 0.05
    tally simulate gps --stdout --fast --duration 600 | tally nmea   # no pty: NMEA to stdout

Each epoch sends RMC, VTG, GGA, GSA and GSV (choose with --sentences; GLL and ZDA too)
in u-blox order, with NMEA 4.10 system/signal ids unless --nmea-version 2.3. A tunnel
is a stretch of time with no fix (RMC V, GGA quality 0, GSA fix type 1), the clock still
running, as real receivers do. Faults are injected at the given rates and counted in
`GpsSimulator.injected`, so tests can check every one was noticed.

The device path is a symlink (like /dev/serial/by-id/...) that `unplug()` removes and
`replug()` points at a fresh pty.
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Protocol, Sequence

from .pty_device import PtyDevice

EARTH_RADIUS_M = 6_371_008.8
KNOT = 1852.0 / 3600.0
DEFAULT_SENTENCES = ("RMC", "VTG", "GGA", "GSA", "GSV")
ALL_SENTENCES = ("RMC", "VTG", "GGA", "GSA", "GSV", "GLL", "ZDA")


# ---- where the vehicle is ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class State:
    lat: float
    lon: float
    alt: float
    speed: float  # m/s
    track: float  # degrees true


class Route(Protocol):
    def at(self, t: float) -> State:
        """Where the vehicle is `t` seconds after the start."""


def destination(lat: float, lon: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """The point `distance_m` from (lat, lon) along a great circle starting at `bearing_deg`."""
    if distance_m == 0:
        return lat, lon
    d = distance_m / EARTH_RADIUS_M
    phi1, lam1, theta = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    phi2 = math.asin(math.sin(phi1) * math.cos(d) + math.cos(phi1) * math.sin(d) * math.cos(theta))
    lam2 = lam1 + math.atan2(math.sin(theta) * math.sin(d) * math.cos(phi1),
                             math.cos(d) - math.sin(phi1) * math.sin(phi2))
    return math.degrees(phi2), (math.degrees(lam2) + 540.0) % 360.0 - 180.0


def distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


@dataclass(frozen=True, slots=True)
class Leg:
    duration_s: float
    heading_deg: float
    speed_mps: float


class GeneratedRoute:
    """Straight legs at constant speed (speed 0 = a stop); stationary after the last leg."""

    def __init__(self, lat: float, lon: float, legs: Sequence[Leg], alt: float = 50.0):
        self.alt = alt
        self._legs: list[tuple[float, float, float, Leg]] = []  # (start t, lat, lon, leg)
        t = 0.0
        for leg in legs:
            self._legs.append((t, lat, lon, leg))
            lat, lon = destination(lat, lon, leg.heading_deg, leg.speed_mps * leg.duration_s)
            t += leg.duration_s
        self._end = (t, lat, lon, legs[-1].heading_deg if legs else 0.0)

    @classmethod
    def drive(cls, lat: float, lon: float, heading_deg: float, speed_mps: float,
              turns: Iterable[tuple[float, float]] = (), duration_s: float = 3600.0,
              alt: float = 50.0) -> "GeneratedRoute":
        """Drive at `heading_deg`; at each (t, degrees) turn by that much (positive = right)."""
        legs: list[Leg] = []
        t, heading = 0.0, heading_deg
        for at, delta in sorted(turns):
            if at > t:
                legs.append(Leg(at - t, heading, speed_mps))
                t = at
            heading = (heading + delta) % 360.0
        if duration_s > t:
            legs.append(Leg(duration_s - t, heading, speed_mps))
        return cls(lat, lon, legs, alt)

    def at(self, t: float) -> State:
        for start, lat, lon, leg in reversed(self._legs):
            if t >= start and t < start + leg.duration_s:
                here = destination(lat, lon, leg.heading_deg, leg.speed_mps * (t - start))
                return State(here[0], here[1], self.alt, leg.speed_mps, leg.heading_deg % 360.0)
        if self._legs and t < self._legs[0][0]:
            _, lat, lon, leg = self._legs[0]
            return State(lat, lon, self.alt, 0.0, leg.heading_deg)
        _, lat, lon, heading = self._end
        return State(lat, lon, self.alt, 0.0, heading)


class GpxRoute:
    """A GPX track (or route): at `speed_mps` along it, or on the track's own timestamps if no speed."""

    def __init__(self, gpx_text: str, speed_mps: float | None = None):
        import gpxpy  # the gps extra; only needed when a GPX file is driven

        gpx = gpxpy.parse(gpx_text)
        points = [p for track in gpx.tracks for seg in track.segments for p in seg.points]
        if not points:
            points = [p for route in gpx.routes for p in route.points]
        if not points:
            raise ValueError("the GPX file has no track or route points")
        self._pts = [(p.latitude, p.longitude, p.elevation if p.elevation is not None else 0.0) for p in points]
        timed = speed_mps is None and all(p.time is not None for p in points) and len(points) > 1
        if timed:
            t0 = points[0].time
            self._t = [(p.time - t0).total_seconds() for p in points]
        else:
            speed = speed_mps if speed_mps and speed_mps > 0 else 10.0
            self._t = [0.0]
            for a, b in zip(self._pts, self._pts[1:]):
                self._t.append(self._t[-1] + distance(a[0], a[1], b[0], b[1]) / speed)

    @classmethod
    def from_file(cls, path: str, speed_mps: float | None = None) -> "GpxRoute":
        with open(path, encoding="utf-8") as fh:
            return cls(fh.read(), speed_mps)

    @property
    def duration_s(self) -> float:
        return self._t[-1]

    def at(self, t: float) -> State:
        pts, times = self._pts, self._t
        if len(pts) == 1 or t >= times[-1]:
            last, prev = pts[-1], pts[-2] if len(pts) > 1 else pts[-1]
            return State(last[0], last[1], last[2], 0.0, bearing(prev[0], prev[1], last[0], last[1]))
        t = max(t, 0.0)
        i = min(bisect.bisect_right(times, t) - 1, len(times) - 2)
        a, b = pts[i], pts[i + 1]
        span = times[i + 1] - times[i]
        f = (t - times[i]) / span if span > 0 else 1.0
        leg = distance(a[0], a[1], b[0], b[1])
        track = bearing(a[0], a[1], b[0], b[1])
        lat, lon = destination(a[0], a[1], track, leg * f)
        return State(lat, lon, a[2] + (b[2] - a[2]) * f, leg / span if span > 0 else 0.0, track)


# ---- what the receiver says ------------------------------------------------------------------------


def nmea_checksum(body: str) -> int:
    value = 0
    for byte in body.encode("ascii"):
        value ^= byte
    return value


def sentence(body: str) -> str:
    return f"${body}*{nmea_checksum(body):02X}"


def _lat(value: float) -> tuple[str, str]:
    a = abs(value)
    deg = int(a)
    minutes = round((a - deg) * 60.0, 5)
    if minutes >= 60.0:
        deg, minutes = deg + 1, 0.0
    return f"{deg:02d}{minutes:08.5f}", "N" if value >= 0 else "S"


def _lon(value: float) -> tuple[str, str]:
    a = abs(value)
    deg = int(a)
    minutes = round((a - deg) * 60.0, 5)
    if minutes >= 60.0:
        deg, minutes = deg + 1, 0.0
    return f"{deg:03d}{minutes:08.5f}", "E" if value >= 0 else "W"


#: a sky that changes slowly: (PRN, elevation, azimuth, SNR) for GPS satellites in view
_SKY = [(2, 62, 110, 44), (5, 48, 303, 41), (7, 33, 54, 39), (9, 71, 198, 46), (13, 25, 241, 36),
        (15, 12, 150, 30), (18, 40, 85, 42), (20, 9, 330, 28), (23, 55, 12, 43), (26, 18, 270, 33),
        (29, 5, 190, 24), (30, 37, 128, 40)]
_USED = 8


class GpsSimulator:
    """A GPS receiver on a pty. `start()`/`stop()` (or `with`), `unplug()`/`replug()`,
    `render(t)`/`generate(seconds)` for the bytes without a pty."""

    def __init__(self, path: str | None = None, *, route: Route | None = None, rate_hz: float = 1.0,
                 talker: str = "GN", sentences: Sequence[str] = DEFAULT_SENTENCES, nmea_version: str = "4.10",
                 noise_m: float = 0.0, tunnels: Iterable[tuple[float, float]] = (),
                 bad_checksum_rate: float = 0.0, garbage_rate: float = 0.0, truncate_rate: float = 0.0,
                 seed: int | None = None, start_time: datetime | float | None = None,
                 duration_s: float | None = None, record: bool = False):
        if rate_hz <= 0 or rate_hz > 50:
            raise ValueError("rate_hz must be in (0, 50]")
        if len(talker) != 2 or not talker.isalpha() or not talker.isupper():
            raise ValueError("talker must be two capital letters, e.g. GP or GN")
        unknown = [s for s in sentences if s not in ALL_SENTENCES]
        if unknown:
            raise ValueError(f"unknown sentence types: {', '.join(unknown)}")
        self._path = path
        self._pty: PtyDevice | None = None  # made on first use: render()/generate() need no pty
        self.route: Route = route or GeneratedRoute.drive(52.3731, 4.8922, 90.0, 13.9, [(60, 90), (120, -45)])
        self.rate_hz = rate_hz
        self.talker = talker
        self.sentences = tuple(sentences)
        self.nmea4 = nmea_version != "2.3"
        self.noise_m = noise_m
        self.tunnels = sorted(tunnels)
        self.bad_checksum_rate = bad_checksum_rate
        self.garbage_rate = garbage_rate
        self.truncate_rate = truncate_rate
        self.duration_s = duration_s
        self.random = random.Random(seed)
        if start_time is None:
            start_time = math.floor(time.time() * rate_hz) / rate_hz
        if isinstance(start_time, (int, float)):
            start_time = datetime.fromtimestamp(start_time, tz=timezone.utc)
        self.start_time: datetime = start_time.astimezone(timezone.utc)
        self.injected: Counter[str] = Counter()
        self.epochs = 0
        #: (time, true lat, true lon, has fix) per epoch sent, for tests to compare against
        self.truth: list[tuple[datetime, float, float, bool]] = []
        self.record = record
        self.transcript = bytearray()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write_lock = threading.Lock()

    # ---- the device ------------------------------------------------------------------------------

    @property
    def pty(self) -> PtyDevice:
        if self._pty is None:
            self._pty = PtyDevice(self._path)
        return self._pty

    @property
    def path(self) -> str:
        """The symlink a driver opens (stable across unplug/replug)."""
        return str(self.pty.path)

    @property
    def slave_path(self) -> str | None:
        """The /dev/pts/N behind it now (None while unplugged)."""
        return None if self.pty.slave is None else self._ttyname()

    def _ttyname(self) -> str | None:
        import os

        try:
            return os.ttyname(self.pty.slave)  # type: ignore[arg-type]
        except OSError:
            return None

    def start(self) -> "GpsSimulator":
        self._plug()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gps-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._pty is not None:
            self._pty.close()

    def unplug(self) -> None:
        """The USB cable comes out: the pty closes and the device path disappears."""
        with self._write_lock:
            self.pty.unplug()

    def replug(self) -> None:
        """A new pty behind the same path."""
        self._plug()

    def _plug(self) -> None:
        with self._write_lock:
            self.pty.drop_when_full = True  # a UART drops what nobody reads: the epoch clock must not stall
            self.pty.plug()

    def __enter__(self) -> "GpsSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        k = 0
        origin = time.monotonic()
        while not self._stop.is_set():
            t = k / self.rate_hz
            if self.duration_s is not None and t >= self.duration_s:
                return
            delay = origin + t - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            data = self.render(t)
            with self._write_lock:
                if self.pty.plugged:
                    if self.record:
                        self.transcript += data
                    self.pty.write(data)
                    try:
                        self.pty.read(4096, 0)  # a receiver ignores what the host writes (probes)
                    except (OSError, ValueError):
                        pass
            k += 1

    # ---- the bytes ---------------------------------------------------------------------------------

    def in_tunnel(self, t: float) -> bool:
        return any(start <= t < start + length for start, length in self.tunnels)

    def generate(self, seconds: float) -> bytes:
        """Every epoch of the first `seconds`, as one byte string (no pty, no waiting)."""
        n = int(round(seconds * self.rate_hz))
        return b"".join(self.render(k / self.rate_hz) for k in range(n))

    def render(self, t: float) -> bytes:
        """One epoch, `t` seconds after the start: the sentences, with faults injected."""
        when = self.start_time + timedelta(seconds=round(t, 2))
        state = self.route.at(t)
        fix = not self.in_tunnel(t)
        self.truth.append((when, state.lat, state.lon, fix))
        self.epochs += 1
        lat, lon = state.lat, state.lon
        if fix and self.noise_m > 0:
            lat, lon = destination(lat, lon, self.random.uniform(0, 360), abs(self.random.gauss(0, self.noise_m)))
        out: list[bytes] = []
        for kind in self.sentences:
            for body in self._bodies(kind, when, state, lat, lon, fix):
                out.append(self._damage(sentence(body)))
        if self.garbage_rate and self.random.random() < self.garbage_rate:
            junk = bytes(self.random.choice(_JUNK) for _ in range(self.random.randint(3, 40)))
            # on a line of its own, so the count stays exact even after a truncated sentence
            out.insert(self.random.randint(0, len(out)), b"\r\n" + junk + b"\r\n")
            self.injected["garbage"] += 1
        return b"".join(out)

    def _damage(self, text: str) -> bytes:
        r = self.random
        if self.bad_checksum_rate and r.random() < self.bad_checksum_rate:
            value = int(text[-2:], 16) ^ r.randint(1, 255)
            self.injected["checksum"] += 1
            return (text[:-2] + f"{value:02X}\r\n").encode("ascii")
        if self.truncate_rate and r.random() < self.truncate_rate:
            self.injected["truncated"] += 1
            return text[: r.randint(1, len(text) - 4)].encode("ascii")  # the line end is lost too
        return (text + "\r\n").encode("ascii")

    def _bodies(self, kind: str, when: datetime, state: State, lat: float, lon: float, fix: bool) -> list[str]:
        tk = self.talker
        hms = when.strftime("%H%M%S") + f".{when.microsecond // 10000:02d}"
        la, ns = _lat(lat) if fix else ("", "")
        lo, ew = _lon(lon) if fix else ("", "")
        knots = state.speed / KNOT
        moving = state.speed > 0.05
        nav = ",V" if self.nmea4 else ""
        sky = self._sky(when)
        hdop = 0.9 + 0.1 * math.sin(when.timestamp() / 60.0)
        if kind == "RMC":
            if not fix:
                return [f"{tk}RMC,{hms},V,,,,,,,{when:%d%m%y},,,N{nav}"]
            track = f"{state.track:.2f}" if moving else ""
            return [f"{tk}RMC,{hms},A,{la},{ns},{lo},{ew},{knots:.3f},{track},{when:%d%m%y},,,A{nav}"]
        if kind == "VTG":
            if not fix:
                return [f"{tk}VTG,,T,,M,,N,,K,N"]
            track = f"{state.track:.2f}" if moving else ""
            return [f"{tk}VTG,{track},T,,M,{knots:.3f},N,{state.speed * 3.6:.3f},K,A"]
        if kind == "GGA":
            if not fix:
                return [f"{tk}GGA,{hms},,,,,0,00,99.99,,,,,,"]
            return [f"{tk}GGA,{hms},{la},{ns},{lo},{ew},1,{_USED:02d},{hdop:.2f},{state.alt:.1f},M,46.9,M,,"]
        if kind == "GLL":
            if not fix:
                return [f"{tk}GLL,,,,,{hms},V,N"]
            return [f"{tk}GLL,{la},{ns},{lo},{ew},{hms},A,A"]
        if kind == "ZDA":
            return [f"{tk}ZDA,{hms},{when:%d},{when:%m},{when:%Y},00,00"]
        if kind == "GSA":
            system = ",1" if self.nmea4 else ""
            if not fix:
                return [f"{tk}GSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99{system}"]
            prns = [f"{p:02d}" for p, *_ in sky[:_USED]] + [""] * (12 - _USED)
            return [f"{tk}GSA,A,3,{','.join(prns)},{hdop * 1.6:.2f},{hdop:.2f},{hdop * 1.3:.2f}{system}"]
        if kind == "GSV":
            talker = "GP" if tk == "GN" else tk  # satellites are listed per constellation
            signal = ",1" if self.nmea4 else ""
            parts = [sky[i:i + 4] for i in range(0, len(sky), 4)]
            out = []
            for n, part in enumerate(parts, 1):
                sats = ",".join(f"{p:02d},{el:02d},{az:03d},{snr if fix else ''}" for p, el, az, snr in part)
                out.append(f"{talker}GSV,{len(parts)},{n},{len(sky):02d},{sats}{signal}")
            return out
        raise ValueError(kind)  # pragma: no cover - checked in __init__

    def _sky(self, when: datetime) -> list[tuple[int, int, int, int]]:
        drift = int(when.timestamp() // 300)  # satellites move a degree every five minutes
        return [(p, el, (az + drift) % 360, snr) for p, el, az, snr in _SKY]


#: bytes a noisy line produces: anything but sentence starts, line ends and idle filler (space, tab, NUL)
_JUNK = [b for b in range(256) if b not in b"$!\r\n \t\x00"]


# ---- tally simulate gps -------------------------------------------------------------------------------


def _pair(text: str) -> tuple[float, float]:
    try:
        a, b = text.split(":" if ":" in text else ",")
        return float(a), float(b)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected two numbers like 30:15") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--link", help="path of the device symlink to create (default: a temp dir)")
    parser.add_argument("--stdout", action="store_true", help="write NMEA to stdout instead of a pty")
    parser.add_argument("--fast", action="store_true", help="with --stdout: do not wait between epochs")
    parser.add_argument("--rate", type=float, default=1.0, help="epochs per second (default 1)")
    parser.add_argument("--talker", default="GN", choices=["GP", "GN", "GL", "GA", "GB", "BD"],
                        help="talker of the position sentences (default GN)")
    parser.add_argument("--sentences", default=",".join(DEFAULT_SENTENCES),
                        help=f"sentence types per epoch, in order (from {','.join(ALL_SENTENCES)})")
    parser.add_argument("--nmea-version", choices=["2.3", "4.10"], default="4.10")
    route = parser.add_argument_group("route")
    route.add_argument("--gpx", help="drive this GPX track (at --speed, or on its own timestamps)")
    route.add_argument("--start", type=_pair, default=(52.3731, 4.8922), metavar="LAT,LON",
                       help="where a generated drive starts (default 52.3731,4.8922)")
    route.add_argument("--heading", type=float, default=90.0, help="initial heading, degrees (default 90)")
    route.add_argument("--speed", type=float, help="m/s (default 13.9 generated; GPX: its timestamps, else 10)")
    route.add_argument("--turn", type=_pair, action="append", default=[], metavar="T:DEG",
                       help="at T seconds turn by DEG (positive = right); repeatable")
    faults = parser.add_argument_group("faults")
    faults.add_argument("--noise", type=float, default=0.0, help="position noise, metres (1 sigma)")
    faults.add_argument("--tunnel", type=_pair, action="append", default=[], metavar="START:SECONDS",
                        help="no fix from START for SECONDS; repeatable")
    faults.add_argument("--bad-checksum-rate", type=float, default=0.0, help="share of sentences with a bad checksum")
    faults.add_argument("--truncate-rate", type=float, default=0.0, help="share of sentences cut short")
    faults.add_argument("--garbage-rate", type=float, default=0.0, help="share of epochs with line noise")
    parser.add_argument("--seed", type=int, help="random seed (noise and faults)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    try:
        if args.gpx:
            route: Route = GpxRoute.from_file(args.gpx, args.speed)
        else:
            lat, lon = args.start
            route = GeneratedRoute.drive(lat, lon, args.heading, 13.9 if args.speed is None else args.speed,
                                         args.turn, duration_s=max(3600.0, args.duration or 0.0))
        sentences = [s.strip().upper() for s in args.sentences.split(",") if s.strip()]
        sim = GpsSimulator(args.link, route=route, rate_hz=args.rate, talker=args.talker, sentences=sentences,
                           nmea_version=args.nmea_version, noise_m=args.noise, tunnels=args.tunnel,
                           bad_checksum_rate=args.bad_checksum_rate, garbage_rate=args.garbage_rate,
                           truncate_rate=args.truncate_rate, seed=args.seed, duration_s=args.duration)
    except (OSError, ValueError) as exc:
        print(f"gps simulator: {exc}", file=sys.stderr)
        return 2
    if args.stdout:
        return _to_stdout(sim, args.fast)
    sim.start()
    print(f"gps simulator on {sim.path} ({sim.rate_hz:g} Hz, {sim.talker})", file=sys.stderr, flush=True)
    print(sim.path, flush=True)
    try:
        while sim._thread is not None and sim._thread.is_alive():
            sim._thread.join(0.5)
        time.sleep(0.5)  # let the last bytes drain before the pty goes away
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def _to_stdout(sim: GpsSimulator, fast: bool) -> int:
    out = sys.stdout.buffer
    k = 0
    origin = time.monotonic()
    try:
        while sim.duration_s is None or k / sim.rate_hz < sim.duration_s:
            t = k / sim.rate_hz
            if not fast:
                delay = origin + t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            out.write(sim.render(t))
            out.flush()
            k += 1
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `... --stdout | head`: the reader left
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0
