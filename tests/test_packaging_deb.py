"""The .deb end to end (minutes, not in the default run: `./dev test -m deb tests/test_packaging_deb.py`).

packaging/test-deb-in-debootstrap builds the package with packaging/build-deb, installs it into a fresh
Debian bookworm made by debootstrap, checks what the package put in place, and runs the gateway there as
user tally against a private mosquitto until READY=1 and events acknowledged by the broker; SIGTERM ends it
with exit 0; the package is then purged. The script says what failed; this test runs it.

The arm64 one (a Raspberry Pi's) is built in an arm64 bookworm and tested in another, both run here under
qemu user emulation: an hour or so. TALLY_ARM64_DEB=path/to/tally_*_arm64.deb tests a package already built
(`packaging/build-deb --arch arm64`) instead of building one.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.helpers.gateway import ROOT

pytestmark = [pytest.mark.deb, pytest.mark.slow]


def run_test_deb(tmp_path, *args: str, timeout: int) -> str:
    if os.geteuid() != 0:
        pytest.fail("debootstrap, chroot and mounts need root: run this test as root")
    assert shutil.which("apt-get"), "a Debian system is needed to build and test the .deb"
    script = ROOT / "packaging" / "test-deb-in-debootstrap"
    result = subprocess.run([str(script), *args], env={**os.environ, "TMPDIR": str(tmp_path)},
                            capture_output=True, text=True, timeout=timeout)
    print(result.stdout)  # each step with its time since the start
    assert result.returncode == 0, result.stdout[-4000:] + "\n" + result.stderr[-4000:]
    assert "PASS:" in result.stdout
    assert "READY=1 received" in result.stdout and "SIGTERM: exit 0" in result.stdout
    return result.stdout


def test_the_deb_installs_into_a_fresh_debian_and_the_gateway_runs_there(tmp_path):
    run_test_deb(tmp_path, timeout=1800)


def test_the_arm64_deb_installs_into_a_fresh_arm64_debian_under_qemu_and_the_gateway_runs_there(tmp_path):
    deb = os.environ.get("TALLY_ARM64_DEB")
    out = run_test_deb(tmp_path, "--arch", "arm64", *([deb] if deb else []), timeout=3 * 3600)
    assert "a bookworm arm64 system: aarch64" in out
    assert "PASS: the arm64 package" in out
