"""The status server against the real daemon: /healthz, /metrics (parsed as Prometheus text), /status.json,
and that nothing else is served, nothing can be changed, and no secret shows."""

from __future__ import annotations

import socket
import time

from prometheus_client.parser import text_string_to_metric_families

from gateway.broker import free_port
from gateway.config import parse
from gateway.health import health
from gateway.listen import is_loopback, listen_problem, parse_listen
from gateway.redact import redact
from tests.test_ops_support import get_json, http_get, ops_config, unit, wait_running, wait_until

SECRET = "s3cr3t-Pa55w0rd-do-not-leak"


def metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, headers, body = http_get(port, "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def value(m, name: str, **labels: str) -> float:
    return m[(name, tuple(sorted(labels.items())))]


def test_health_metrics_and_status_follow_the_scans(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    password = tmp_path / "mqtt-password"
    password.write_text(SECRET + "\n")
    password.chmod(0o600)
    config, port = ops_config(tmp_path, mosquitto.port, scanner,
                              mqtt={"username": "dock-01", "password_file": str(password)})
    gw = gateway_process(config)
    healthz = wait_running(gw, port)
    assert healthz["ok"] and healthz["reasons"] == [] and healthz["broker"] == "connected"

    before = metrics(port)
    assert value(before, "tally_healthy") == 1
    assert value(before, "tally_reads_total") == 0
    assert value(before, "tally_device_up", device="door-1", driver="serial-scanner") == 1
    assert value(before, "tally_broker_connected") == 1
    assert value(before, "tally_broker_connects_total") >= 1
    assert value(before, "tally_build_info", gateway="test-gw", version="0.1.0") == 1
    assert value(before, "process_resident_memory_bytes") > 1e6

    for i in range(3):
        scanner.scan(unit(i))
    scanner.scan("not a barcode")
    assert len(subscriber.wait_events(3)) == 3, gw.log()
    assert subscriber.wait_for(lambda s: len(s.on("rejects")) == 1)

    def delivered():
        m = metrics(port)
        done = value(m, "tally_broker_acked_total") >= 4 and value(m, "tally_outbox_backlog", stream="events") == 0
        return m if done else None

    after = wait_until(delivered, gw=gw, what="PUBACKs and an empty outbox in the metrics")
    assert value(after, "tally_reads_total") == 4
    assert value(after, "tally_events_total") == 3
    assert value(after, "tally_rejects_total") == 1
    assert value(after, "tally_device_reads_total", device="door-1") == 4
    assert value(after, "tally_broker_published_total") >= 4
    assert abs(value(after, "tally_last_event_timestamp_seconds") - time.time()) < 60
    assert abs(value(after, "tally_device_last_read_timestamp_seconds", device="door-1") - time.time()) < 60
    assert value(after, "tally_outbox_backlog", stream="events") == 0
    assert value(after, "tally_outbox_drops_total", stream="events") == 0

    status, snapshot = get_json(port, "/status.json")
    assert status == 200
    assert snapshot["gateway"] == "test-gw" and snapshot["state"] == "running"
    assert snapshot["counters"]["events"] == 3
    assert [d["name"] for d in snapshot["devices"]] == ["door-1"]
    recent = snapshot["recent"]["door-1"]
    assert [r["text"] for r in recent] == [unit(0), unit(1), unit(2), "not a barcode"]
    assert [r["outcome"] for r in recent] == ["accepted", "accepted", "accepted", "rejected"]

    # The broker password is never shown, wherever it might slip in.
    for path in ("/", "/app.js", "/healthz", "/status.json", "/metrics"):
        body = http_get(port, path)[2]
        assert SECRET.encode() not in body, path
    assert gw.terminate() == 0
    assert "Traceback" not in gw.log()
    assert SECRET not in gw.log()


def test_the_http_surface_is_read_only_and_small(tmp_path, mosquitto, scanner, gateway_process):
    config, port = ops_config(tmp_path, mosquitto.port, scanner)
    gw = gateway_process(config)
    wait_running(gw, port)
    for path in ("/nope", "/../../etc/passwd", "/web/index.html", "/gateway/health.py", "/status", "/metrics/x"):
        assert http_get(port, path)[0] == 404, path
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = http_get(port, "/healthz", method=method)
        assert status == 405 and headers["allow"] == "GET, HEAD", method
    status, headers, body = http_get(port, "/", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 100
    status, headers, body = http_get(port, "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert b'<script src="/app.js"' in body
    assert http_get(port, "/app.js")[1]["content-type"].startswith("text/javascript")
    for path in ("/", "/app.js", "/style.css"):  # no CDN, no external assets: the page works offline
        assert b"http://" not in http_get(port, path)[2] and b"https://" not in http_get(port, path)[2], path
    assert http_get(port, "/status.json?x=1")[0] == 200  # query strings are ignored, not an error
    # A page elsewhere that rebinds its DNS name to 127.0.0.1 must not read the gateway's status.
    assert http_get(port, "/status.json", headers={"Host": "evil.example"})[0] == 403
    assert http_get(port, "/status.json", headers={"Host": f"localhost:{port}"})[0] == 200
    assert http_get(port, "/status.json", headers={"Host": f"127.0.0.1:{port}"})[0] == 200
    # A client that connects and says nothing does not hold the server up.
    with socket.create_connection(("127.0.0.1", port)):
        assert http_get(port, "/healthz")[0] == 200
    assert gw.terminate() == 0
    assert "Traceback" not in gw.log()


def test_a_broker_outage_shows_as_backlog_not_as_unhealthy(tmp_path, scanner, gateway_process):
    config, port = ops_config(tmp_path, free_port(), scanner)  # nothing listens there
    gw = gateway_process(config)
    wait_until(lambda: get_json(port, "/healthz")[0] == 200, gw=gw, what="healthz")
    for i in range(3):
        scanner.scan(unit(i))
    m = wait_until(lambda: (m := metrics(port)) and value(m, "tally_outbox_backlog", stream="events") == 3 and m,
                   gw=gw, what="a backlog of 3 events")
    assert value(m, "tally_broker_connected") == 0
    assert value(m, "tally_broker_connects_total") == 0
    assert value(m, "tally_outbox_bytes") > 0
    time.sleep(0.3)
    assert value(metrics(port), "tally_outbox_oldest_age_seconds") > 0.2
    status, body = get_json(port, "/healthz")
    assert status == 200 and body["broker"] != "connected" and body["backlog"]["events"] == 3
    assert gw.terminate() == 0


def test_a_taken_port_costs_the_page_not_the_gateway(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config, _ = ops_config(tmp_path, mosquitto.port, scanner,
                               status={"listen": f"127.0.0.1:{taken.getsockname()[1]}"})
        gw = gateway_process(config)
        assert gw.wait_log("cannot serve health/metrics/status page", 15), gw.log()
        assert gw.wait_log("door-1: open", 15), gw.log()
        scanner.scan(unit(1))
        assert len(subscriber.wait_events(1)) == 1, gw.log()
        assert gw.terminate() == 0


def test_healthz_names_what_is_wrong(tmp_path):
    from gateway.daemon import Daemon

    config = parse({"gateway": {"id": "gw", "data_dir": str(tmp_path)}, "mqtt": {"host": "127.0.0.1"}})
    daemon = Daemon(config)  # built, never started: no loop turning, no outbox
    answer = health(daemon, last_tick=None)
    assert answer["ok"] is False
    reasons = " | ".join(answer["reasons"])
    assert "starting" in reasons and "not ticked" in reasons and "outbox is not open" in reasons
    daemon.ready = True
    stale = health(daemon, last_tick=100.0, now=110.0)
    assert any("last ticked 10.0s ago" in r for r in stale["reasons"])


def test_listen_addresses():
    assert parse_listen("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen("localhost:1") == ("localhost", 1)
    for bad in ("8765", ":8765", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "::1:8765", "a b:80"):
        assert listen_problem(bad), bad
    assert listen_problem("") is None
    assert is_loopback("127.0.0.1") and is_loopback("127.3.2.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("gateway.local")


def test_secrets_are_redacted_by_key_at_any_depth():
    snapshot = {"mqtt": {"password": "x", "username": "u", "tls": {"key_password": "y"}},
                "list": [{"api_token": "z", "fine": 1}], "secret": None}
    assert redact(snapshot) == {"mqtt": {"password": "[redacted]", "username": "u", "tls": {"key_password": "[redacted]"}},
                                "list": [{"api_token": "[redacted]", "fine": 1}], "secret": None}


def test_metrics_from_a_gps_vehicle_snapshot():
    """The GPS part's status (gateway/gps/service.py) becomes fix age and mode; no fix, no series."""
    from gateway.metrics import StatusCollector, metrics_text

    fix = {"time": "2026-01-01T00:00:00.000Z", "mode": 3, "lat": 52.1, "lon": 4.3, "age_s": 1.5, "stale": False}
    snapshot = {"gateway": "van-7", "version": "0.1.0", "uptime_s": 5, "counters": {"reads": 2, "fixes": 9},
                "gps": {"fix": fix, "counters": {"fixes": 9}}, "devices": [], "backlog": {}, "drops": {},
                "broker": None, "_health": {"ok": True, "tick_age_s": 0.05}}
    body, _ = metrics_text(StatusCollector(lambda: dict(snapshot), started=1.0))
    m = {(s.name, tuple(sorted(s.labels.items()))): s.value
         for family in text_string_to_metric_families(body.decode()) for s in family.samples}
    assert value(m, "tally_gps_fix_age_seconds") == 1.5 and value(m, "tally_gps_mode") == 3
    assert value(m, "tally_reads_total") == 2 and value(m, "tally_broker_connected") == 0
    body, _ = metrics_text(StatusCollector(lambda: {**snapshot, "gps": {"fix": None}}, started=1.0))
    assert b"tally_gps" not in body


def test_metrics_name_each_refused_subscription_and_count_by_label():
    from gateway.metrics import StatusCollector, metrics_text

    broker = {"state": "connected", "refusals": {"Not authorized": 2},
              "subscriptions_refused": ["tally/gw/commands", "tally/gw/manifest"]}
    snapshot = {"gateway": "gw", "version": "0.1.0", "uptime_s": 5, "devices": [], "backlog": {},
                "drops": {"positions": 3, "events": 0}, "quarantine": {"events": 1},
                "supervisor": {"restarts": {"outbox-writer": 1}}, "broker": broker, "_health": {"ok": True}}
    body, _ = metrics_text(StatusCollector(lambda: dict(snapshot), started=1.0))
    m = {(s.name, tuple(sorted(s.labels.items()))): s.value
         for family in text_string_to_metric_families(body.decode()) for s in family.samples}
    assert value(m, "tally_broker_subscription_refused", topic="tally/gw/commands") == 1
    assert value(m, "tally_broker_subscription_refused", topic="tally/gw/manifest") == 1
    assert value(m, "tally_broker_refusals_total", reason="Not authorized") == 2
    assert value(m, "tally_outbox_drops_total", stream="positions") == 3
    assert value(m, "tally_outbox_drops_total", stream="events") == 0
    assert value(m, "tally_outbox_quarantine", stream="events") == 1
    assert value(m, "tally_worker_restarts_total", worker="outbox-writer") == 1

    def no_loop():
        raise RuntimeError("the main loop did not answer")

    body, _ = metrics_text(StatusCollector(no_loop, started=1.0))
    assert b"tally_healthy 0.0" in body and b"process_cpu_seconds_total" in body
