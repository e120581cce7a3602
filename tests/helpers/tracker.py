"""Events as gateways send them, and tracker stores on both engines, for the tracker's tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from gateway import events
from tests.helpers.gateway import ROOT
from tests.helpers.postgres import PostgresUnavailable, shared_server
from tracker.store import Store

READ_POINT = "urn:epc:id:sgln:0614141.07346.1234"
DOCK = "urn:epc:id:sgln:0614141.07346.0"


def where(biz_step: str = "receiving", read_point: str = READ_POINT, biz_location: str | None = DOCK,
          disposition: str | None = "in_progress") -> events.Where:
    return events.Where(biz_step=biz_step, disposition=disposition, read_point=read_point,
                        biz_location=biz_location)


def object_event(seq: int, epcs: list[str] = (), classes: list[tuple[str, float]] = (), *, gateway: str = "gw-1",
                 wall: float | None = None, **kw: Any) -> dict[str, Any]:
    event = events.object_event(wall=wall or time.time(), where=where(**kw), epcs=epcs, classes=classes,
                                extensions={"gateway": gateway, "device": "door-1"})
    event["tally:seq"] = seq
    return event


def aggregation(seq: int, parent: str, children: list[str], *, classes: list[tuple[str, float]] = (),
                gateway: str = "gw-1", action: str = "ADD", wall: float | None = None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("biz_step", "packing")
    event = events.aggregation_event(wall=wall or time.time(), where=where(**kw), parent=parent, children=children,
                                     child_classes=classes, action=action,
                                     extensions={"gateway": gateway, "device": "pack-1"})
    event["tally:seq"] = seq
    return event


def postgres_url() -> str:
    try:
        return shared_server().create_database()
    except PostgresUnavailable as exc:  # CI installs it through ./dev; say so rather than skip
        pytest.fail(f"tests need PostgreSQL: {exc}")


def store_url(engine: str, tmp_path) -> str:
    return f"sqlite:{tmp_path / 'tracker.sqlite3'}" if engine == "sqlite" else postgres_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[Store]:
    s = Store(store_url(request.param, tmp_path)).open()
    yield s
    s.close()


def write_tracker_config(path: Path, broker_port: int, store: str, **tracker: Any) -> Path:
    values = {"id": "central-1", "store": store, "listen": "", **tracker}
    lines = ["[tracker]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    lines += ["[mqtt]", 'host = "127.0.0.1"', f"port = {broker_port}"]
    path.write_text("\n".join(lines) + "\n")
    return path


class TrackerProcess:
    def __init__(self, config: Path, log: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.log_path = log
        self._log = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "tracker", "-c", str(config)], cwd=ROOT,
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_log(self, text: str, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_path.read_text(errors="replace"):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return False

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
