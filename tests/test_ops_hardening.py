"""The unit's kernel sandbox, applied to the real gateway: does the hardening break anything it runs?

systemd turns SystemCallFilter=, MemoryDenyWriteExecute= and RestrictAddressFamilies= into seccomp
filters. Without systemd as PID 1 here, this test builds the same filters with libseccomp (the library
systemd uses), reading the unit file for the settings and `systemd-analyze syscall-filter` for the
groups, loads them into a child process and runs the gateway in it: serial scanner, SQLite outbox,
MQTT, the HTTP status server; and, separately, the camera decoders (OpenCV, numpy, zxing-cpp, zbar),
which are the likeliest to want writable+executable memory.

    python -m tests.test_ops_hardening UNIT -- run -c CONFIG     # the gateway in the sandbox, by hand
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "tally.service"

AF = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16}
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ = 4, 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def unit_settings(path: Path = UNIT) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@functools.cache
def syscall_group(name: str) -> frozenset[str]:
    """A systemd syscall group, nested groups expanded (as systemd-analyze lists them)."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name], capture_output=True,
                         text=True, check=True).stdout
    calls: set[str] = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        calls |= syscall_group(item) if item.startswith("@") else {item}
    return frozenset(calls)


def allowed_syscalls(settings: dict[str, list[str]]) -> set[str]:
    """SystemCallFilter= lines: the first an allow-list, `~` lines take away (systemd's own reading)."""
    allowed: set[str] = set()
    for value in settings.get("SystemCallFilter", []):
        deny = value.startswith("~")
        for item in value.lstrip("~").split():
            calls = syscall_group(item) if item.startswith("@") else {item}
            allowed = allowed - calls if deny else allowed | calls
    return allowed


class _Cmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


def _libseccomp():
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_Cmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    return lib


