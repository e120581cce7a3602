"""The gateway's TOML config: strictly validated, every problem named by its key.

Unknown keys are errors (typos must not silently fall back to defaults), and
validation collects every problem instead of stopping at the first, so an
operator fixes a file in one pass. Nothing here raises anything but ConfigError.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import drivers
from drivers.base import REQUIRED, Option

from .feedback import validate_feedback
from .feedback.gpio import validate_indicators
from .gps.settings import validate_geofences, validate_gps
from .listen import listen_problem
from .validation import validate_table

GATEWAY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TOPIC_ROOT = re.compile(r"^[A-Za-z0-9_\-/]{1,128}$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")

# CBV 2.0 bare words; any other value must be a URI (an extension vocabulary).
BIZ_STEPS = {
    "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
    "creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying",
    "disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting",
    "installing", "killing", "loading", "other", "packing", "picking", "receiving", "removing",
    "repackaging", "repairing", "replacing", "reserving", "retail_selling", "sampling",
    "sensor_reporting", "shipping", "staging_outbound", "stock_taking", "stocking", "storing",
    "transporting", "unloading", "unpacking", "void_shipping",
}
DISPOSITIONS = {
    "active", "available", "completeness_verified", "completeness_inferred", "conformant",
    "container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
    "encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_instance",
    "mismatch_class", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
    "non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
    "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
    "unavailable", "unknown",
}


class ConfigError(Exception):
    """One or more problems; `problems` holds one plain line each, naming the key."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# ---- value checks: each returns an error message or None -------------------------------

