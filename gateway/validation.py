"""Checking one TOML table against a spec of `Option`s: unknown keys, missing keys, types, values.

A leaf module: the gateway's config (gateway/config.py) and the sections other parts own (GPS,
geofences, feedback, indicators) all validate with it, and none of them has to import another.
Every problem is one plain line naming the key; nothing here raises.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from drivers.base import REQUIRED, Option


def type_name(t: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}
    types = t if isinstance(t, tuple) else (t,)
    return " or ".join(names.get(x, x.__name__) for x in types)


def check_value(path: str, opt: Option, value: Any, problems: list[str]) -> Any:
    types = opt.type if isinstance(opt.type, tuple) else (opt.type,)
    # TOML booleans are ints to Python; a count of `true` is a typo, not 1.
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok and float in types and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        problems.append(f"{path}: must be {type_name(opt.type)}, got {value!r}")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{path}: must be a finite number, got {value!r}")
        return None
    if opt.check is not None:
        message = opt.check(value)
        if message:
            problems.append(f"{path}: {message}")
            return None
    return value


def validate_table(path: str, table: Any, spec: Mapping[str, Option], problems: list[str]) -> dict[str, Any]:
    """Check one TOML table against a spec: unknown keys, missing keys, types, values."""
    if not isinstance(table, dict):
        problems.append(f"{path}: must be a table, got {table!r}")
        return {key: (None if opt.default is REQUIRED else opt.default) for key, opt in spec.items()}
    out: dict[str, Any] = {}
    for key in table:
        if key not in spec:
            known = ", ".join(sorted(spec)) or "none"
            problems.append(f"{path}.{key}: unknown key (known keys: {known})")
    for key, opt in spec.items():
        if key in table:
            out[key] = check_value(f"{path}.{key}", opt, table[key], problems)
        elif opt.default is REQUIRED:
            problems.append(f"{path}.{key}: missing (required)")
            out[key] = None
        else:
            out[key] = opt.default
    return out
