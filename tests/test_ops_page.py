"""The status page rendered by a real browser (headless Chromium) against the real daemon: devices,
backlog and recent scans show, and a scan full of HTML shows as text, not as markup."""

from __future__ import annotations

import html
import shutil
import subprocess

import pytest

from gateway.broker import free_port
from tests.test_ops_support import get_json, ops_config, unit, wait_until

INJECTION = "<img src=x onerror=\"document.title='pwned'\"><b id=\"injected\">bold</b><script>document.title='pwned'</script>"


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; ./dev test installs it)")
    return binary


def rendered_dom(url: str, profile) -> str:
    result = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_page_shows_devices_backlog_and_scans_as_text(tmp_path, scanner, gateway_process):
    chromium()
    # No broker: everything stays in the outbox, so the backlog has numbers worth showing.
    config, port = ops_config(tmp_path, free_port(), scanner, device={"name": "door-7-left"}, gateway_id="dock-42")
    gw = gateway_process(config)
    wait_until(lambda: get_json(port, "/healthz")[0] == 200, gw=gw, what="healthz")
    wait_until(lambda: gw.log().count("door-7-left: open"), gw=gw, what="the scanner")
    for i in range(3):
        scanner.scan(unit(i))
    scanner.scan(INJECTION)
    wait_until(lambda: (b := get_json(port, "/status.json")[1]["backlog"])["events"] == 3 and b["rejects"] == 1,
               gw=gw, what="3 events and 1 reject waiting")

    dom = rendered_dom(f"http://127.0.0.1:{port}/", tmp_path / "chromium-profile")
    assert '<span id="gateway">dock-42</span>' in dom, dom
    assert '<tr data-device="door-7-left">' in dom
    assert '<td id="backlog-events">3</td>' in dom
    assert '<td id="backlog-rejects">1</td>' in dom
    assert '<td id="backlog-positions">0</td>' in dom
    assert '<span id="state" class="badge good">running</span>' in dom
    assert unit(2) in dom  # the last scans are listed ...
    # ... and the HTML one as text: escaped in the DOM, no element made of it, nothing of it ran.
    assert html.escape(INJECTION, quote=False) in dom
    assert '<b id="injected">' not in dom and "<img src=x" not in dom
    assert "<title>Tally gateway</title>" in dom  # the title the injected handlers would have changed
    assert gw.terminate() == 0
