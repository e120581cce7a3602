"""Shared pieces of the operations tests (health, page, remote commands, reload); no tests of its own.

The gateway always runs as the real daemon (`python -m gateway run`) against a real mosquitto, with a
pty serial scanner; the status server listens on a free loopback port.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

from gateway.broker import free_port
from simulators.serial_scanner import SerialScannerSimulator
from tests.helpers.gateway import write_config

GTIN = "09506000134352"  # GS1's example GTIN (valid check digit)


def unit(i: int) -> str:
    """A GS1 DataMatrix label for one serialised unit (AIM ]d2, GTIN + serial)."""
    return f"]d201{GTIN}21S{i:06d}"


def serial_of(event: dict[str, Any]) -> str:
    return event["tally:raw"].split(GTIN + "21", 1)[1]


def ops_config(tmp_path: Path, broker_port: int, scanner: SerialScannerSimulator, *, status: dict | None = None,
               device: dict | None = None, **kw: Any) -> tuple[Path, int]:
    """A config with one serial scanner `door-1` and the status server on a free port: (path, port)."""
    port = free_port()
    dev = {"name": "door-1", "driver": "serial-scanner", "port": scanner.path, "biz_step": "receiving",
           "disposition": "in_progress", "dedupe_ms": 0}
    dev.update(device or {})
    extra = kw.pop("extra", {})
    extra.setdefault("status", {}).update({"listen": f"127.0.0.1:{port}", **(status or {})})
    path = write_config(tmp_path / "tally.toml", broker_port=broker_port, data_dir=tmp_path / "data",
                        devices=[dev], extra=extra, **kw)
    return path, port


def http_get(port: int, path: str, *, method: str = "GET", headers: dict[str, str] | None = None,
             timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def get_json(port: int, path: str) -> tuple[int, Any]:
    status, _, body = http_get(port, path)
    return status, json.loads(body)


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05, gw=None, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (OSError, http.client.HTTPException, ValueError):
            value = None
        if value:
            return value
        if gw is not None and gw.proc.poll() is not None:
            raise AssertionError(f"gateway exited while waiting for {what}:\n{gw.log()}")
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}" + (f":\n{gw.log()[-4000:]}" if gw is not None else ""))


def wait_running(gw, port: int) -> dict[str, Any]:
    """Until /healthz says ok and every device is open; returns the health answer."""
    def ready():
        status, body = get_json(port, "/healthz")
        return body if status == 200 and body["devices"] and all(
            s == "open" for s in body["devices"].values()) else None

    return wait_until(ready, gw=gw, what="a healthy gateway with its devices open")
