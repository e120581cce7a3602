"""The serial stand-in every pty test stands on: unplugging never waits for a writer the host ignores."""

from __future__ import annotations

import os
import select
import threading
import time

from simulators.pty_device import PtyDevice


def test_unplug_ends_a_write_blocked_on_a_full_tty(tmp_path):
    pty = PtyDevice(tmp_path / "tty").plug()
    host = os.open(pty.path, os.O_RDWR | os.O_NOCTTY)  # opened, never read: the tty buffer fills
    done = threading.Event()

    def typist():
        pty.write(b"x" * (1 << 20))
        done.set()

    thread = threading.Thread(target=typist, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        assert not done.is_set()  # blocked: the host reads nothing
        unplugger = threading.Thread(target=pty.unplug, daemon=True)
        unplugger.start()
        unplugger.join(5)
        assert not unplugger.is_alive(), "unplug() waited for the blocked writer"
        assert done.wait(5)
    finally:
        os.close(host)
        pty.close()


def test_a_blocked_write_goes_on_when_the_host_reads(tmp_path):
    pty = PtyDevice(tmp_path / "tty").plug()
    host = os.open(pty.path, os.O_RDWR | os.O_NOCTTY)
    data = bytes(range(256)) * 1024
    thread = threading.Thread(target=pty.write, args=(data,), daemon=True)
    thread.start()
    got = b""
    try:
        deadline = time.monotonic() + 10
        while len(got) < len(data) and time.monotonic() < deadline:
            if select.select([host], [], [], 0.1)[0]:
                got += os.read(host, 65536)
        thread.join(5)
        assert got == data
    finally:
        os.close(host)
        pty.close()


def test_a_device_that_drops_when_full_never_blocks(tmp_path):
    pty = PtyDevice(tmp_path / "tty")
    pty.drop_when_full = True
    pty.plug()
    host = os.open(pty.path, os.O_RDWR | os.O_NOCTTY)
    try:
        writer = threading.Thread(target=pty.write, args=(b"$GPGGA\r\n" * 100_000,), daemon=True)
        writer.start()
        writer.join(5)
        assert not writer.is_alive()
    finally:
        os.close(host)
        pty.close()
