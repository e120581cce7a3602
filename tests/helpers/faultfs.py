"""A disk that can lose power or fail, for tests: a FUSE pass-through filesystem over a real directory.

Power cut. Writes are kept in memory, per file, and reach the backing directory only when the
file is fsynced (fsync or fdatasync): the backing directory always holds exactly what a disk
would still hold after power loss. A file's creation reaches it for good only when its directory
is fsynced (what POSIX asks for; SQLite does it for a new WAL). `FaultFS.cut()` is the moment
power goes: from then on every operation fails and nothing more reaches the backing directory,
the unsynced writes and names are thrown away, the processes using the mount are SIGKILLed, and
the mount goes away. The backing directory is then the disk as found after a reboot.

Failing disk. `fail(errno.EIO)` (or ENOSPC, …) makes every write, fsync, truncate and create
fail with that errno until `recover()`; reads keep working, as on a real card that went bad
for writes or a disk that filled. `fail(errno.EIO, fsync_only=True)` lets writes succeed and
fails only the fsync, as when the page cache takes the writes and the device fails later; with
`lose=True` that failed fsync also loses those writes for good while they stay readable, as Linux
does after a writeback error (the pages are marked clean; the next fsync succeeds without them:
the "fsyncgate" of 2018, https://wiki.postgresql.org/wiki/Fsync_Errors).

The filesystem runs in its own process (`python faultfs.py BACKING MOUNTPOINT`), so a test
process never serves its own system calls and the cut can be abrupt; it takes commands
(`fail N`, `recover`, `cut`, `stats`) on stdin and answers each with one JSON line.
Kernel locks are local (no `lock` operation), enough for several connections on one machine;
mmap works (no direct_io), which SQLite's WAL index needs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterable

BLOCK = 4096
HIDDEN = ".fuse_hidden"  # libfuse renames a file unlinked while open to this, until it is closed


class _Volatile:
    """A file's contents as the page cache sees them: the backing file plus writes not yet fsynced."""

    def __init__(self, real: str):
        self.fd = os.open(real, os.O_RDWR)
        self.size = os.fstat(self.fd).st_size
        self.floor = self.size  # backing bytes at or past floor were truncated away (zeros until synced)
        self.blocks: dict[int, bytearray] = {}
        # Written, then lost by a failed fsync: still readable from the cache, never on the disk
        # (Linux marks such pages clean after a writeback error), until written again.
        self.ghosts: dict[int, bytearray] = {}

    def _block(self, index: int) -> bytearray:
        blk = self.blocks.get(index)
        if blk is None:
            if index in self.ghosts:
                blk = self.blocks[index] = self.ghosts.pop(index)
                return blk
            start = index * BLOCK
            valid = max(0, min(BLOCK, self.floor - start))
            base = os.pread(self.fd, valid, start) if valid else b""
            blk = self.blocks[index] = bytearray(base.ljust(BLOCK, b"\0"))
        return blk

    def write(self, data: bytes, offset: int) -> None:
        end, pos = offset + len(data), offset
        while pos < end:
            index, lo = divmod(pos, BLOCK)
            n = min(BLOCK - lo, end - pos)
            self._block(index)[lo:lo + n] = data[pos - offset:pos - offset + n]
            pos += n
        self.size = max(self.size, end)

    def read(self, size: int, offset: int) -> bytes:
        end, pos = min(offset + size, self.size), offset
        out = bytearray()
        while pos < end:
            index, lo = divmod(pos, BLOCK)
            n = min(BLOCK - lo, end - pos)
            blk = self.blocks.get(index)
            if blk is None:
                blk = self.ghosts.get(index)
            if blk is not None:
                out += blk[lo:lo + n]
            else:
                valid = max(0, min(n, self.floor - pos))
                out += (os.pread(self.fd, valid, pos) if valid else b"").ljust(n, b"\0")
            pos += n
        return bytes(out)

    def truncate(self, length: int) -> None:
        if length < self.size:
            for blocks in (self.blocks, self.ghosts):
                for index in [i for i in blocks if i * BLOCK >= length]:
                    del blocks[index]
                index, lo = divmod(length, BLOCK)
                if index in blocks:
                    blocks[index][lo:] = bytes(BLOCK - lo)
            self.floor = min(self.floor, length)
        self.size = length

    def pending(self) -> int:
        return (len(self.blocks) + len(self.ghosts)) * BLOCK + (self.size != self.floor)

    def lose(self) -> None:
        """A failed fsync: what it should have written stays in the cache and never reaches the disk."""
        self.ghosts.update(self.blocks)
        self.blocks.clear()

    def sync(self) -> None:
        os.ftruncate(self.fd, self.floor)
        for index in sorted(self.blocks):
            start = index * BLOCK
            n = min(BLOCK, self.size - start)
            if n > 0:
                os.pwrite(self.fd, self.blocks[index][:n], start)
        os.ftruncate(self.fd, self.size)
        self.blocks.clear()
        self.floor = self.size

    def close(self) -> None:
        os.close(self.fd)


