"""The config reference (docs/config.md), generated from the same specs the validator uses.

    python -m gateway.config_reference > docs/config.md

A test keeps the committed file equal to this output, so the documentation cannot drift
from what `check-config` accepts.
"""

from __future__ import annotations

import sys
from typing import Mapping

import drivers
from drivers.base import REQUIRED, Option

from . import config, validation

GEOFENCE_DOC = [
    ("name", "a string", "required", "1-64 of A-Z a-z 0-9 _ . - and spaces; unique"),
    ("lat, lon, radius_m", "numbers", "", "a circle: centre (degrees) and radius (metres)"),
    ("polygon", "a list", "", "or a polygon: at least 3 [lat, lon] points"),
    ("read_point", "a string", "", "URI that scans inside the fence carry as readPoint"),
    ("biz_location", "a string", "", "URI for bizLocation inside the fence (and of arrival events)"),
]


def _type(opt: Option) -> str:
    types = opt.type if isinstance(opt.type, tuple) else (opt.type,)
    if set(types) == {int, float}:
        return "a number"
    return validation.type_name(opt.type)


def _what(opt: Option) -> str:
    parts = [opt.doc] if opt.doc else []
    choices = getattr(opt.check, "choices", None)
    bounds = getattr(opt.check, "bounds", None)
    if choices:
        parts.append("one of " + ", ".join(f"`{c}`" for c in choices))
    elif bounds:
        low, high = bounds
        parts.append(f"{'' if low is None else low}…{'' if high is None else high}")
    return "; ".join(parts).replace("|", "\\|")


def _default(opt: Option) -> str:
    if opt.default is REQUIRED:
        return "**required**"
    if opt.default is None or opt.default == "" or opt.default == [] or opt.default == {}:
        return ""
    value = opt.default
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def table(spec: Mapping[str, Option]) -> list[str]:
    lines = ["| key | type | default | what |", "|---|---|---|---|"]
    for key, opt in spec.items():
        lines.append(f"| `{key}` | {_type(opt)} | {_default(opt)} | {_what(opt)} |")
    return lines


def render() -> str:
    from gateway.gps.settings import GPS
    from gateway.rfid import CYCLE_OPTIONS

    out = ["# Tally config reference", "",
           "Generated from the validator's own specs by `python -m gateway.config_reference`; do not edit by hand.",
           "Unknown keys are errors. `tally check-config -c FILE` names every problem by its key.", ""]
    sections = [("[gateway]", config.GATEWAY), ("[site]", config.SITE), ("[mqtt]", config.MQTT),
                ("[mqtt.tls] (or `tls = {…}` inline)", config.TLS), ("[outbox]", config.OUTBOX),
                ("[status]", config.STATUS), ("[gps]", GPS)]
    for title, spec in sections:
        out += [f"## {title}", "", *table(spec), ""]
    out += ["## [[geofence]]", "", "| key | type | default | what |", "|---|---|---|---|"]
    out += [f"| `{k}` | {t} | {d} | {w} |" for k, t, d, w in GEOFENCE_DOC]
    from gateway.feedback import FEEDBACK, INDICATOR_DOC

    out += ["", "## [feedback]", "", *table(FEEDBACK), "", "## [[indicator]]", "",
            "A stack light or buzzer on GPIO lines (libgpiod; the wheel's `gpio` extra, in the .deb by default).", "",
            "| key | type | default | what |", "|---|---|---|---|"]
    out += [f"| `{k}` | {t} | {d} | {w} |" for k, t, d, w in INDICATOR_DOC]
    out += ["", "## [[mode]]", "", "Mode barcodes: scanning `text` on a device switches it.", "", *table(config.MODE), ""]
    out += ["## [[device]]", "", "Keys every device has:", "", *table(config.DEVICE_COMMON), ""]
    for name in sorted(drivers.REGISTRY):
        try:
            cls = drivers.load(name)
        except drivers.UnknownDriver as exc:
            out += [f"### driver = \"{name}\"", "", f"Not loadable here: {exc}", ""]
            continue
        summary = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
        first = summary[0] if summary else ""
        out += [f"### driver = \"{name}\"", "", first, "", *table(cls.options), ""]
        if cls.content == "epc":
            out += ["Read cycles (every RFID reader):", "", *table(CYCLE_OPTIONS), ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
