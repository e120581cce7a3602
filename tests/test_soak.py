"""The soak (benchmarks/soak.py) in a short variant: a dock shift against the real daemon with random SIGKILLs,
broker outages, unplugs, disk-full episodes and reloads; no accepted read lost, RSS and open files flat.

TALLY_SOAK_SECONDS sets the length (120 s by default, to keep the suite short on a small machine; the issue's
five-minute variant is TALLY_SOAK_SECONDS=300), TALLY_SOAK_SEED the seed (fixed by default, so a failure repeats).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gateway.broker import find_mosquitto
from tests.helpers.gateway import ROOT

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("TALLY_SOAK_SECONDS", "120"))
SEED = int(os.environ.get("TALLY_SOAK_SEED", "1130"))


def test_a_shift_with_faults_loses_no_accepted_read(tmp_path):
    if find_mosquitto() is None:
        pytest.fail("the soak needs mosquitto (Debian: apt-get install mosquitto)")
    scale = SECONDS / 120
    counts = {"--kills": round(8 * scale), "--outages": max(1, round(3 * scale)),
              "--unplugs": max(1, round(3 * scale)), "--disk-full": max(1, round(2 * scale)),
              "--reloads": max(1, round(2 * scale))}
    out = tmp_path / "soak.json"
    argv = [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--seconds", str(SECONDS), "--seed", str(SEED),
            "--out", str(out), *(str(x) for kv in counts.items() for x in kv)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=SECONDS * 3 + 300)
    assert out.exists(), done.stderr[-3000:]
    result = json.loads(out.read_text())
    summary = {k: result[k] for k in ("seed", "reads_typed", "delivered_unique", "typed_not_accepted", "lost",
                                      "seq_gaps", "counted_drops", "duplicates_delivered", "broken")}
    assert done.returncode == 0 and result["ok"], json.dumps(summary, indent=1) + "\n" + done.stderr[-3000:]
    assert result["lost"] == 0 and result["seq_gaps"] <= result["counted_drops"]["events"]
    assert result["kills"] == counts["--kills"] and result["outages"] == counts["--outages"]
    assert result["unplugs"] == counts["--unplugs"] and result["reloads"] == counts["--reloads"]
    if os.geteuid() == 0:  # the tmpfs needs root; without it the episodes are logged as skipped
        assert result["disk_full"] == counts["--disk-full"]
    assert result["memory"]["flat"], result["memory"]
    # Most of the shift is accepted: only the reads in flight at a kill or an unplug may not be.
    assert result["delivered_unique"] + result["typed_not_accepted"] == result["reads_typed"]
    assert result["delivered_unique"] > result["reads_typed"] / 2
