"""The broker link against real brokers: a cluster's nodes in turn, TLS, passwords, MQTT 3.1.1 fallback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from gateway.broker import Mosquitto, free_port
from simulators.serial_scanner import SerialScannerSimulator
from tests.helpers.gateway import write_config
from tests.helpers.mqtt import Subscriber
from tests.helpers.pki import pki  # noqa: F401  (fixture)

GTIN = "09506000134352"


@pytest.fixture
def scanner(tmp_path):
    sim = SerialScannerSimulator(str(tmp_path / "scanner")).start()
    yield sim
    sim.stop()


def device(scanner):
    return [{"name": "door-1", "driver": "serial-scanner", "port": scanner.path, "dedupe_ms": 0}]


def wait_open(gw):
    assert gw.wait_log("door-1: open", 15), gw.log()


def test_cluster_nodes_are_tried_in_turn(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    dead = f"127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "t.toml", broker_port=mosquitto.port, data_dir=tmp_path / "d",
                          devices=device(scanner), mqtt={"host": [dead, f"127.0.0.1:{mosquitto.port}"]})
    gw = gateway_process(config)
    wait_open(gw)
    scanner.scan(f"01{GTIN}21A1")
    assert len(subscriber.wait_events(1, timeout=20)) == 1, gw.log()
    assert f"cannot connect to {dead}" in gw.log()
    assert gw.terminate() == 0


def test_tls_with_client_certificate_and_verification(tmp_path, pki, scanner, gateway_process):
    tls_port = free_port()
    broker = Mosquitto(extra=f"listener {tls_port} 127.0.0.1\ncafile {pki}/ca.pem\ncertfile {pki}/server.pem\n"
                             f"keyfile {pki}/server.key\nrequire_certificate true\n").start()
    sub = Subscriber(broker.host, broker.port, "tally/#")
    try:
        # A gateway that trusts the wrong CA must refuse the broker: verification is never silently off.
        wrong = write_config(tmp_path / "wrong.toml", broker_port=tls_port, data_dir=tmp_path / "d1",
                             devices=device(scanner), mqtt={"tls": {"ca_file": str(pki / "other-ca.pem"),
                                                                   "cert_file": str(pki / "client.pem"),
                                                                   "key_file": str(pki / "client.key")}})
        gw = gateway_process(wrong)
        assert gw.wait_log("certificate verify failed", 15), gw.log()
        assert gw.terminate() == 0
        good = write_config(tmp_path / "good.toml", broker_port=tls_port, data_dir=tmp_path / "d2",
                            devices=device(scanner), mqtt={"tls": {"ca_file": str(pki / "ca.pem"),
                                                                  "cert_file": str(pki / "client.pem"),
                                                                  "key_file": str(pki / "client.key")}})
        gw = gateway_process(good)
        wait_open(gw)
        scanner.scan(f"01{GTIN}21TLS1")
        assert len(sub.wait_events(1, timeout=20)) == 1, gw.log()
        assert gw.terminate() == 0
    finally:
        sub.close()
        broker.close()


def test_username_and_password_file(tmp_path, scanner, gateway_process):
    pwfile = tmp_path / "mosquitto.passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pwfile), "dock-01", "s3cret-pw"], check=True,
                   capture_output=True)
    os.chmod(pwfile, 0o644)  # mosquitto (maybe another user) reads it
    broker = Mosquitto(password_file=str(pwfile)).start()
    port = broker.port
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret-pw\n")
    try:
        os.chmod(secret, 0o644)
        config = write_config(tmp_path / "t.toml", broker_port=port, data_dir=tmp_path / "d", devices=device(scanner),
                              mqtt={"username": "dock-01", "password_file": str(secret)})
        gw = gateway_process(config)
        assert gw.wait_log("readable by others", 15), gw.log()
        assert gw.terminate() == 0
        os.chmod(secret, 0o600)
        gw = gateway_process(config)
        wait_open(gw)
        assert wait_connected(config), gw.log()
        assert gw.terminate() == 0
        assert "s3cret-pw" not in gw.log()
        secret.write_text("wrong\n")
        gw = gateway_process(config)
        assert gw.wait_log("refused the connection", 15), gw.log()
        assert gw.terminate() == 0
        assert "wrong" not in gw.log().replace("wrong.toml", "")
    finally:
        broker.close()


def wait_connected(config: Path, timeout: float = 15) -> bool:
    from gateway import status_file
    from gateway.config import load

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            path = status_file.find(load(config))
            if path and json.loads(path.read_text())["broker"]["state"] == "connected":
                return True
        except (OSError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.2)
    return False


class V311OnlyProxy:
    """A broker front that refuses MQTT 5 CONNECTs (as an old broker does) and passes 3.1.1 to mosquitto."""

    def __init__(self, upstream: int):
        self.upstream = upstream
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.refused = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        first = conn.recv(65536)
        # CONNECT: fixed header, remaining length (1 byte here), "\0\4MQTT", protocol level
        if len(first) > 8 and first[0] == 0x10 and first[8] == 5:
            self.refused += 1
            conn.sendall(b"\x20\x02\x00\x01")  # 3.1.1 CONNACK: unacceptable protocol version
            conn.close()
            return
        up = socket.create_connection(("127.0.0.1", self.upstream))
        up.sendall(first)

        def pump(a, b):
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(conn, up), daemon=True).start()
        pump(up, conn)

    def close(self):
        self.sock.close()


def test_falls_back_to_mqtt_311(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    proxy = V311OnlyProxy(mosquitto.port)
    try:
        config = write_config(tmp_path / "t.toml", broker_port=proxy.port, data_dir=tmp_path / "d",
                              devices=device(scanner))
        gw = gateway_process(config)
        wait_open(gw)
        scanner.scan(f"01{GTIN}21OLD1")
        assert len(subscriber.wait_events(1, timeout=20)) == 1, gw.log()
        assert proxy.refused >= 1 and "falling back to 3.1.1" in gw.log()
        assert gw.terminate() == 0
    finally:
        proxy.close()


def test_last_will_marks_a_killed_gateway_offline(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    config = write_config(tmp_path / "t.toml", broker_port=mosquitto.port, data_dir=tmp_path / "d",
                          devices=device(scanner), mqtt={"keepalive": 5})
    gw = gateway_process(config)
    assert subscriber.wait_for(lambda s: any(m.get("state") == "online" for m in s.on("status")), 15), gw.log()
    gw.kill()
    # The broker notices the dead TCP connection at once (the socket closed) and publishes the will.
    assert subscriber.wait_for(lambda s: any(m.get("state") == "offline" for m in s.on("status")), 15)
    late = Subscriber(mosquitto.host, mosquitto.port, "tally/+/status")
    try:
        assert late.wait_for(lambda s: bool(s.messages), 10)
        assert late.messages[-1][2] is True  # retained, for anyone who subscribes later
        assert late.on("status")[-1]["state"] == "offline"
    finally:
        late.close()
