"""A serial device stand-in: a pty whose slave is reachable at a stable path that can be unplugged.

Drivers open `path` (a symlink, like a udev name under /dev/serial/by-id). `unplug()`
closes the pty and removes the link, as a USB unplug does; `plug()` makes a fresh pty
behind the same path, so a driver that reopens the path finds the "same" device again.
"""

from __future__ import annotations

import os
import tempfile
import threading
import tty
from pathlib import Path


class PtyDevice:
    def __init__(self, path: str | os.PathLike[str] | None = None):
        if path is None:
            self._tmp = tempfile.mkdtemp(prefix="tally-pty-")
            path = os.path.join(self._tmp, "tty")
        else:
            self._tmp = None
        self.path = Path(path)
        self.master: int | None = None
        self.slave: int | None = None
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every plug and unplug: a blocked write() ends with its pty
        #: a UART that nobody reads drops bytes instead of waiting (the GPS's epoch clock must not stall)
        self.drop_when_full = False

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def plug(self) -> "PtyDevice":
        with self._lock:
            if self.master is not None:
                return self
            master, slave = os.openpty()
            tty.setraw(slave)  # no CR/LF translation or echo: bytes go through as a UART sends them
            os.set_blocking(master, False)  # write() waits in select(), outside the lock
            link_tmp = self.path.with_name(self.path.name + ".new")
            if link_tmp.is_symlink() or link_tmp.exists():
                link_tmp.unlink()
            os.symlink(os.ttyname(slave), link_tmp)
            os.replace(link_tmp, self.path)
            self.master, self.slave = master, slave
            self._generation += 1
        return self

    def unplug(self) -> None:
        with self._lock:
            if self.path.is_symlink():
                self.path.unlink()
            for fd in (self.master, self.slave):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self.master = self.slave = None
            self._generation += 1

    def write(self, data: bytes) -> None:
        """Send bytes as the device would; silently nothing while unplugged (like a cable in the air).

        Blocks while the host does not read (a full tty buffer), but never with the lock held: an
        unplug() from another thread must still be able to pull the cable on a blocked writer.
        """
        import select

        view = memoryview(data)
        while view:
            with self._lock:
                fd, generation = self.master, self._generation
                if fd is None:
                    return
                try:
                    view = view[os.write(fd, view):]
                    continue
                except BlockingIOError:
                    if self.drop_when_full:
                        return
                except OSError:
                    return
            try:
                select.select([], [fd], [], 0.05)
            except (OSError, ValueError):
                pass  # closed under us: the generation check says so
            if self._generation != generation:
                return

    def read(self, size: int = 4096, timeout: float = 0.1) -> bytes:
        """What the host wrote to the device (commands, polls)."""
        import select

        fd = self.master
        if fd is None:
            return b""
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(fd, size)
        except OSError:
            return b""

    def close(self) -> None:
        self.unplug()
        if self._tmp:
            try:
                os.rmdir(self._tmp)
            except OSError:
                pass

    def __enter__(self) -> "PtyDevice":
        return self.plug()

    def __exit__(self, *exc: object) -> None:
        self.close()
