"""Subscriptions with webhooks: named queries, signed deliveries to a real local HTTP receiver, retries until
it answers 2xx, notifications that outlive a restart, built-in gap and offline notifications."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.broker import free_port
from tests.helpers.tracker import object_event, store_url
from tracker.http import Api, serve
from tracker.notify import Deliverer
from tracker.store import Message, Store, event_messages

UNIT = "urn:epc:id:sgtin:0614141.107346.{}"


class Receiver:
    """A webhook receiver: records each POST; answers the statuses queued in `answers`, then 204."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.answers: list[int] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.cond:
                    status = receiver.answers.pop(0) if receiver.answers else 204
                    if status < 300:
                        receiver.requests.append((self.headers, body))  # names compare case-blind
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 20) -> list[tuple[dict, bytes]]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def call(base: str, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker(request, tmp_path):
    url = store_url(request.param, tmp_path)
    store = Store(url).open()
    port = free_port()
    server = serve(Api(store), f"127.0.0.1:{port}")
    receiver = Receiver()
    yield store, f"http://127.0.0.1:{port}", receiver, url
    receiver.close()
    server.shutdown()
    server.server_close()
    store.close()


def test_signed_deliveries_retried_until_accepted(tracker, assert_epcis):
    store, base, receiver, _ = tracker
    assert call(base, "POST", "/queries", {"name": "unit-7", "query": {"MATCH_epc": UNIT.format(7)}})[0] == 201
    status, sub = call(base, "POST", "/queries/unit-7/subscriptions",
                       {"dest": f"http://127.0.0.1:{receiver.port}/hook", "signatureToken": "s3cret"})
    assert status == 201, sub
    assert call(base, "POST", "/queries/arrived/subscriptions", {"dest": f"http://127.0.0.1:{receiver.port}/a"})[0] == 201
    receiver.answers = [500, 503]  # the receiver fails twice before it takes one
    deliverer = Deliverer(store.db, base_delay=0.05)
    store.on_notify = deliverer.poke
    deliverer.start()
    try:
        store.ingest(event_messages("tally", "gw-1", [object_event(1, [UNIT.format(7)], biz_step="receiving"),
                                                      object_event(2, [UNIT.format(8)], biz_step="storing")]))
        requests = receiver.wait(2)
    finally:
        deliverer.stop()
    assert len(requests) == 2 and deliverer.counters["failed_attempts"] == 2
    by_query = {headers["GS1-Query-Name"]: (headers, body) for headers, body in requests}
    headers, body = by_query["unit-7"]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["GS1-Signature"], expected)
    document = json.loads(body)
    assert_epcis(document)
    results = document["epcisBody"]["queryResults"]
    assert results["subscriptionID"] == sub["subscriptionID"] and results["queryName"] == "unit-7"
    assert [e["epcList"] for e in results["resultsBody"]["eventList"]] == [[UNIT.format(7)]]
    headers, body = by_query["arrived"]
    assert "GS1-Signature" not in headers
    assert [e["bizStep"] for e in json.loads(body)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == [
        "receiving"]
    [listed] = call(base, "GET", "/queries/unit-7/subscriptions")[1]
    assert listed["pending"] == 0


def test_notifications_outlive_a_restart_and_gaps_and_offline_are_told(tracker):
    store, base, receiver, url = tracker
    for name in ("gaps", "offline", "departed"):
        assert call(base, "POST", f"/queries/{name}/subscriptions",
                    {"dest": f"http://127.0.0.1:{receiver.port}/{name}"})[0] == 201
    # Nobody delivers yet: the notifications wait in the store, committed with the events.
    store.ingest(event_messages("tally", "gw-1", [object_event(1, [UNIT.format(1)]),
                                                  object_event(4, [UNIT.format(4)], biz_step="shipping")])
                 + [Message("tally/gw-1/status", b'{"state": "offline", "reason": "lost"}')])
    store.close()
    again = Store(url).open()
    deliverer = Deliverer(again.db, base_delay=0.05).start()
    try:
        requests = receiver.wait(3)
    finally:
        deliverer.stop()
        again.close()
    bodies = {h["GS1-Query-Name"]: json.loads(b) for h, b in requests}
    assert bodies["gaps"]["type"] == "tally:GapDetected" and (bodies["gaps"]["first"], bodies["gaps"]["last"]) == (2, 3)
    assert bodies["offline"] == {**bodies["offline"], "type": "tally:GatewayOffline", "gateway": "gw-1"}
    assert len(bodies["departed"]["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 1


def test_bad_queries_and_subscriptions_are_refused(tracker):
    _, base, receiver, _ = tracker
    assert call(base, "POST", "/queries", {"name": "x", "query": {"EQ_colour": "red"}})[0] == 400
    assert call(base, "POST", "/queries", {"name": "a b", "query": {}})[0] == 400
    assert call(base, "POST", "/queries", {"name": "arrived", "query": {}})[0] == 400
    assert call(base, "POST", "/queries/nope/subscriptions", {"dest": "http://127.0.0.1:1/"})[0] == 404
    assert call(base, "POST", "/queries/arrived/subscriptions", {"dest": "ftp://x/"})[0] == 400
    assert call(base, "POST", "/queries/arrived/subscriptions", {"dest": "http://x/", "schedule": {}})[0] == 400
    status, sub = call(base, "POST", "/queries/arrived/subscriptions", {"dest": "http://127.0.0.1:1/"})
    assert call(base, "DELETE", f"/queries/arrived/subscriptions/{sub['subscriptionID']}")[0] == 204
    assert call(base, "DELETE", f"/queries/arrived/subscriptions/{sub['subscriptionID']}")[0] == 404
    assert call(base, "DELETE", "/queries/arrived")[0] == 400
    assert call(base, "POST", "/queries", {"name": "mine", "query": {"EQ_bizStep": ["shipping"]}})[0] == 201
    assert call(base, "GET", "/queries/mine/events?perPage=5")[0] == 200
    assert call(base, "DELETE", "/queries/mine")[0] == 204