def _operations(backing: str):
    import mfusepy  # only the filesystem's own process needs the binding

    class FaultOps(mfusepy.Operations):
        use_ns = True

        def __init__(self) -> None:
            self.root = os.path.realpath(backing)
            self.mutex = threading.RLock()
            self.files: dict[str, _Volatile] = {}
            self.unsynced_names: set[str] = set()  # created since their directory was last fsynced
            self.fault: int | None = None
            self.fault_syncs_only = False  # writes succeed and only fsync fails: the page cache hides the error
            self.fault_loses = False  # a failed fsync loses the writes it was asked to make durable
            self.dead = False
            self.counts = {"writes": 0, "fsyncs": 0, "dir_fsyncs": 0, "failed": 0}

        def _real(self, path: str) -> str:
            return os.path.join(self.root, path.lstrip("/"))

        def _check(self, faultable: bool = True, sync: bool = False) -> None:
            if self.dead:
                raise mfusepy.FuseOSError(errno.EIO)
            if faultable and self.fault is not None and (sync or not self.fault_syncs_only):
                self.counts["failed"] += 1
                raise mfusepy.FuseOSError(self.fault)

        def _volatile(self, path: str) -> _Volatile:
            vol = self.files.get(path)
            if vol is None:
                vol = self.files[path] = _Volatile(self._real(path))
            return vol

        def _drop(self, path: str) -> None:
            vol = self.files.pop(path, None)
            if vol is not None:
                vol.close()

        # ---- control (from the test, through stdin) ----

        def command(self, line: str) -> dict[str, Any]:
            word, *args = line.split()
            with self.mutex:
                if word == "fail":
                    self.fault = int(args[0])
                    self.fault_syncs_only = "fsync" in args[1:]
                    self.fault_loses = "lose" in args[1:]
                elif word == "recover":
                    self.fault = None
                elif word == "cut":
                    return self._cut()
                elif word != "stats":
                    return {"error": f"unknown command {word!r}"}
                return {"fault": self.fault, "dead": self.dead, **self.counts,
                        "unsynced": {p: v.pending() for p, v in self.files.items() if v.pending()}}

        def _cut(self) -> dict[str, Any]:
            self.dead = True
            lost_bytes = sum(v.pending() for v in self.files.values())
            lost_files = sorted(p for p, v in self.files.items() if v.pending())
            for path in list(self.files):
                self._drop(path)
            lost_names = sorted(self.unsynced_names)
            for path in lost_names:
                try:
                    os.unlink(self._real(path))
                except FileNotFoundError:
                    pass
            # Files unlinked while open vanish with the power (libfuse kept them under a hidden name).
            for dirpath, _, names in os.walk(self.root):
                for name in names:
                    if name.startswith(HIDDEN):
                        os.unlink(os.path.join(dirpath, name))
            return {"lost_bytes": lost_bytes, "lost_files": lost_files, "lost_names": lost_names, **self.counts}

        # ---- metadata ----

        def init(self, path: str) -> None:
            print(json.dumps({"ready": True}), flush=True)

        def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
            with self.mutex:
                self._check(faultable=False)
                st = os.lstat(self._real(path))
                attrs = {key: getattr(st, key) for key in
                         ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_blocks", "st_ino")}
                attrs.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
                vol = self.files.get(path)
                if vol is not None:
                    attrs["st_size"] = vol.size
                    attrs["st_blocks"] = (vol.size + 511) // 512
                return attrs

        def readdir(self, path: str, fh: int) -> list[str]:
            with self.mutex:
                self._check(faultable=False)
                return [".", "..", *os.listdir(self._real(path))]

        def statfs(self, path: str) -> dict[str, int]:
            st = os.statvfs(self._real(path))
            return {key: getattr(st, key) for key in
                    ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_namemax")}

        def access(self, path: str, amode: int) -> int:
            return 0

        def chmod(self, path: str, mode: int) -> int:
            with self.mutex:
                self._check()
                os.chmod(self._real(path), mode)
            return 0

        def chown(self, path: str, uid: int, gid: int) -> int:
            with self.mutex:
                self._check()
                os.chown(self._real(path), uid, gid)
            return 0

        def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
            with self.mutex:
                self._check()
                os.utime(self._real(path), ns=times)
            return 0

        def mkdir(self, path: str, mode: int) -> int:
            with self.mutex:
                self._check()
                os.mkdir(self._real(path), mode)
            return 0

        def rmdir(self, path: str) -> int:
            with self.mutex:
                self._check()
                os.rmdir(self._real(path))
            return 0

        def unlink(self, path: str) -> int:
            with self.mutex:
                self._check(faultable=False)  # a full disk still lets you delete
                os.unlink(self._real(path))
                self._drop(path)
                self.unsynced_names.discard(path)
            return 0

        def rename(self, old: str, new: str) -> int:
            with self.mutex:
                self._check(faultable=False)
                os.rename(self._real(old), self._real(new))
                self._drop(new)
                if old in self.files:
                    self.files[new] = self.files.pop(old)
                if old in self.unsynced_names:
                    self.unsynced_names.discard(old)
                    self.unsynced_names.add(new)
            return 0

        def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
            with self.mutex:
                self._check(sync=True)
                prefix = path.rstrip("/") + "/"
                self.unsynced_names = {p for p in self.unsynced_names
                                       if not (p.startswith(prefix) and "/" not in p[len(prefix):])}
                self.counts["dir_fsyncs"] += 1
            return 0

        # ---- data ----

        def create(self, path: str, mode: int, flags: int) -> int:
            with self.mutex:
                self._check()
                real = self._real(path)
                existed = os.path.exists(real)
                fd = os.open(real, os.O_RDWR | os.O_CREAT | (flags & os.O_EXCL), mode)
                if not existed:
                    self.unsynced_names.add(path)
                if flags & os.O_TRUNC:
                    self._volatile(path).truncate(0)
                return fd

        def open(self, path: str, flags: int) -> int:
            with self.mutex:
                self._check(faultable=False)
                fd = os.open(self._real(path), os.O_RDWR)
                if flags & os.O_TRUNC:
                    self._check()
                    self._volatile(path).truncate(0)
                return fd

        def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
            with self.mutex:
                self._check(faultable=False)
                vol = self.files.get(path)
                return vol.read(size, offset) if vol is not None else os.pread(fh, size, offset)

        def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
            with self.mutex:
                self._check()
                self._volatile(path).write(data, offset)
                self.counts["writes"] += 1
            return len(data)

        def truncate(self, path: str, length: int, fh: int | None = None) -> int:
            with self.mutex:
                self._check()
                self._volatile(path).truncate(length)
            return 0

        def fsync(self, path: str, datasync: int, fh: int) -> int:
            with self.mutex:
                vol = self.files.get(path)
                try:
                    self._check(sync=True)
                except OSError:
                    if vol is not None and self.fault_loses:
                        vol.lose()
                    raise
                if vol is not None:
                    vol.sync()
                    if not vol.ghosts:
                        self._drop(path)
                self.counts["fsyncs"] += 1
            return 0

        def flush(self, path: str, fh: int) -> int:
            return 0

        def release(self, path: str, fh: int) -> int:
            os.close(fh)
            return 0

    return mfusepy, FaultOps()


def serve(backing: str, mountpoint: str) -> None:
    mfusepy, ops = _operations(backing)

    def control() -> None:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(ops.command(line)), flush=True)
        # The test is gone: do not leave a mount behind (libfuse unmounts on SIGTERM).
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=control, daemon=True).start()
    mfusepy.FUSE(ops, mountpoint, foreground=True, fsname="faultfs")


