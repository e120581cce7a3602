"""The unit files and udev rules, checked by systemd's and udev's own tools; and the daemon speaking the
unit's sd_notify protocol (READY, WATCHDOG, STOPPING) on a real notify socket."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.gateway import write_config

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "systemd"
RULES = ROOT / "config" / "99-tally.rules"
TALLY = Path(sys.executable).parent / "tally"


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=60)


def runnable_copy(tmp_path: Path, name: str, as_name: str | None = None) -> Path:
    """The unit with ExecStart= pointing at this checkout's tally: verify wants a program that exists."""
    assert TALLY.exists(), f"{TALLY} missing: pip install -e . first"
    text = (UNITS / name).read_text()
    assert "ExecStart=/usr/local/bin/tally " in text
    copy = tmp_path / (as_name or name)
    copy.write_text(text.replace("/usr/local/bin/tally", str(TALLY)))
    return copy


def settings(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("name,as_name", [("tally.service", None), ("tally@.service", "tally@door-2.service")])
def test_units_verify_cleanly(tmp_path, name, as_name):
    copy = runnable_copy(tmp_path, name, as_name)
    result = analyze("verify", "--man=no", str(copy))
    assert result.returncode == 0, result.stderr
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if copy.name in line]
    assert not complaints, complaints


def test_verify_would_catch_a_broken_unit(tmp_path):
    """The check above is not vacuous: a typo'd key and bad device rights are reported."""
    copy = runnable_copy(tmp_path, "tally.service")
    copy.write_text(copy.read_text().replace("ProtectHome=yes", "ProtectHom=yes").replace(
        "DeviceAllow=char-ttyACM rw", "DeviceAllow=char-ttyACM rwx"))
    result = analyze("verify", "--man=no", str(copy))
    text = result.stdout + result.stderr
    assert "ProtectHom" in text and "rwx" in text, text


@pytest.mark.parametrize("name,as_name", [("tally.service", None), ("tally@.service", "tally@door-2.service")])
def test_exposure_is_at_most_2(tmp_path, name, as_name):
    copy = runnable_copy(tmp_path, name, as_name)
    result = analyze("security", "--offline=yes", "--no-pager", str(copy))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    assert match, result.stdout[-2000:] + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


