"""`status.listen` / `tracker.listen`: host:port, parsed and checked with plain messages (no I/O)."""

from __future__ import annotations

import ipaddress


def parse_listen(value: str) -> tuple[str, int]:
    """'127.0.0.1:8765', '[::1]:8765', 'localhost:8765' -> (host, port); ValueError with a plain message."""
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:8765)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{value!r}: write an IPv6 address in brackets, e.g. [::1]:8765")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} has a bad port")
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"{value!r} has a bad host")
    return host, int(port)


def listen_problem(value: str) -> str | None:
    """For the config's `status.listen` check: None if fine ('' disables the server)."""
    if value == "":
        return None
    try:
        parse_listen(value)
    except ValueError as exc:
        return str(exc)
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
