"""The tracker's bearer token (`[tracker] token_file`): checked like every other key, required on every
request but the health check and the page's static files, compared in constant time, and the page still
works (it asks for the token, or takes it once from #token=…)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.broker import free_port
from gateway.config import ConfigError
from tests.helpers.tracker import write_tracker_config
from tests.test_tracker_api import GTIN, UNITS, scenario
from tracker import config as tracker_config
from tracker.auth import Bearer, is_open
from tracker.http import Api, serve
from tracker.store import Store

TOKEN = "s3cret-token-0123456789abcdef"


def token_file(folder, text: str = TOKEN, mode: int = 0o600):
    path = folder / "tracker.token"
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return path


def problems(tmp_path, **tracker) -> list[str]:
    path = write_tracker_config(tmp_path / "tracker.toml", 1883, "sqlite:t.sqlite3", **tracker)
    try:
        tracker_config.load(path)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def test_the_token_file_is_checked_like_any_key(tmp_path):
    token_file(tmp_path)
    assert problems(tmp_path, token_file="tracker.token") == []
    assert tracker_config.load(write_tracker_config(tmp_path / "t.toml", 1883, "sqlite:t.sqlite3",
                                                    token_file="tracker.token")).tracker["token_file"] == str(
        tmp_path / "tracker.token")
    [missing] = problems(tmp_path, token_file="nowhere.token")
    assert missing.startswith("tracker.token_file: cannot read")
    token_file(tmp_path, mode=0o644)
    [shared] = problems(tmp_path, token_file="tracker.token")
    assert "readable by others" in shared
    token_file(tmp_path, text="short")
    [short] = problems(tmp_path, token_file="tracker.token")
    assert "at least 16" in short
    token_file(tmp_path, text="with a space in the middle")
    assert "printable ASCII" in problems(tmp_path, token_file="tracker.token")[0]
    assert problems(tmp_path, token_file=7)[0].startswith("tracker.token_file")


@given(st.text(max_size=60))
def test_only_the_token_opens(header):
    bearer = Bearer(TOKEN)
    assert bearer.allows(f"Bearer {TOKEN}") and bearer.allows(f"bearer  {TOKEN} ")
    assert not bearer.allows(None) and not bearer.allows("") and not bearer.allows(TOKEN)
    assert not bearer.allows(f"Basic {TOKEN}") and not bearer.allows(f"Bearer {TOKEN}x")
    assert bearer.allows(header) == (header.strip().partition(" ")[0].lower() == "bearer"
                                     and header.strip().partition(" ")[2].strip() == TOKEN)


def test_open_paths_hold_no_data():
    assert all(is_open(p) for p in ("/healthz", "/", "/openapi.json", "/static/app.js"))
    assert not any(is_open(p) for p in ("/events", "/track/x", "/metrics", "/queries", "/gaps", "/static"))


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth")
    store = Store(f"sqlite:{folder / 'tracker.sqlite3'}").open()
    store.ingest(scenario())
    port = free_port()
    server = serve(Api(store, token=TOKEN, tiles=""), f"127.0.0.1:{port}")
    yield f"http://127.0.0.1:{port}", folder
    server.shutdown()
    server.server_close()
    store.close()


def request(url: str, token: str | None = None, method: str = "GET", body: bytes | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers, method=method),
                                    timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_every_request_with_data_needs_the_token(guarded):
    base, _ = guarded
    for path in ("/events", "/track/" + quote(UNITS[0], safe=""), "/recall?gtin=1&lot=2", "/gaps", "/metrics",
                 "/conflicts", "/queries"):
        status, headers, body = request(base + path)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer"), path
        assert json.loads(body)["status"] == 401
        assert request(base + path, "wrong-token-0123456789")[0] == 401
    assert request(base + "/queries", method="POST", body=b'{"name": "x", "query": {}}')[0] == 401
    assert request(base + "/events", TOKEN)[0] == 200
    assert request(base + "/track/" + quote(UNITS[0], safe=""), TOKEN)[0] == 200
    status, _, metrics = request(base + "/metrics", TOKEN)
    assert status == 200 and b"tally_tracker_http_unauthorized_total 15" in metrics
    for path in ("/healthz", "/", "/static/app.js", "/openapi.json"):
        assert request(base + path)[0] == 200, path


def test_the_page_works_with_a_token(guarded):
    from tests.test_tracker_page import dom

    base, folder = guarded
    asked = dom(base + "/#track=" + quote(f"(01){GTIN}(21)1", safe=""), folder / "profile-asked")
    assert '<form id="token-form">' in asked and "needs Authorization" in asked  # the form shows, no data
    text = dom(base + f"/#token={TOKEN}&track=" + quote(f"(01){GTIN}(21)1", safe=""), folder / "profile-token")
    assert f'<span id="track-identifier">{UNITS[0]}</span>' in text, text[-3000:]
    assert '<form id="token-form" hidden="">' in text and TOKEN not in text


def test_a_tracker_with_a_token_file_guards_its_interface(tmp_path):
    from tracker.service import Tracker

    token_file(tmp_path)
    port = free_port()
    path = write_tracker_config(tmp_path / "tracker.toml", free_port(), "sqlite:t.sqlite3",
                                listen=f"127.0.0.1:{port}", token_file="tracker.token")
    tracker = Tracker(tracker_config.load(path)).start()
    try:
        base = f"http://127.0.0.1:{port}"
        assert request(base + "/events")[0] == 401
        assert request(base + "/events", TOKEN)[0] == 200
        assert request(base + "/healthz")[0] in (200, 503)  # no broker here: unhealthy, but it answers
    finally:
        tracker.stop()
