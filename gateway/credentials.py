"""How a paho client proves who it is to the broker: `mqtt.username`/`password_file` and `mqtt.tls`
(the gateway's publisher and the tracker's ingest alike)."""

from __future__ import annotations

import os
import ssl
import stat
from typing import Any, Mapping


class CredentialsError(Exception):
    pass


def read_secret_file(path: str, what: str = "") -> str:
    """A secret kept in a file (a password, a token), refusing a file others can read: it would leak to every
    local user. `what` (a config key) starts each message."""
    prefix = f"{what}: " if what else ""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CredentialsError(f"{prefix}cannot read {path}: {exc.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"{prefix}{path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{prefix}cannot read {path}: {exc}") from None


def read_password(path: str) -> str:
    """The broker password (`mqtt.password_file`)."""
    return read_secret_file(path, "mqtt.password_file").strip("\r\n")


def authenticate(client: Any, mqtt: Mapping[str, Any]) -> None:
    """Username/password and TLS (with a client certificate if configured) from an `[mqtt]` section."""
    if mqtt.get("username"):
        password = read_password(mqtt["password_file"]) if mqtt.get("password_file") else None
        client.username_pw_set(mqtt["username"], password)
    tls = mqtt.get("tls")
    if tls and tls.get("ca_file"):
        client.tls_set(ca_certs=tls["ca_file"], certfile=tls.get("cert_file"), keyfile=tls.get("key_file"),
                       cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.tls_insecure_set(False)  # the broker's name must match its certificate
