"""A private mosquitto on a free loopback port, for the demo and the tests.

Not the system broker: its own config, its own port, gone when stopped. The
demo's set-up command installs Debian's mosquitto package; nothing else is needed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class BrokerUnavailable(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None)


class Mosquitto:
    def __init__(self, port: int | None = None, persistence: bool = False, extra: str = "",
                 password_file: str | None = None):
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.persistence = persistence
        self.extra = extra
        self.password_file = password_file
        self.dir = Path(tempfile.mkdtemp(prefix="tally-mosquitto-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> "Mosquitto":
        binary = find_mosquitto()
        if binary is None:
            raise BrokerUnavailable("mosquitto is not installed (Debian: apt-get install mosquitto)")
        conf = self.dir / "mosquitto.conf"
        auth = ["allow_anonymous false", f"password_file {self.password_file}"] if self.password_file else [
            "allow_anonymous true"]
        lines = [f"listener {self.port} 127.0.0.1", *auth, "max_queued_messages 0",
                 "max_inflight_messages 0", f"persistence {'true' if self.persistence else 'false'}",
                 f"persistence_location {self.dir}/", "log_dest stderr", "log_type error", "log_type warning",
                 # As root, mosquitto would drop to its own user and lose access to the test's files.
                 "user root" if os.geteuid() == 0 else "",
                 self.extra]
        conf.write_text("\n".join(lines) + "\n")
        self.log = open(self.dir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerUnavailable(f"mosquitto exited: {(self.dir / 'mosquitto.log').read_text()[-500:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise BrokerUnavailable(f"mosquitto did not listen on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
