"""Health, Prometheus metrics, status JSON and the technician's status page over HTTP, read-only.

    GET /healthz       200 {"ok": true, ...} while the main loop turns and the outbox is open; else 503 + reasons
    GET /metrics       Prometheus text format (prometheus-client), computed from daemon.status() on each scrape
    GET /status.json   daemon.status(), secrets redacted
    GET /              the status page (gateway/web/: static HTML/JS/CSS, no external assets)

A stdlib ThreadingHTTPServer in its own thread, so a slow client never stalls the asyncio loop. Every
request reads the daemon's state *on the loop* (call_soon_threadsafe and a bounded wait): the state
keeps its one owner, and a loop that does not answer within a second is itself the health answer.
Nothing here can change anything: GET and HEAD only, a fixed set of paths.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import json
import logging
import os
import re
import threading
import time
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import urlsplit

from .logs import printable

if TYPE_CHECKING:
    from .daemon import Daemon

log = logging.getLogger("tally.health")

LOOP_TIMEOUT = 1.0     # how long a request waits for the main loop
TICK_STALE = 5.0       # the main loop's periodic tick older than this: unhealthy
REQUEST_TIMEOUT = 5.0  # a client that sends nothing for this long is dropped

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
# The page's own files and same-origin fetches only: scan content rendered as text can never run.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

SECRET_KEY = re.compile(r"passw(or)?d|passphrase|secret|token|credential|private[-_]?key|psk", re.IGNORECASE)
REDACTED = "[redacted]"


# ---- listen address ------------------------------------------------------------------------------

def parse_listen(value: str) -> tuple[str, int]:
    """'127.0.0.1:8765', '[::1]:8765', 'localhost:8765' -> (host, port); ValueError with a plain message."""
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:8765)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{value!r}: write an IPv6 address in brackets, e.g. [::1]:8765")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} has a bad port")
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"{value!r} has a bad host")
    return host, int(port)


def listen_problem(value: str) -> str | None:
    """For the config's `status.listen` check: None if fine ('' disables the server)."""
    if value == "":
        return None
    try:
        parse_listen(value)
    except ValueError as exc:
        return str(exc)
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---- what the endpoints say ----------------------------------------------------------------------