def test_the_unit_says_what_the_daemon_needs():
    s = settings(UNITS / "tally.service")
    one = {k: v[-1] for k, v in s.items()}
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    assert one["WatchdogSec"] == "30s" and one["Restart"] == "on-failure"
    assert one["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert one["ExecStart"] == "/usr/local/bin/tally run -c /etc/tally/tally.toml"
    assert one["User"] == "tally" and set(one["SupplementaryGroups"].split()) >= {"dialout", "input", "plugdev"}
    assert one["StateDirectory"] == "tally" and one["ConfigurationDirectory"] == "tally"
    for key, value in {"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
                       "CapabilityBoundingSet": "", "RestrictNamespaces": "yes", "LockPersonality": "yes",
                       "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native", "ProtectClock": "yes",
                       "ProtectProc": "invisible", "ProcSubset": "pid", "RestrictSUIDSGID": "yes", "UMask": "0077",
                       "PrivateDevices": "no", "DevicePolicy": "closed", "RemoveIPC": "yes",
                       "RestrictRealtime": "yes"}.items():
        assert one.get(key) == value, key
    assert s["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert set(one["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    devices = {line.split()[0] for line in s["DeviceAllow"]}
    assert devices >= {"char-ttyACM", "char-ttyUSB", "char-input", "char-usb_device", "char-video4linux"}


def test_the_instance_unit_is_the_same_unit_per_config():
    main = (UNITS / "tally.service").read_text().split("[Unit]", 1)[1].splitlines()
    instance = (UNITS / "tally@.service").read_text().split("[Unit]", 1)[1].splitlines()
    assert len(main) == len(instance)
    differ = [(a, b) for a, b in zip(main, instance) if a != b]
    assert differ == [
        ("Description=Tally edge scanning gateway (scanners, RFID, GPS -> EPCIS over MQTT)",
         "Description=Tally edge scanning gateway %i (scanners, RFID, GPS -> EPCIS over MQTT)"),
        ("ExecStart=/usr/local/bin/tally run -c /etc/tally/tally.toml",
         "ExecStart=/usr/local/bin/tally run -c /etc/tally/%i.toml"),
        ("StateDirectory=tally", "StateDirectory=tally/%i"),
        ("RuntimeDirectory=tally", "RuntimeDirectory=tally/%i"),
    ]


# ---- udev rules ----------------------------------------------------------------------------------

def udev_complaints(rules: Path) -> list[str]:
    """What udev's own parser says about a rules file (loaded in a private mount namespace: the host's
    rules directory is not touched)."""
    if shutil.which("udevadm") is None or shutil.which("unshare") is None:
        pytest.skip("udevadm/unshare not installed (Debian: apt-get install udev util-linux)")
    script = ('set -e; mount -t tmpfs tally-test /etc/udev/rules.d; cp "$1" /etc/udev/rules.d/99-tally.rules; '
              'udevadm test --action=add /sys/class/tty/tty 2>&1 || true')
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(rules)],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0 or "Reading rules file: /etc/udev/rules.d/99-tally.rules" not in result.stdout:
        pytest.skip(f"cannot load udev rules in a private mount namespace here (needs root): {result.stderr[-300:]}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("/etc/udev/rules.d/99-tally.rules:")]
    # The group is made by `tally install` before the rules are installed; this machine need not have it.
    return [line for line in lines if "Unknown group 'tally'" not in line]


def test_udev_parses_the_rules_without_complaint():
    assert udev_complaints(RULES) == []


def test_udev_check_would_catch_a_broken_rule(tmp_path):
    broken = tmp_path / "broken.rules"
    broken.write_text(RULES.read_text() + '\nSUBSYSTEM=="tty", ATTRS{idVendor}=="1234", SYMLNK+="tally/x"\n'
                      'SUBSYSTEM=="tty", MODE="0660\n')
    complaints = udev_complaints(broken)
    assert len(complaints) >= 2, complaints


def test_the_rules_name_devices_under_dev_tally_for_group_tally():
    text = RULES.read_text()
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    for line in rules:
        for symlink in re.findall(r'SYMLINK\+="([^"]+)"', line):
            assert symlink.startswith("tally/"), line
        if 'GROUP="' in line:
            assert 'GROUP="tally"' in line and 'MODE="0660"' in line and 'TAG+="systemd"' in line, line
    for vendor in ("0c2e", "05e0", "05f9"):  # Honeywell, Zebra, Datalogic
        assert any(vendor in line and 'SUBSYSTEM=="tty"' in line for line in rules), vendor
    assert any('"1546"' in line and "01a7|01a8|01a9" in line for line in rules)  # u-blox 7/8/9
    assert any('SUBSYSTEM=="input"' in line and "ID_INPUT_KEYBOARD" in line for line in rules)  # wedges
    for adapter in ("0403", "10c4", "1a86"):  # FTDI, CP210x, CH340: a documented pattern, not a blanket claim
        assert f'#SUBSYSTEM=="tty", ATTRS{{idVendor}}=="{adapter}"' in text
        assert not any(f'"{adapter}"' in line for line in rules)
    assert "udevadm info" in text


# ---- the daemon and the unit's notify protocol ---------------------------------------------------

def test_the_daemon_speaks_the_units_notify_protocol(tmp_path, mosquitto, scanner, gateway_process, monkeypatch):
    """Type=notify + WatchdogSec=: READY=1 once up, WATCHDOG=1 at half the interval, STOPPING=1 on SIGTERM."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(0.2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # WatchdogSec=1s: pings every 0.5 s
    config = write_config(tmp_path / "tally.toml", broker_port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=[{"name": "door-1", "driver": "serial-scanner", "port": scanner.path}])
    gw = gateway_process(config)
    got: list[tuple[float, str]] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sum("WATCHDOG=1" in m for _, m in got) < 4:
        try:
            got.append((time.monotonic(), notify.recv(4096).decode()))
        except socket.timeout:
            assert gw.proc.poll() is None, gw.log()
    assert got and got[0][1].startswith("READY=1"), got
    pings = [t for t, m in got if m == "WATCHDOG=1"]
    assert len(pings) >= 4, got
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert all(0.3 < gap < 0.9 for gap in gaps), gaps
    assert gw.terminate() == 0
    rest = []
    while True:
        try:
            rest.append(notify.recv(4096).decode())
        except socket.timeout:
            break
    assert "STOPPING=1" in rest, rest
    notify.close()
    os.unlink(tmp_path / "notify.sock")
