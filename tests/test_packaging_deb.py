"""The .deb end to end (minutes, not in the default run: `./dev test -m deb tests/test_packaging_deb.py`).

packaging/test-deb-in-debootstrap builds the package with packaging/build-deb, installs it into a fresh
Debian bookworm made by debootstrap, checks what the package put in place, and runs the gateway there as
user tally against a private mosquitto until READY=1 and events acknowledged by the broker; SIGTERM ends it
with exit 0; the package is then purged. The script says what failed; this test runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.helpers.gateway import ROOT

pytestmark = [pytest.mark.deb, pytest.mark.slow]


def test_the_deb_installs_into_a_fresh_debian_and_the_gateway_runs_there(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("debootstrap, chroot and mounts need root: run this test as root")
    assert shutil.which("apt-get"), "a Debian system is needed to build and test the .deb"
    script = ROOT / "packaging" / "test-deb-in-debootstrap"
    result = subprocess.run([str(script)], env={**os.environ, "TMPDIR": str(tmp_path)}, capture_output=True,
                            text=True, timeout=1800)
    print(result.stdout)  # each step with its time since the start
    assert result.returncode == 0, result.stdout[-4000:] + "\n" + result.stderr[-4000:]
    assert "PASS:" in result.stdout
    assert "READY=1 received" in result.stdout and "SIGTERM: exit 0" in result.stdout