class FaultFS:
    """The test's handle: `with FaultFS(backing, mountpoint) as fs:` mounts; `fs.cut(pids)`, `fs.fail(errno.EIO)`."""

    def __init__(self, backing: str | Path, mountpoint: str | Path):
        self.backing = Path(backing)
        self.mountpoint = Path(mountpoint)
        self.proc: subprocess.Popen[str] | None = None
        self.log = self.mountpoint.parent / f"{self.mountpoint.name}.faultfs.log"

    def start(self, timeout: float = 15.0) -> "FaultFS":
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, __file__, str(self.backing), str(self.mountpoint)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(self.log, "ab"), text=True, bufsize=1)
        line = self._line(timeout)
        if not json.loads(line).get("ready"):
            raise RuntimeError(f"faultfs did not start: {line!r}; see {self.log}")
        return self

    def _line(self, timeout: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not found or not found[0]:
            raise RuntimeError(f"faultfs gave no answer; see {self.log}: {self.log.read_text()[-2000:]}")
        return found[0]

    def _command(self, line: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self._line(15.0))

    def fail(self, err: int, fsync_only: bool = False, lose: bool = False) -> dict[str, Any]:
        """Every write, fsync, truncate and create fails with `err` (or only fsync) until recover().

        lose: a failed fsync also loses what it should have written (still readable, never on
        the disk): Linux after a writeback error, where the next fsync succeeds without it.
        """
        return self._command(f"fail {int(err)}" + (" fsync" if fsync_only else "") + (" lose" if lose else ""))

    def recover(self) -> dict[str, Any]:
        return self._command("recover")

    def stats(self) -> dict[str, Any]:
        return self._command("stats")

    def cut(self, victims: Iterable[subprocess.Popen] = ()) -> dict[str, Any]:
        """Power goes: nothing more reaches the disk; the victims die where they stand; the mount goes."""
        lost = self._command("cut")
        for victim in victims:
            if victim.poll() is None:
                victim.send_signal(signal.SIGKILL)
            victim.wait()
        self.stop()
        return lost

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # libfuse unmounts on SIGTERM
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self.proc = None
        if os.path.ismount(self.mountpoint) or _stale(self.mountpoint):
            umount = shutil.which("fusermount3") or shutil.which("fusermount")
            cmd = [umount, "-u", "-z", str(self.mountpoint)] if umount else ["umount", "-l", str(self.mountpoint)]
            subprocess.run(cmd, check=False, capture_output=True)

    def __enter__(self) -> "FaultFS":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stale(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ENOTCONN
    return False


def available() -> str | None:
    """Why FUSE cannot be used here, or None when it can."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    return None


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    serve(sys.argv[1], sys.argv[2])
