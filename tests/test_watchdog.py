"""The systemd side of the promise: the daemon pings the watchdog only while it can do its job. A disk that
fails under the outbox (a real FUSE filesystem failing with EIO) stops the pings and is a failing state in the
status, with every scan held unaccepted; once the disk recovers the pings come back and every scan arrives."""

from __future__ import annotations

import errno
import json
import os
import socket
import time

import pytest

from gateway import status_file
from gateway.config import load
from tests.helpers import faultfs
from tests.helpers.gateway import GatewayProcess, write_config

pytestmark = [pytest.mark.slow, pytest.mark.skipif(faultfs.available() is not None,
                                                   reason=str(faultfs.available()))]

GTIN = "09506000134352"


class NotifySocket:
    """What systemd's notify socket would receive from the service."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []

    def drain(self, seconds: float) -> list[str]:
        end = time.monotonic() + seconds
        got = []
        while time.monotonic() < end:
            try:
                got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                continue
        self.messages += [(time.monotonic(), m) for m in got]
        return got

    def close(self):
        self.sock.close()


def read_status(config) -> dict:
    try:
        return json.loads(status_file.find(load(config)).read_text())
    except (OSError, ValueError):
        return {"health": {"ok": True}}


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_failing_disk_stops_the_watchdog_and_recovery_delivers_everything(tmp_path, mosquitto, subscriber,
                                                                            scanner):
    disk = faultfs.FaultFS(tmp_path / "disk", tmp_path / "mnt").start()
    notify = NotifySocket(tmp_path / "notify")
    config = write_config(tmp_path / "t.toml", broker_port=mosquitto.port, data_dir=disk.mountpoint / "data",
                          devices=[{"name": "door-1", "driver": "serial-scanner", "port": scanner.path,
                                    "dedupe_ms": 0}])
    os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"] = notify.path, "1000000"  # pings every 0.5 s
    try:
        gw = GatewayProcess(config, tmp_path / "gw.log").start()
    finally:
        del os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"]
    try:
        assert gw.wait_log("door-1: open", 20), gw.log()
        before = notify.drain(2)
        assert any(m.startswith("READY=1") for m in before) and "WATCHDOG=1" in before
        scanner.scan(f"]d201{GTIN}21S0")
        assert len(subscriber.wait_events(1)) == 1

        disk.fail(errno.EIO)
        for i in range(1, 6):
            scanner.scan(f"]d201{GTIN}21S{i}")
        # the writer tries, fails, retries: wait for the verdict (a loaded machine takes its time), let a ping
        # already on its way arrive, then listen for three watchdog periods
        assert wait_for(lambda: not (s := read_status(config))["health"]["ok"]
                        and s.get("backlog", {}).get("held") == 5, 20), gw.log()
        notify.drain(0.5)
        during = notify.drain(3)
        assert "WATCHDOG=1" not in during, during  # systemd would restart a gateway that cannot store a scan
        status = read_status(config)
        assert not status["health"]["ok"] and any("outbox commits are failing" in r for r in status["health"]["reasons"])
        assert status["backlog"]["held"] == 5 and status["outbox"]["commit_failures"] >= 1
        assert len(subscriber.on("events")) == 1  # nothing unaccepted went out

        disk.recover()
        events = subscriber.wait_events(6, timeout=20)
        assert sorted(e["tally:raw"][-2:] for e in events) == sorted(f"S{i}" for i in range(6))
        after = notify.drain(2)
        assert "WATCHDOG=1" in after
        assert gw.terminate() == 0
    finally:
        gw.close()
        notify.close()
        disk.stop()
