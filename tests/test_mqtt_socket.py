"""The buffered paho socket (tracker and gateway): every byte in order whatever the chunking, paho still waking for
buffered packets (plain and TLS, against a real mosquitto), and a fraction of the socket reads."""

from __future__ import annotations

import socket
import ssl
import threading

import paho.mqtt.client as mqtt
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from gateway.broker import Mosquitto, free_port
from tests.helpers.pki import pki  # noqa: F401  (fixture)
from gateway.mqtt_socket import BufferedClient, BufferedSocket


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000), chunks=st.lists(st.integers(1, 700), min_size=1, max_size=20),
       asks=st.lists(st.integers(1, 5000), min_size=1, max_size=20))
def test_the_bytes_come_out_as_they_went_in(data, chunks, asks):
    left, right = socket.socketpair()
    try:
        buffered = BufferedSocket(right)
        at = 0
        got = b""
        for i, chunk in enumerate(chunks * (len(data) // sum(chunks) + 1)):
            if at < len(data):
                left.sendall(data[at:at + chunk])
                at += chunk
            while buffered.pending() or len(got) < min(at, len(data)):
                piece = buffered.recv(asks[i % len(asks)])
                assert piece and len(piece) <= asks[i % len(asks)]
                got += piece
        assert got == data and buffered.pending() == 0
        left.close()
        assert buffered.recv(10) == b""  # the peer closed
    finally:
        left.close()
        right.close()


def _drain(client: mqtt.Client, port: int, count: int, **tls) -> tuple[list[bytes], object]:
    got: list[bytes] = []
    done = threading.Event()

    def on_message(c, u, m):
        got.append(m.payload)
        if len(got) == count:
            done.set()

    client.on_message = on_message
    if tls:
        client.tls_set(**tls)
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe("burst/#", qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        sender = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if tls:
            sender.tls_set(**tls)
        sender.connect("127.0.0.1", port)
        sender.loop_start()
        # Varied sizes so packets straddle the 64 KiB reads; one large enough to need several.
        for info in [sender.publish(f"burst/{i % 7}", b"%06d" % i + b"x" * (i * 37 % 3000 + (200_000 if i == 5 else 0)),
                                    qos=1) for i in range(count)]:
            info.wait_for_publish(20)
        sender.loop_stop()
        sender.disconnect()
        assert done.wait(30), f"{len(got)} of {count}"
        sock = client.socket()
    finally:
        client.loop_stop()
        client.disconnect()
    return got, sock


def test_a_burst_arrives_whole_and_in_order_with_few_reads(mosquitto):
    client = BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    got, sock = _drain(client, mosquitto.port, 3000)
    assert [int(p[:6]) for p in got] == list(range(3000))
    assert got[5][6:] == b"x" * (5 * 37 % 3000 + 200_000)
    assert isinstance(sock, BufferedSocket)  # paho still makes its socket in _create_socket
    assert sock.reads < 3000  # paho alone asks ~5 times a message


def test_tls_buffers_are_drained_too(pki):
    port = free_port()
    broker = Mosquitto(extra=f"listener {port} 127.0.0.1\ncafile {pki}/ca.pem\ncertfile {pki}/server.pem\n"
                             f"keyfile {pki}/server.key\n").start()
    try:
        client = BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        got, sock = _drain(client, port, 500, ca_certs=str(pki / "ca.pem"), cert_reqs=ssl.CERT_REQUIRED)
        assert [int(p[:6]) for p in got] == list(range(500))
        assert isinstance(sock, BufferedSocket) and isinstance(sock.sock, ssl.SSLSocket)
    finally:
        broker.stop()
