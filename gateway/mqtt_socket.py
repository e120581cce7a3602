"""A paho client that reads the broker's bytes 64 KiB at a time.

paho reads each packet with several small `recv` calls: the command byte, each byte of the
remaining length, then the rest, five system calls for a PUBLISH. Each one gives up the GIL, and
in a process with another busy thread (the tracker's writer, the gateway's pipeline) every small
read can hand the interpreter to the other thread and back: in a drain, a network thread plus a
writer thread cost ~200 µs of CPU a message where paho alone costs ~140. Reading into a buffer
makes that about one system call per 100 messages.

paho already knows buffered sockets: an SSL socket holds decrypted bytes that `select()` cannot
see, so before it waits, paho asks the socket's `pending()` and reads on if bytes are there. The
wrapper answers `pending()` with its own buffer (plus the SSL socket's), so paho never waits on
a socket while a whole packet sits in the buffer.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt

CHUNK = 65536


class BufferedSocket:
    """The socket paho sees: `recv` served from a buffer, everything else passed through."""

    def __init__(self, sock: Any):
        self.sock = sock
        self._buffer = b""
        self._at = 0
        #: reads from the socket itself (paho asks for ~5 per message)
        self.reads = 0

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._buffer):
            # Raises what the socket raises (BlockingIOError, SSLWantReadError): paho handles those.
            data = self.sock.recv(max(size, CHUNK))
            self.reads += 1
            if not data:
                return data  # the broker closed the connection
            self._buffer, self._at = data, 0
        out = self._buffer[self._at:self._at + size]
        self._at += len(out)
        return out

    def pending(self) -> int:
        inner = self.sock.pending() if hasattr(self.sock, "pending") else 0
        return len(self._buffer) - self._at + inner

    def send(self, data: bytes | bytearray) -> int:
        return self.sock.send(data)

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def close(self) -> None:
        self._buffer, self._at = b"", 0
        self.sock.close()

    def __getattr__(self, name: str) -> Any:  # settimeout, getpeername …: the socket's own
        return getattr(self.sock, name)


class BufferedClient(mqtt.Client):
    """paho's client on a BufferedSocket. `_create_socket` is paho's (2.x) one place that makes the
    connection's socket, plain, TLS or websocket; tests/test_mqtt_socket.py checks it is still used."""

    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket())