def apply_unit_sandbox(settings: dict[str, list[str]]) -> None:
    """Load the unit's seccomp filters into this process (irreversibly)."""
    lib = _libseccomp()

    def rule(ctx, action: int, name: str, *cmps: tuple[int, int, int, int]) -> None:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            return  # not a syscall on this architecture (mmap2, _llseek, ...)
        array = (_Cmp * len(cmps))(*[_Cmp(*c) for c in cmps])
        lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), array)

    def load(ctx) -> None:
        if lib.seccomp_load(ctx) != 0:
            raise OSError(ctypes.get_errno(), "seccomp_load failed")
        lib.seccomp_release(ctx)

    # Loaded in this order because each filter must still allow the next seccomp() call.
    if settings.get("MemoryDenyWriteExecute", ["no"])[-1] == "yes":
        ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
        eperm = _act_errno(errno.EPERM)
        wx = PROT_WRITE | PROT_EXEC
        rule(ctx, eperm, "mmap", (2, SCMP_CMP_MASKED_EQ, wx, wx))
        rule(ctx, eperm, "mprotect", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        rule(ctx, eperm, "pkey_mprotect", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        rule(ctx, eperm, "shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
        load(ctx)
    families = settings.get("RestrictAddressFamilies")
    if families:
        allowed = {AF[name] for name in families[-1].split()}
        ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
        for family in range(64):
            if family not in allowed:
                rule(ctx, _act_errno(errno.EAFNOSUPPORT), "socket", (0, SCMP_CMP_EQ, family, 0))
        load(ctx)
    if settings.get("SystemCallFilter"):
        code = errno.EPERM
        if settings.get("SystemCallErrorNumber"):
            code = getattr(errno, settings["SystemCallErrorNumber"][-1])
        ctx = lib.seccomp_init(_act_errno(code))
        for name in sorted(allowed_syscalls(settings)):
            rule(ctx, SCMP_ACT_ALLOW, name)
        load(ctx)


def sandboxed(*argv: str, unit: Path = UNIT) -> list[str]:
    return [sys.executable, "-m", "tests.test_ops_hardening", str(unit), "--", *argv]


def _need_tools() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    if ctypes.util.find_library("seccomp") is None:
        pytest.skip("libseccomp is not installed (Debian: apt-get install libseccomp2)")


def _run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# ---- tests ----------------------------------------------------------------------------------------

def test_the_sandbox_is_real():
    """The filters bite: W+X memory, a packet socket and a privileged call are refused in the child."""
    _need_tools()
    probe = ("import mmap, socket, os\n"
             "try:\n    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC); print('wx ok')\n"
             "except PermissionError: print('wx refused')\n"
             "try:\n    socket.socket(socket.AF_PACKET, socket.SOCK_RAW); print('packet ok')\n"
             "except OSError as e: print('packet refused', e.errno)\n"
             "try:\n    os.setuid(0); print('setuid ok')\n"
             "except PermissionError: print('setuid refused')\n")
    result = _run(sandboxed("-c", probe))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["wx refused", f"packet refused {errno.EAFNOSUPPORT}", "setuid refused"]


def test_the_camera_decoders_run_under_w_xor_x():
    _need_tools()
    pytest.importorskip("cv2")
    zxingcpp = pytest.importorskip("zxingcpp")
    del zxingcpp
    code = ("import numpy, zxingcpp, cv2\n"
            "from drivers.camera_decoder import decode_frame\n"
            "img = numpy.asarray(zxingcpp.write_barcode(zxingcpp.BarcodeFormat.DataMatrix, '010950600013435221S1',"
            " 200, 200))\n"
            "frame = cv2.cvtColor(cv2.copyMakeBorder(img, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255),"
            " cv2.COLOR_GRAY2BGR)\n"
            "print([r.get('text') or r.get('input') or r for r in decode_frame(frame)])\n")
    result = _run(sandboxed("-c", code))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "010950600013435221S1" in result.stdout, result.stdout + result.stderr[-2000:]


def test_libusb_needs_netlink_which_is_why_the_unit_allows_it(tmp_path):
    """usb-pos-scanner (pyusb) gets no libusb backend when AF_NETLINK is refused."""
    _need_tools()
    pytest.importorskip("usb")
    code = "import usb.backend.libusb1 as b; print('backend', b.get_backend() is not None)"
    assert _run(sandboxed("-c", code)).stdout.strip() == "backend True"
    narrower = tmp_path / "no-netlink.service"
    narrower.write_text(UNIT.read_text().replace(" AF_NETLINK\n", "\n"))
    assert "AF_NETLINK" not in unit_settings(narrower)["RestrictAddressFamilies"][-1]
    assert _run(sandboxed("-c", code, unit=narrower)).stdout.strip() == "backend False"


def test_the_gateway_runs_in_the_units_sandbox(tmp_path, mosquitto, subscriber):
    _need_tools()
    from gateway.broker import free_port
    from simulators.serial_scanner import SerialScannerSimulator
    from tests.helpers.gateway import write_config
    from tests.test_ops_support import get_json, unit, wait_until

    port = free_port()
    with SerialScannerSimulator(str(tmp_path / "scanner"), terminator="crlf") as scanner:
        config = write_config(tmp_path / "tally.toml", broker_port=mosquitto.port, data_dir=tmp_path / "data",
                              devices=[{"name": "door-1", "driver": "serial-scanner", "port": scanner.path,
                                        "biz_step": "receiving", "dedupe_ms": 0}],
                              extra={"status": {"listen": f"127.0.0.1:{port}"}})
        log = open(tmp_path / "gateway.log", "wb")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(sandboxed("run", "-c", str(config)), cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            read_log = (tmp_path / "gateway.log").read_text
            wait_until(lambda: "door-1: open" in read_log() or proc.poll() is not None, what="the scanner")
            assert proc.poll() is None, read_log()
            wait_until(lambda: get_json(port, "/healthz")[0] == 200, what="healthz")
            for i in range(5):
                scanner.scan(unit(i))
            events = subscriber.wait_events(5)
            assert len(events) == 5, read_log()
            assert get_json(port, "/status.json")[1]["counters"]["events"] == 5
            proc.terminate()
            assert proc.wait(20) == 0, read_log()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    text = (tmp_path / "gateway.log").read_text()
    assert "Traceback" not in text and "Operation not permitted" not in text, text


def main(argv: list[str]) -> int:
    """`python -m tests.test_ops_hardening UNIT -- ARGS`: ARGS run as the gateway (or `-c CODE`) in UNIT's sandbox."""
    unit = Path(argv[0])
    args = argv[argv.index("--") + 1:]
    apply_unit_sandbox(unit_settings(unit))
    if args[:1] == ["-c"]:
        exec(compile(args[1], "<sandboxed>", "exec"), {"__name__": "__sandboxed__"})
        return 0
    from gateway.cli import main as tally

    return tally(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
