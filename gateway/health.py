"""The status server: health, Prometheus metrics, status JSON and the technician's page over HTTP, read-only.

    GET /healthz       200 {"ok": true, ...} while the main loop turns and the outbox is open; else 503 + reasons
    GET /metrics       Prometheus text format (prometheus-client), computed from daemon.status() on each scrape
    GET /status.json   daemon.status(), secrets redacted
    GET /              the status page (gateway/web/: static HTML/JS/CSS, no external assets)

A stdlib ThreadingHTTPServer in its own thread, so a slow client never stalls the asyncio loop. Every
request reads the daemon's state *on the loop* (call_soon_threadsafe and a bounded wait): the state
keeps its one owner, and a loop that does not answer within a second is itself the health answer.
Nothing here can change anything: GET and HEAD only, a fixed set of paths. What the metrics say is
gateway/metrics.py, the listen address gateway/listen.py, redaction gateway/redact.py.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from .listen import is_loopback, parse_listen
from .logs import printable
from .metrics import StatusCollector, metrics_text
from .redact import redact

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



# ---- what the endpoints say ----------------------------------------------------------------------

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
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.5},
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
