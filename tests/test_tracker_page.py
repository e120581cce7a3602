"""The tracking page in headless Chromium: the journey of a unit with its route drawn although no map tile
loads, the recall and fleet views, and hostile identifiers and gateway names shown as text, never run."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from urllib.parse import quote

import pytest

from gateway.broker import free_port
from tests.helpers.tracker import object_event
from tests.test_tracker_api import GTIN, LOT, UNITS, scenario
from tracker.http import Api, serve
from tracker.store import Message, Store, event_messages

HOSTILE = "<img src=x onerror=document.title='pwned'>"
DEAD_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # nothing listens: every tile fails


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if binary is None:
        pytest.fail("tests need Chromium (Debian: apt-get install chromium; ./dev test installs it)")
    return binary


def dom(url: str, profile) -> str:
    result = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("page")
    store = Store(f"sqlite:{folder / 'tracker.sqlite3'}").open()
    van = [object_event(3, [UNITS[0]], gateway=HOSTILE, biz_step="unloading", read_point="geo:52.1,4.2"),
           object_event(4, [UNITS[0]], gateway=HOSTILE, biz_step="storing", read_point="geo:52.2,4.4")]
    store.ingest(scenario() + event_messages("tally", "x", van)
                 + [Message("tally/" + HOSTILE + "/status", json.dumps({"state": "online", "backlog": 3}).encode())])
    port = free_port()
    server = serve(Api(store, tiles=DEAD_TILES), f"127.0.0.1:{port}")
    yield f"http://127.0.0.1:{port}/", folder
    server.shutdown()
    server.server_close()
    store.close()


def test_a_journey_with_its_route_drawn_without_tiles(page):
    base, folder = page
    text = dom(base + "#track=" + quote(f"(01){GTIN}(21)1", safe=""), folder / "profile-track")
    assert f'<span id="track-identifier">{UNITS[0]}</span>' in text, text[-3000:]
    assert text.count("<li>") >= 5  # chain links and timeline entries
    assert 'class="route leaflet-interactive"' in text  # the polyline, with no tile loaded
    assert "leaflet-tile-loaded" not in text
    assert html.escape(f" ({HOSTILE})", quote=False) in text  # the gateway's name, as text
    assert "<img src=\"x\"" not in text and "<title>Tally tracker</title>" in text


def test_recall_and_fleet_views(page):
    base, folder = page
    text = dom(base + f"#recall={GTIN},{LOT}", folder / "profile-recall")
    assert text.count("<tr>") >= 8 and UNITS[1] in text, text[-3000:]
    text = dom(base + "#fleet", folder / "profile-fleet")
    assert f'<tr data-gateway="{html.escape(HOSTILE, quote=False)}">' in text, text[-3000:]
    assert '<span class="badge online">online</span>' in text
    assert "<img src=\"x\"" not in text and "<title>Tally tracker</title>" in text


def test_a_hostile_identifier_typed_in_is_only_text(page):
    base, folder = page
    text = dom(base + "#track=" + quote(HOSTILE, safe=""), folder / "profile-hostile")
    message = f'<p id="track-message" class="message">"{html.escape(HOSTILE, quote=False)}" names nothing'
    assert message in text, text[-3000:]
    assert "<img src=\"x\"" not in text and "<title>Tally tracker</title>" in text