def _cbv(words: set[str], what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value in words or URI.match(value):
            return None
        return f"{value!r} is not a CBV {what} (e.g. {sorted(words)[0]!r}) nor a URI"

    return check


def _uri(value: Any) -> str | None:
    return None if URI.match(value) else f"{value!r} is not a URI (e.g. urn:epc:id:sgln:0614141.07346.1234)"


def _pattern(rx: re.Pattern[str], hint: str) -> Callable[[Any], str | None]:
    return lambda value: None if rx.match(value) else f"{value!r} {hint}"


def _range(low: float | None = None, high: float | None = None) -> Callable[[Any], str | None]:
    return drivers.base.in_range(low, high)


def _choice(*choices: Any) -> Callable[[Any], str | None]:
    return drivers.base.one_of(*choices)


def _host_list(value: Any) -> str | None:
    items = value if isinstance(value, list) else [value]
    if not items:
        return "must name at least one broker"
    for item in items:
        if not isinstance(item, str) or not item or any(c.isspace() for c in item):
            return f"{item!r} is not a host name or host:port"
        host, sep, port = item.rpartition(":") if item.count(":") == 1 else ("", "", "")
        if sep and (not port.isdigit() or not 0 < int(port) < 65536):
            return f"{item!r} has a bad port"
    return None


# ---- schema ------------------------------------------------------------------------------

GATEWAY = {
    "id": Option(str, REQUIRED, _pattern(GATEWAY_ID, "must be 1-64 of A-Z a-z 0-9 _ - (it goes into MQTT topics)"),
                 doc="this gateway's name in topics and events: 1-64 of A-Z a-z 0-9 _ -"),
    "data_dir": Option(str, "/var/lib/tally", doc="the outbox and status.json; relative to the config file"),
    "log_level": Option(str, "info", _choice("debug", "info", "warning", "error")),
    "company_prefixes": Option(list, [], doc="GS1 Company Prefixes you know, for EPC URIs"),
    "runtime_dir": Option(str, None, doc="where the once-a-second status snapshot goes (a tmpfs, not the SD card); "
                                         "default: systemd's RUNTIME_DIRECTORY, else /run/tally, else data_dir"),
}
SITE = {
    "read_point": Option(str, None, _uri, doc="EPCIS readPoint of every device without its own (e.g. an SGLN URI)"),
    "biz_location": Option(str, None, _uri, doc="EPCIS bizLocation of every device without its own"),
}
TLS = {
    "ca_file": Option(str, None, doc="CA certificate(s) the broker's certificate must chain to; turns TLS on"),
    "cert_file": Option(str, None, doc="this gateway's client certificate (with key_file)"),
    "key_file": Option(str, None, doc="its private key"),
}
MQTT = {
    "host": Option((str, list), REQUIRED, _host_list, doc="a host, host:port, or a list: the nodes of a cluster"),
    "port": Option(int, 1883, _range(1, 65535)),
    "topic_root": Option(str, "tally", _pattern(TOPIC_ROOT, "must be letters, digits, _ - /"),
                         doc="topics are {topic_root}/{gateway.id}/events, positions, rejects, status, commands"),
    "client_id": Option(str, None, doc="default tally-{gateway.id}"),
    "username": Option(str, None),
    "password_file": Option(str, None, doc="a file holding the password; refused if others can read it"),
    "tls": Option(dict, None, doc="see [mqtt.tls]"),
    "keepalive": Option(int, 30, _range(5, 3600), doc="seconds; the broker publishes the will after 1.5x this"),
    "protocol": Option(str, "auto", _choice("auto", "5", "3.1.1"), doc="auto: MQTT 5, falling back to 3.1.1"),
    "window": Option(int, 64, _range(1, 65535), doc="QoS 1 messages in flight at once"),
    "status_interval": Option((int, float), 30, _range(1, 86400), doc="seconds between retained status updates"),
    "batch": Option(dict, None, doc="backlog drain in EPCISDocuments, e.g. { enabled = true, compress = \"gzip\", "
                                    "max_events = 500, max_kb = 256, min_backlog = 200 }: see README, MQTT"),
}
OUTBOX = {
    "max_mb": Option((int, float), 512, _range(1, 1_000_000),
                     doc="disk budget; when full, positions go first, and every drop is counted"),
    "durability": Option(str, "full", _choice("full", "normal"),
                         doc="full: fsync every grouped commit (survives power loss); normal: survives crashes only"),
    "min_free_mb": Option((int, float), 2, _range(0, 1_000_000),
                          doc="room always left free on the data directory's filesystem (deletes and checkpoints "
                              "need it); the budget shrinks to what the disk really has"),
    "hold_max": Option(int, 5000, _range(0, 10_000_000),
                       doc="records held in memory while the outbox is full or the disk fails (devices stop "
                           "reading meanwhile); beyond it new records are refused and counted"),
    "max_event_kb": Option((int, float), 128, _range(0, 1_000_000),
                           doc="events that grow (RFID cycles, cargo, aggregations) are split into several valid "
                               "events below this size; 0: never split"),
    "batch_ms": Option((int, float), 2, _range(0, 1000),
                       doc="the longest a commit waits to group more reads, and only while reads arrive closer "
                           "together than this"),
}
DEVICE_COMMON = {
    "name": Option(str, REQUIRED, _pattern(GATEWAY_ID, "must be 1-64 of A-Z a-z 0-9 _ -"),
                   doc="unique; in events as tally:device and in logs"),
    "driver": Option(str, REQUIRED, doc="one of the drivers below"),
    "enabled": Option(bool, True),
    "biz_step": Option(str, None, _cbv(BIZ_STEPS, "bizStep"), doc="CBV bizStep (receiving, shipping, …) or a URI"),
    "disposition": Option(str, None, _cbv(DISPOSITIONS, "disposition"), doc="CBV disposition or a URI"),
    "read_point": Option(str, None, _uri, doc="overrides site.read_point; none on a vehicle: the GPS fix"),
    "biz_location": Option(str, None, _uri, doc="overrides site.biz_location"),
    "dedupe_ms": Option((int, float), 1500, _range(0, 3_600_000),
                        doc="the same label again within this window is one read"),
}
MODE = {
    "text": Option(str, REQUIRED, doc="the barcode's exact text"),
    "biz_step": Option(str, None, _cbv(BIZ_STEPS, "bizStep")),
    "disposition": Option(str, None, _cbv(DISPOSITIONS, "disposition")),
    "action": Option(str, "mode", _choice("mode", "pack-start", "pack-close", "pack-cancel", "manifest-close"),
                     doc="pack-start, then the pallet SSCC and its contents, then pack-close: an AggregationEvent; "
                         "manifest-close: close the active manifest and publish its report"),
    "devices": Option(list, [], doc="devices it applies to; empty = all"),
}
def _listen(value: Any) -> str | None:
    return listen_problem(value)


STATUS = {
    "listen": Option(str, "127.0.0.1:8765", _listen, doc="health, metrics and status page; '' disables"),
    "commands": Option(bool, True, doc="accept the allow-listed remote commands on the command topic"),
}

SECTIONS: dict[str, Mapping[str, Option]] = {
    "gateway": GATEWAY,
    "site": SITE,
    "mqtt": MQTT,
    "outbox": OUTBOX,
    "status": STATUS,
}
#: sections other parts of the gateway validate themselves (key -> validator(dict, path, problems))
EXTRA_SECTIONS: dict[str, Callable[[Any, str, list[str]], Any]] = {
    "gps": validate_gps, "geofence": validate_geofences, "feedback": validate_feedback,
    "indicator": validate_indicators,
}


# ---- result types -----------------------------------------------------------------------

@dataclass(frozen=True)
class Broker:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class DeviceConfig:
    name: str
    driver: str
    enabled: bool
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    dedupe_ms: float
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class ModeConfig:
    text: str
    action: str
    biz_step: str | None
    disposition: str | None
    devices: tuple[str, ...]


@dataclass(frozen=True)
class Config:
    path: Path | None
    gateway: Mapping[str, Any]
    site: Mapping[str, Any]
    mqtt: Mapping[str, Any]
    brokers: tuple[Broker, ...]
    outbox: Mapping[str, Any]
    status: Mapping[str, Any]
    devices: tuple[DeviceConfig, ...]
    modes: tuple[ModeConfig, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def gateway_id(self) -> str:
        return self.gateway["id"]

    @property
    def data_dir(self) -> Path:
        return Path(self.gateway["data_dir"])

    @property
    def topic_root(self) -> str:
        return self.mqtt["topic_root"].strip("/")


# ---- validation -------------------------------------------------------------------------

def _brokers(mqtt: Mapping[str, Any]) -> tuple[Broker, ...]:
    hosts = mqtt.get("host")
    if hosts is None:
        return ()
    items = hosts if isinstance(hosts, list) else [hosts]
    out = []
    for item in items:
        if item.count(":") == 1:
            host, _, port = item.partition(":")
            out.append(Broker(host, int(port)))
        else:
            out.append(Broker(item.strip("[]"), mqtt["port"] or 1883))
    return tuple(out)


def _devices(raw: Any, problems: list[str]) -> tuple[DeviceConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("device: must be an array of tables ([[device]])")
        return ()
    devices, seen = [], set()
    for index, table in enumerate(raw):
        label = f"device[{index}]"
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            label = f"device[{index}] ({table['name']})"
        if not isinstance(table, dict):
            problems.append(f"{label}: must be a table")
            continue
        driver_name = table.get("driver")
        spec: dict[str, Option] = dict(DEVICE_COMMON)
        driver_cls = None
        if isinstance(driver_name, str):
            try:
                driver_cls = drivers.load(driver_name)
            except drivers.UnknownDriver as exc:
                problems.append(f"{label}.driver: {exc}")
            else:
                spec.update(driver_cls.options)
                if driver_cls.content == "epc":
                    from gateway.rfid import CYCLE_OPTIONS  # read cycles: every RFID reader has them

                    spec.update(CYCLE_OPTIONS)
        common_keys = set(DEVICE_COMMON)
        if driver_cls is None:
            # Without a driver we cannot know its keys; check only the common ones.
            table = {k: v for k, v in table.items() if k in common_keys}
        values = validate_table(label, table, spec, problems)
        if driver_cls is not None and not problems_before(problems, label):
            problems.extend(f"{label}: {message}" for message in driver_cls.check_settings(values))
            if driver_cls.content == "epc":
                from gateway.rfid import CycleConfig

                try:
                    CycleConfig.from_settings(values)
                except ValueError as exc:
                    problems.append(f"{label}: {exc}")
        name = values.get("name")
        if name in seen:
            problems.append(f"{label}.name: {name!r} is used by another device")
        seen.add(name)
        devices.append(DeviceConfig(
            name=name, driver=values.get("driver"), enabled=values.get("enabled", True),
            biz_step=values.get("biz_step"), disposition=values.get("disposition"),
            read_point=values.get("read_point"), biz_location=values.get("biz_location"),
            dedupe_ms=values.get("dedupe_ms") or 0,
            settings={k: v for k, v in values.items() if k not in common_keys},
        ))
    return tuple(devices)


def problems_before(problems: list[str], label: str) -> bool:
    """Whether this device already has a problem (cross-key rules only run on clean values)."""
    return any(p.startswith(label + ".") or p.startswith(label + ":") for p in problems)


def _modes(raw: Any, device_names: set[str], problems: list[str]) -> tuple[ModeConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("mode: must be an array of tables ([[mode]])")
        return ()
    modes, texts = [], set()
    for index, table in enumerate(raw):
        values = validate_table(f"mode[{index}]", table, MODE, problems)
        if values.get("text") in texts:
            problems.append(f"mode[{index}].text: {values['text']!r} is used by another mode")
        texts.add(values.get("text"))
        for name in values.get("devices") or []:
            if name not in device_names:
                problems.append(f"mode[{index}].devices: no device named {name!r}")
        if values.get("action") == "mode" and not (values.get("biz_step") or values.get("disposition")):
            problems.append(f"mode[{index}]: a mode barcode must set biz_step or disposition")
        modes.append(ModeConfig(values.get("text"), values.get("action") or "mode", values.get("biz_step"),
                                values.get("disposition"), tuple(values.get("devices") or ())))
    return tuple(modes)


def parse(document: Mapping[str, Any], path: Path | None = None) -> Config:
    """Validate an already-parsed TOML document; raise ConfigError listing every problem."""
    problems: list[str] = []
    known = set(SECTIONS) | set(EXTRA_SECTIONS) | {"device", "mode"}
    for key in document:
        if key not in known:
            problems.append(f"{key}: unknown section (known: {', '.join(sorted(known))})")
    tables = {}
    for name, spec in SECTIONS.items():
        if name == "mqtt" and name not in document:
            problems.append("mqtt: missing section (at least mqtt.host is required)")
        tables[name] = validate_table(name, document.get(name, {}), spec, problems)
    for i, prefix in enumerate(tables["gateway"].get("company_prefixes") or []):
        if not (isinstance(prefix, str) and prefix.isdigit() and 6 <= len(prefix) <= 12):
            problems.append(f"gateway.company_prefixes[{i}]: {prefix!r} is not a 6-12 digit GS1 Company Prefix")
    if tables["mqtt"].get("batch") is not None:
        from .batch import problems as batch_problems  # only when configured: it pulls in the event builder

        problems.extend(batch_problems(tables["mqtt"]["batch"]))
    tls = tables["mqtt"].get("tls")
    if tls is not None:
        tables["mqtt"]["tls"] = validate_table("mqtt.tls", tls, TLS, problems)
        tls = tables["mqtt"]["tls"]
        if bool(tls.get("cert_file")) != bool(tls.get("key_file")):
            problems.append("mqtt.tls: cert_file and key_file go together")
    if tables["mqtt"].get("username") is None and tables["mqtt"].get("password_file"):
        problems.append("mqtt.password_file: set mqtt.username too")
    for key in ("ca_file", "cert_file", "key_file"):
        value = (tls or {}).get(key)
        if value and path is not None and not _resolve(path, value).is_file():
            problems.append(f"mqtt.tls.{key}: no such file: {value}")
    password_file = tables["mqtt"].get("password_file")
    if password_file and path is not None and not _resolve(path, password_file).is_file():
        problems.append(f"mqtt.password_file: no such file: {password_file}")
    devices = _devices(document.get("device"), problems)
    modes = _modes(document.get("mode"), {d.name for d in devices}, problems)
    extra = {}
    for name, validator in EXTRA_SECTIONS.items():
        if name in document:
            extra[name] = validator(document[name], name, problems)
    if problems:
        raise ConfigError(problems)
    gateway = dict(tables["gateway"])
    if path is not None:
        gateway["data_dir"] = str(_resolve(path, gateway["data_dir"]))
        mqtt = tables["mqtt"]
        for key in ("password_file",):
            if mqtt.get(key):
                mqtt[key] = str(_resolve(path, mqtt[key]))
        for key in ("ca_file", "cert_file", "key_file"):
            if mqtt.get("tls") and mqtt["tls"].get(key):
                mqtt["tls"][key] = str(_resolve(path, mqtt["tls"][key]))
    return Config(
        path=path, gateway=gateway, site=tables["site"], mqtt=tables["mqtt"], brokers=_brokers(tables["mqtt"]),
        outbox=tables["outbox"], status=tables["status"], devices=devices, modes=modes, extra=extra,
    )


def _resolve(config_path: Path, value: str) -> Path:
    """Relative paths in a config are relative to the config file, not the working directory."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else (config_path.parent / p)


def read_document(path: str | Path) -> dict[str, Any]:
    """A config file's TOML, or ConfigError naming the file and what is wrong (the tracker's too)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot be read: {exc}"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def load(path: str | Path) -> Config:
    return parse(read_document(path), Path(path).resolve())
