"""The tracker's TOML config, checked as strictly as the gateway's: unknown keys are errors, every
problem is named by its key, and nothing but ConfigError is raised.

`[mqtt]` is the gateway's section, checked by the gateway's own spec, so a broker setting means
the same on both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from drivers.base import REQUIRED, Option, in_range, one_of
from gateway.config import (MQTT, TLS, Broker, ConfigError, _brokers, _pattern, _resolve, read_document,
                            validate_table)
from gateway.listen import listen_problem

from .auth import TokenError, read_token

TRACKER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SHARE_GROUP = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _store(value: Any) -> str | None:
    if value.startswith("sqlite:") and len(value) > len("sqlite:"):
        return None
    if value.startswith(("postgresql://", "postgres://")):
        return None
    return f"{value!r} is neither sqlite:PATH nor postgresql://…"


def _tiles(value: Any) -> str | None:
    if value == "" or (value.startswith(("http://", "https://")) and "{z}" in value and "{x}" in value
                       and "{y}" in value and not any(c in value for c in " \"'<>;")):
        return None
    return f"{value!r} is not an http(s) tile URL with {{z}}, {{x}} and {{y}}"


def _listen(value: Any) -> str | None:
    return listen_problem(value)


TRACKER = {
    "id": Option(str, REQUIRED, _pattern(TRACKER_ID, "must be 1-64 of A-Z a-z 0-9 _ -"),
                 doc="this instance's name: its MQTT client id and in logs"),
    "store": Option(str, "sqlite:tracker.sqlite3", _store,
                    doc="sqlite:PATH (relative to the config file) or postgresql://user@host/db for a fleet"),
    "listen": Option(str, "127.0.0.1:8080", _listen, doc="HTTP: query API, tracking, health, metrics; '' disables"),
    "share_group": Option(str, "tracker", _pattern(SHARE_GROUP, "must be 1-64 of A-Z a-z 0-9 _ -"),
                          doc="instances in one group split the messages ($share/{group}/…)"),
    "batch": Option(int, 200, in_range(1, 10000), doc="the most messages one commit takes"),
    "session_expiry": Option(int, 3600, in_range(0, 7 * 86400),
                             doc="seconds the broker keeps this instance's unacknowledged messages while it is away"),
    "gap_grace": Option((int, float), 60, in_range(0, 86400),
                        doc="seconds a skipped tally:seq range may stay open before it is reported (instances "
                            "sharing a gateway's messages store its numbers out of order); 0 reports at once"),
    "log_level": Option(str, "info", one_of("debug", "info", "warning", "error")),
    "tiles": Option(str, "https://tile.openstreetmap.org/{z}/{x}/{y}.png", _tiles,
                    doc="the tracking page's map tiles ({z}/{x}/{y} URL); '' draws routes without a map"),
    "token_file": Option(str, "", doc="a file (mode 600) holding the bearer token every HTTP request but /healthz "
                                      "and the page's static files must carry; '' leaves HTTP open"),
}
SECTIONS = {"tracker": TRACKER, "mqtt": MQTT}


@dataclass(frozen=True)
class TrackerConfig:
    path: Path | None
    tracker: Mapping[str, Any]
    mqtt: Mapping[str, Any]
    brokers: tuple[Broker, ...]

    @property
    def tracker_id(self) -> str:
        return self.tracker["id"]

    @property
    def store(self) -> str:
        return self.tracker["store"]

    @property
    def topic_root(self) -> str:
        return self.mqtt["topic_root"].strip("/")


def is_tracker_document(document: Mapping[str, Any]) -> bool:
    return "tracker" in document


def parse(document: Mapping[str, Any], path: Path | None = None) -> TrackerConfig:
    problems: list[str] = []
    for key in document:
        if key not in SECTIONS:
            problems.append(f"{key}: unknown section (known: {', '.join(sorted(SECTIONS))})")
    if "mqtt" not in document:
        problems.append("mqtt: missing section (at least mqtt.host is required)")
    tracker = validate_table("tracker", document.get("tracker", {}), TRACKER, problems)
    mqtt = validate_table("mqtt", document.get("mqtt", {}), MQTT, problems)
    if mqtt.get("tls") is not None:
        mqtt["tls"] = validate_table("mqtt.tls", mqtt["tls"], TLS, problems)
        if bool(mqtt["tls"].get("cert_file")) != bool(mqtt["tls"].get("key_file")):
            problems.append("mqtt.tls: cert_file and key_file go together")
    if mqtt.get("username") is None and mqtt.get("password_file"):
        problems.append("mqtt.password_file: set mqtt.username too")
    if path is not None:
        files = [("mqtt.password_file", mqtt, "password_file")]
        files += [(f"mqtt.tls.{k}", mqtt["tls"], k) for k in ("ca_file", "cert_file", "key_file")
                  if mqtt.get("tls")]
        for label, table, key in files:
            if table.get(key):
                resolved = _resolve(path, table[key])
                if not resolved.is_file():
                    problems.append(f"{label}: no such file: {table[key]}")
                table[key] = str(resolved)
    if tracker.get("token_file"):
        token_file = str(_resolve(path, tracker["token_file"])) if path is not None else tracker["token_file"]
        try:
            read_token(token_file)
        except TokenError as exc:
            problems.append(f"tracker.token_file: {exc}")
        tracker["token_file"] = token_file
    if problems:
        raise ConfigError(problems)
    store = tracker["store"]
    if store.startswith("sqlite:") and path is not None:
        tracker["store"] = "sqlite:" + str(_resolve(path, store[len("sqlite:"):]))
    return TrackerConfig(path=path, tracker=tracker, mqtt=mqtt, brokers=_brokers(mqtt))


def load(path: str | Path) -> TrackerConfig:
    return parse(read_document(path), Path(path).resolve())


def is_tracker_file(path: str | Path) -> bool:
    """Whether a config file is a tracker's (it has a [tracker] section); False if it cannot be read."""
    try:
        return is_tracker_document(read_document(path))
    except ConfigError:
        return False