def redact(value: Any) -> Any:
    """A copy with every value under a secret-sounding key replaced: status pages are not for passwords."""
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and SECRET_KEY.search(k) and v is not None else redact(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def health(daemon: "Daemon", last_tick: float | None, now: float | None = None) -> dict[str, Any]:
    """The /healthz answer; runs on the loop. `last_tick`: monotonic time of the main loop's last tick."""
    now = time.monotonic() if now is None else now
    reasons = []
    if not daemon.ready:
        reasons.append("starting: devices and the broker link are not up yet")
    if daemon.stopping is not None and daemon.stopping.is_set():
        reasons.append("stopping")
    if last_tick is None:
        reasons.append("the main loop has not ticked yet")
    elif now - last_tick > TICK_STALE:
        reasons.append(f"the main loop last ticked {now - last_tick:.1f}s ago")
    # The supervisor's verdict (outbox writer, commits, MQTT thread, devices): the same one that decides
    # whether systemd's watchdog is fed, so /healthz and systemd never disagree.
    supervised = daemon.supervisor.check()
    reasons.extend(supervised.failing)
    outbox = daemon.outbox
    link = daemon.publisher.link if daemon.publisher is not None else None
    backlog = outbox.counts if outbox is not None else {}
    return {
        "ok": not reasons,
        "degraded": bool(supervised.warnings),
        "reasons": reasons,
        "warnings": list(supervised.warnings),
        "gateway": daemon.config.gateway_id,
        "state": "running" if daemon.ready else "starting",
        "uptime_s": round(time.time() - daemon.started, 1),
        "tick_age_s": None if last_tick is None else round(now - last_tick, 3),
        # Reported, not judged: a gateway with its broker or a scanner away is doing its job (buffering).
        "broker": None if link is None else link.state,
        "backlog": dict(backlog),
        "devices": {r.state.name: r.state.state for r in daemon.runners},
    }


def _timestamp(value: Any) -> float | None:
    """Epoch seconds from an epoch number or an ISO-8601 string (EPCIS/TPV times); None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


class StatusCollector:
    """prometheus-client Collector: every scrape turns one daemon.status() snapshot into metrics.

    Nothing is counted twice: the daemon's own counters are the source, this only renames them.
    """

    def __init__(self, snapshot: Callable[[], dict[str, Any]], started: float):
        self.snapshot = snapshot
        self.started = started

    def describe(self) -> Iterable[Any]:
        return []  # unchecked collector: families vary with devices and streams

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

        def gauge(name: str, doc: str, value: float | None = None, labels: list[str] | None = None):
            return GaugeMetricFamily(name, doc, value=value, labels=labels)

        yield from self._process(gauge, CounterMetricFamily)
        try:
            s = self.snapshot()
        except Exception as exc:
            log.warning("metrics: no status from the main loop: %s", exc)
            yield gauge("tally_healthy", "1 when /healthz says ok", 0)
            return
        h = s.pop("_health", {})
        yield gauge("tally_healthy", "1 when /healthz says ok", 1 if h.get("ok") else 0)
        info = InfoMetricFamily("tally_build", "the gateway's version and id")
        info.add_metric([], {"version": str(s.get("version")), "gateway": str(s.get("gateway"))})
        yield info
        yield gauge("tally_uptime_seconds", "seconds since the daemon started", s.get("uptime_s") or 0)
        if h.get("tick_age_s") is not None:
            yield gauge("tally_main_loop_tick_age_seconds", "age of the main loop's last periodic tick",
                        h["tick_age_s"])

        for key, value in sorted((s.get("counters") or {}).items()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
                yield CounterMetricFamily(f"tally_{name}", f"pipeline: {key} since start or reload", value=value)

        backlog = s.get("backlog") or {}
        waiting = gauge("tally_outbox_backlog", "records waiting in the outbox for the broker", labels=["stream"])
        for stream in ("events", "positions", "rejects"):
            waiting.add_metric([stream], backlog.get(stream) or 0)
        yield waiting
        yield gauge("tally_outbox_bytes", "outbox size counted against the budget", backlog.get("bytes") or 0)
        yield gauge("tally_outbox_budget_bytes", "outbox disk budget (outbox.max_mb)", backlog.get("budget_bytes") or 0)
        yield gauge("tally_outbox_oldest_age_seconds", "age of the oldest record waiting (0 when empty)",
                    backlog.get("oldest_age_s") or 0)
        drops = CounterMetricFamily("tally_outbox_drops", "records the full outbox refused or evicted",
                                    labels=["stream"])
        for stream, count in sorted((s.get("drops") or {}).items()):
            drops.add_metric([stream], count or 0)
        yield drops
        held = gauge("tally_outbox_quarantine", "records the broker refused for good, kept aside on disk",
                     labels=["stream"])
        for stream, count in sorted((s.get("quarantine") or {}).items()):
            held.add_metric([stream], count or 0)
        yield held
        yield gauge("tally_outbox_held", "records waiting in memory for room or a working disk (devices paused)",
                    backlog.get("held") or 0)
        yield gauge("tally_outbox_limit_bytes", "the outbox budget the disk allows now", backlog.get("limit_bytes") or 0)
        box = s.get("outbox") or {}
        yield CounterMetricFamily("tally_outbox_commit_failures", "outbox commits that failed (and were retried)",
                                  value=box.get("commit_failures") or 0)
        yield gauge("tally_outbox_failing", "1 while outbox commits fail", 1 if box.get("failing") else 0)
        yield gauge("tally_degraded", "1 while /healthz lists warnings (refusals, quarantine, duplicate id)",
                    1 if h.get("degraded") else 0)
        restarts = (s.get("supervisor") or {}).get("restarts") or {}
        worker = CounterMetricFamily("tally_worker_restarts", "threads the supervisor had to start again",
                                     labels=["worker"])
        for name, count in sorted(restarts.items()):
            worker.add_metric([name], count or 0)
        yield worker

        broker = s.get("broker") or {}
        yield gauge("tally_broker_connected", "1 while connected to an MQTT broker",
                    1 if broker.get("state") == "connected" else 0)
        yield CounterMetricFamily("tally_broker_connects", "successful broker connections",
                                  value=broker.get("connects") or 0)
        yield CounterMetricFamily("tally_broker_published", "messages handed to the broker (QoS 1)",
                                  value=broker.get("published") or 0)
        yield CounterMetricFamily("tally_broker_acked", "messages the broker acknowledged (PUBACK)",
                                  value=broker.get("acked") or 0)
        yield gauge("tally_broker_in_flight", "messages sent and not yet acknowledged", broker.get("in_flight") or 0)
        refusals = CounterMetricFamily("tally_broker_refusals", "messages the broker refused (MQTT 5 reason code)",
                                       labels=["reason"])
        for reason, count in sorted((broker.get("refusals") or {}).items()):
            refusals.add_metric([reason], count or 0)
        yield refusals
        yield gauge("tally_broker_duplicate_id", "1 while another client seems to use this gateway's id",
                    1 if broker.get("duplicate_id") else 0)
        if broker.get("since"):
            yield gauge("tally_broker_state_since_timestamp_seconds", "when the broker link last changed state",
                        broker["since"])

        up = gauge("tally_device_up", "1 while the device is open", labels=["device", "driver"])
        reads = CounterMetricFamily("tally_device_reads", "reads from the device", labels=["device"])
        errors = CounterMetricFamily("tally_device_errors", "unexpected open/read failures of the device's driver",
                                     labels=["device"])
        paused = gauge("tally_device_paused", "1 while the device is not read for want of outbox room",
                       labels=["device"])
        last = gauge("tally_device_last_read_timestamp_seconds", "wall time of the device's last read",
                     labels=["device"])
        for d in s.get("devices") or []:
            name = str(d.get("name"))
            up.add_metric([name, str(d.get("driver"))], 1 if d.get("state") == "open" else 0)
            reads.add_metric([name], d.get("reads") or 0)
            errors.add_metric([name], d.get("errors") or 0)
            paused.add_metric([name], 1 if d.get("paused") else 0)
            if d.get("last_read"):
                last.add_metric([name], d["last_read"])
        yield up
        yield reads
        yield errors
        yield paused
        yield last

        event_time = _timestamp((s.get("last_event") or {}).get("time"))
        if event_time is not None:
            yield gauge("tally_last_event_timestamp_seconds", "eventTime of the last event accepted", event_time)
        active = (s.get("manifest") or {}).get("active")
        if isinstance(active, dict):
            for key, doc in (("expected", "units the active manifest expects"),
                             ("seen", "of those, seen so far"), ("extra", "scans not on the active manifest")):
                family = gauge(f"tally_manifest_{key}", doc, labels=["manifest"])
                family.add_metric([str(active.get("name"))], active.get(key) or 0)
                yield family
        channels = (s.get("feedback") or {}).get("channels") or []
        if channels:
            signals = CounterMetricFamily("tally_feedback_signals", "feedback signals per channel: sent, failed "
                                          "(the write failed) or dropped (its queue was full)",
                                          labels=["channel", "result"])
            for row in channels:
                for result in ("sent", "failed", "dropped"):
                    signals.add_metric([str(row.get("channel")), result], row.get(result) or 0)
            yield signals
        gps = s.get("gps")
        if isinstance(gps, dict):
            fix = (gps.get("fix") or {}) if "fix" in gps else gps
            fix = fix if isinstance(fix, dict) else {}
            age = fix.get("age_s")
            if age is None and _timestamp(fix.get("time")) is not None:
                age = max(0.0, time.time() - _timestamp(fix.get("time")))
            if isinstance(age, (int, float)) and not isinstance(age, bool):
                yield gauge("tally_gps_fix_age_seconds", "age of the last GPS fix", age)
            if isinstance(fix.get("mode"), int):
                yield gauge("tally_gps_mode", "GPS fix mode (1 none, 2 2D, 3 3D)", fix["mode"])

    def _process(self, gauge, counter) -> Iterable[Any]:
        # prometheus-client's ProcessCollector gives nothing when /proc/stat is hidden (ProcSubset=pid in the
        # unit), so the usual process_* series come from what a hardened process can still see.
        times = os.times()
        yield counter("process_cpu_seconds", "user and system CPU time", value=times.user + times.system)
        yield gauge("process_start_time_seconds", "when the daemon started (unix time)", self.started)
        try:
            with open("/proc/self/statm", "rb") as fh:
                pages = int(fh.read().split()[1])
            yield gauge("process_resident_memory_bytes", "resident memory", pages * os.sysconf("SC_PAGE_SIZE"))
            yield gauge("process_open_fds", "open file descriptors", len(os.listdir("/proc/self/fd")))
        except (OSError, ValueError, IndexError):
            pass


def metrics_text(collector: StatusCollector) -> tuple[bytes, str]:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]
    return generate_latest(registry), CONTENT_TYPE_LATEST


# ---- the server ----------------------------------------------------------------------------------

class LoopUnavailable(Exception):
    pass


class HealthServer:
    """Serves the endpoints for one daemon; start() binds, stop() (a coroutine) unbinds."""

    def __init__(self, daemon: "Daemon", listen: str):
        self.daemon = daemon
        self.host, self.port = parse_listen(listen)
        self.loopback = is_loopback(self.host)
        self.last_tick: float | None = None
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.collector = StatusCollector(self._snapshot_with_health, daemon.started)
        self.files = {name: resources.files("gateway").joinpath("web", name).read_bytes()
                      for name, _ in set(STATIC.values())}

    # -- life cycle (on the loop) --

    def tick(self, _wall: float) -> None:
        self.last_tick = time.monotonic()

    def start(self) -> "HealthServer":
        family = 10 if ":" in self.host else 2  # AF_INET6 / AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = Server((self.host, self.port), _Handler)
        self.httpd.health = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="health-http", daemon=True)
        self.thread.start()
        if self.loopback:
            log.info("status page, health and metrics on http://%s/", self.address)
        else:
            log.warning("status.listen %s is NOT a loopback address: the status page, metrics and health (device "
                        "names, recent scans) are readable from the network. Bind 127.0.0.1 and use an SSH tunnel "
                        "or a reverse proxy with authentication, unless this network is trusted.", self.address)
        return self

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def stop(self) -> None:
        httpd, self.httpd = self.httpd, None
        if httpd is None:
            return
        # shutdown() waits for serve_forever to notice: off the loop, so requests waiting on the loop finish.
        await asyncio.to_thread(httpd.shutdown)
        httpd.server_close()

    # -- reading the daemon (from request threads) --

    def on_loop(self, fn: Callable[[], Any], timeout: float = LOOP_TIMEOUT) -> Any:
        loop = self.daemon.loop
        if loop is None or loop.is_closed():
            raise LoopUnavailable("the main loop is not running")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def call() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:
                    future.set_exception(exc)

        try:
            loop.call_soon_threadsafe(call)
        except RuntimeError:
            raise LoopUnavailable("the main loop is closed") from None
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise LoopUnavailable(f"the main loop did not answer within {timeout:.0f}s") from None

    def health(self) -> dict[str, Any]:
        try:
            return self.on_loop(lambda: health(self.daemon, self.last_tick))
        except LoopUnavailable as exc:
            return {"ok": False, "reasons": [str(exc)], "gateway": self.daemon.config.gateway_id}

    def status(self) -> dict[str, Any]:
        return redact(self.on_loop(self.daemon.status))

    def _snapshot_with_health(self) -> dict[str, Any]:
        def both() -> dict[str, Any]:
            snapshot = self.daemon.status()
            snapshot["_health"] = health(self.daemon, self.last_tick)
            return snapshot

        return redact(self.on_loop(both))

    def host_allowed(self, host_header: str | None) -> bool:
        """On loopback, only loopback names: a web page elsewhere cannot read us via DNS rebinding."""
        if not self.loopback or not host_header:
            return True
        host = host_header.strip()
        if host.startswith("["):
            host = host[1:].partition("]")[0]
        else:
            host = host.rpartition(":")[0] if host.count(":") == 1 else host
        return is_loopback(host.lower())


class _Handler(BaseHTTPRequestHandler):
    server_version = "tally"
    sys_version = ""
    timeout = REQUEST_TIMEOUT

    @property
    def health(self) -> HealthServer:
        return self.server.health  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        log.debug("%s %s", self.address_string(), printable(format % args))

    def send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, value: Any) -> None:
        body = json.dumps(value, indent=1, default=str).encode() + b"\n"
        self.send(status, body, "application/json")

    def send_text(self, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        self.send(status, text.encode() + b"\n", "text/plain; charset=utf-8", extra)

    def do_GET(self) -> None:
        if not self.health.host_allowed(self.headers.get("Host")):
            self.send_text(HTTPStatus.FORBIDDEN, "forbidden: use http://127.0.0.1 or http://localhost")
            return
        path = urlsplit(self.path).path
        try:
            if path == "/healthz":
                result = self.health.health()
                self.send_json(HTTPStatus.OK if result["ok"] else HTTPStatus.SERVICE_UNAVAILABLE, result)
            elif path == "/status.json":
                self.send_json(HTTPStatus.OK, self.health.status())
            elif path == "/metrics":
                self._metrics()
            elif path in STATIC:
                name, content_type = STATIC[path]
                extra = {"Content-Security-Policy": PAGE_POLICY} if name.endswith(".html") else None
                self.send(HTTPStatus.OK, self.health.files[name], content_type, extra)
            else:
                self.send_text(HTTPStatus.NOT_FOUND, "not found: try /, /healthz, /metrics or /status.json")
        except LoopUnavailable as exc:
            self.send_text(HTTPStatus.SERVICE_UNAVAILABLE, f"unavailable: {exc}")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:
            log.exception("status server: %s failed", printable(path[:80]))
            self.send_text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (see the gateway's log)")

    do_HEAD = do_GET

    def _metrics(self) -> None:
        try:
            body, content_type = metrics_text(self.health.collector)
        except ImportError:
            self.send_text(HTTPStatus.NOT_IMPLEMENTED,
                           "metrics need prometheus-client: pip install 'tally-gateway[ops]'")
            return
        self.send(HTTPStatus.OK, body, content_type)

    def _refuse(self) -> None:
        self.send_text(HTTPStatus.METHOD_NOT_ALLOWED, "read-only: GET and HEAD only", {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse


def start(daemon: "Daemon") -> HealthServer | None:
    """Start the server for `status.listen`; None if disabled or failed (the caller registers tick and stop)."""
    listen = daemon.config.status.get("listen") or ""
    if not listen:
        return None
    try:
        server = HealthServer(daemon, listen).start()
    except (OSError, ValueError) as exc:
        # The gateway's job is scans, not this page: keep running without it, loudly.
        log.error("status.listen %s: cannot serve health/metrics/status page: %s", listen, exc)
        return None
    return server
