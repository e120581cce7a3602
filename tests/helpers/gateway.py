"""Run the real daemon (`python -m gateway run`) as a subprocess, with a config written for the test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def write_config(path: Path, *, broker_port: int, data_dir: Path, devices: list[dict[str, Any]] = (),
                 gateway_id: str = "test-gw", extra: dict[str, dict[str, Any]] | None = None,
                 modes: list[dict[str, Any]] = (), mqtt: dict[str, Any] | None = None,
                 raw: str = "") -> Path:
    sections: dict[str, dict[str, Any]] = {
        "gateway": {"id": gateway_id, "data_dir": str(data_dir), "log_level": "debug"},
        "site": {"read_point": "urn:epc:id:sgln:0614141.07346.1234",
                 "biz_location": "urn:epc:id:sgln:0614141.07346.0"},
        "mqtt": {"host": "127.0.0.1", "port": broker_port, **(mqtt or {})},
        "status": {"listen": ""},
    }
    for name, values in (extra or {}).items():
        sections.setdefault(name, {}).update(values)
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    for device in devices:
        lines.append("[[device]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in device.items()]
        lines.append("")
    for mode in modes:
        lines.append("[[mode]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in mode.items()]
        lines.append("")
    path.write_text("\n".join(lines) + raw)
    return path


class GatewayProcess:
    def __init__(self, config: Path, log: Path):
        self.config = config
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "GatewayProcess":
        self._log = open(self.log_path, "ab")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "-c", str(self.config)],
                                     cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def wait_log(self, text: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            if self.proc and self.proc.poll() is not None:
                return text in self.log()
            time.sleep(0.05)
        return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if hasattr(self, "_log"):
            self._log.close()


def wait_status(config: Path, until, timeout: float = 15.0) -> dict[str, Any]:
    """`tally status --json` (the real CLI), asked until `until(snapshot)` holds or `timeout` passes: the
    status file catches up with counts within seconds, not at once. The last snapshot either way."""
    deadline = time.monotonic() + timeout
    while True:
        out = subprocess.run([sys.executable, "-m", "gateway", "status", "-c", str(config), "--json"],
                             capture_output=True, text=True, cwd=ROOT, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr
        snapshot = json.loads(out.stdout)
        if until(snapshot) or time.monotonic() > deadline:
            return snapshot
        time.sleep(0.3)
