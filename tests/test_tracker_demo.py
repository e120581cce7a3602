"""`tally demo` runs the tracker too: its page's address is printed, and a parcel scanned in the demo can be
tracked there."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.helpers.gateway import ROOT

PARCEL = "1Z5R89390357567127"


@pytest.mark.slow
def test_the_demo_serves_the_tracking_page():
    demo = subprocess.Popen([sys.executable, "-m", "gateway", "demo", "--duration", "40", "--rate", "8"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda s=s, into=into: into.extend(s), daemon=True)
               for s, into in ((demo.stdout, out), (demo.stderr, err))]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 40
        page = None
        while time.monotonic() < deadline and page is None:
            found = [m for line in list(err) if (m := re.search(r"tracking page (http://\S+/)", line))]
            page = found[0].group(1) if found else None
            time.sleep(0.1)
        assert page, "".join(err)[-3000:]
        answer = None
        while time.monotonic() < deadline and answer is None:
            try:
                with urllib.request.urlopen(page + "track/" + PARCEL, timeout=5) as response:
                    answer = json.loads(response.read())
            except urllib.error.HTTPError:
                time.sleep(0.2)
        assert answer and answer["kind"] == "shipment", "".join(out)[-2000:]
        assert answer["history"][0]["tally:raw"] == PARCEL
        with urllib.request.urlopen(page, timeout=5) as response:
            assert b"<title>Tally tracker</title>" in response.read()
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(40) == 0, "".join(err)[-3000:]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert "Traceback" not in "".join(err)
