"""tracking_number_data's courier files, compiled once: one `CourierFormat` per `tracking_numbers` entry.

The data (jkeen/tracking_number_data, MIT) ships unchanged in `tracking_data/` with its
licence, changelog and version; a newer release is a file drop there. Each entry gives:

- `regex` (a string or a list of strings joined), PCRE-style with `(?<Name>...)` groups
  and `\\s*` between characters so spaced-out numbers match. We match numbers with the
  blanks already removed, so `\\s*` is dropped and the groups become Python's `(?P<Name>...)`.
- `validation.checksum`: an algorithm name from tracking_checksums.ALGORITHMS with its
  parameters, computed over the `SerialNumber` group and compared with `CheckDigit`.
- `validation.serial_number_format.prepend_if`: text put before the serial, when the serial
  matches `matches_regex`, before the checksum is computed (OnTrac, USPS legacy "91").
- `validation.additional.exists`: names of `additional` lookups that must find the
  number's group value (S10: the country code must name a post).
- `additional`: lookups of a named group (`matches` exactly or `matches_regex`), giving a
  service type, country, courier ... for the reading.

An entry we cannot use (bad regex, unknown algorithm) is left out and listed by
`problems()`, so a data release that needs new code shows up in a test, not as a crash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from .tracking_checksums import ALGORITHMS, Check

_NAMED_GROUP = re.compile(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>")
_BLANKS = re.compile(r"(?<!\\)\\s\*")
UNBOUNDED = 10_000  # a pattern width above this counts as "any length"


@dataclass(frozen=True)
class Lookup:
    """One `additional` entry: what a named group's value means (the first row that matches)."""

    name: str
    group: str
    exact: Mapping[str, tuple[int, Mapping[str, Any]]]  # `matches` value -> (row, entry)
    patterns: tuple[tuple[int, re.Pattern[str], Mapping[str, Any]], ...]  # `matches_regex` rows

    def find(self, value: str) -> Mapping[str, Any] | None:
        row, entry = self.exact.get(value, (1 << 30, None))
        for index, pattern, candidate in self.patterns:
            if index > row:
                break
            if pattern.fullmatch(value):
                return candidate
        return entry


@dataclass(frozen=True)
class CourierFormat:
    courier: str  # the file's courier_code, e.g. "ups", "canada_post"
    courier_name: str
    id: str  # the entry's id, or its name where the data gives none
    name: str  # e.g. "FedEx Express (34)"
    pattern: re.Pattern[str]
    min_len: int
    max_len: int
    checksum: Check | None  # serial -> the check character it should carry
    prepend_if: tuple[re.Pattern[str], str] | None
    lookups: tuple[Lookup, ...]
    required: tuple[str, ...]  # lookups that must find the value for the number to be valid
    tracking_url: str | None
    valid_examples: tuple[str, ...] = field(repr=False)
    invalid_examples: tuple[str, ...] = field(repr=False)


def to_python_regex(source: str | list[str]) -> str:
    """The data's PCRE-style regex as Python's, for numbers without blanks."""
    text = "".join(source) if isinstance(source, list) else source
    return _NAMED_GROUP.sub(r"(?P<\1>", _BLANKS.sub("", text))


def _width(pattern: str) -> tuple[int, int]:
    try:
        from re import _parser  # type: ignore[attr-defined]  # no public API gives a pattern's width

        low, high = _parser.parse(pattern).getwidth()
    except Exception:  # noqa: BLE001 - an interpreter without it just loses the length index
        return 0, UNBOUNDED
    return int(low), int(min(high, UNBOUNDED))


def _lookup(entry: Mapping[str, Any]) -> Lookup:
    exact: dict[str, tuple[int, Mapping[str, Any]]] = {}
    patterns = []
    for index, row in enumerate(entry.get("lookup") or ()):
        if row.get("matches") is not None:
            exact.setdefault(str(row["matches"]), (index, row))
        elif row.get("matches_regex"):
            patterns.append((index, re.compile(to_python_regex(row["matches_regex"])), row))
    return Lookup(str(entry.get("name", "")), str(entry.get("regex_group_name", "")), exact, tuple(patterns))


def _format(courier: Mapping[str, Any], entry: Mapping[str, Any]) -> CourierFormat:
    source = to_python_regex(entry["regex"])
    pattern = re.compile(source)
    validation = entry.get("validation") or {}
    checksum = None
    if validation.get("checksum"):
        params = validation["checksum"]
        algorithm = ALGORITHMS.get(params.get("name"))
        if algorithm is None:
            raise ValueError(f"checksum algorithm {params.get('name')!r} is not implemented")
        checksum = algorithm(params)
        if "SerialNumber" not in pattern.groupindex or "CheckDigit" not in pattern.groupindex:
            raise ValueError("a checksum needs SerialNumber and CheckDigit groups")
    prepend = (validation.get("serial_number_format") or {}).get("prepend_if")
    prepend_if = (re.compile(to_python_regex(prepend["matches_regex"])), str(prepend["content"])) if prepend else None
    lookups = tuple(_lookup(a) for a in entry.get("additional") or ())
    required = tuple((validation.get("additional") or {}).get("exists") or ())
    for name in required:
        if not any(lookup.name == name for lookup in lookups):
            raise ValueError(f"validation requires the lookup {name!r}, which the entry does not have")
    for lookup in lookups:
        if lookup.group not in pattern.groupindex:
            raise ValueError(f"lookup {lookup.name!r} names the group {lookup.group!r}, which the regex lacks")
    low, high = _width(source)
    tests = entry.get("test_numbers") or {}
    return CourierFormat(
        courier=str(courier["courier_code"]), courier_name=str(courier.get("name", courier["courier_code"])),
        id=str(entry.get("id") or entry["name"]), name=str(entry["name"]), pattern=pattern,
        min_len=low, max_len=high, checksum=checksum, prepend_if=prepend_if, lookups=lookups,
        required=required, tracking_url=entry.get("tracking_url"),
        valid_examples=tuple(tests.get("valid") or ()), invalid_examples=tuple(tests.get("invalid") or ()))


@cache
def _load() -> tuple[tuple[CourierFormat, ...], tuple[str, ...]]:
    formats: list[CourierFormat] = []
    problems: list[str] = []
    folder = resources.files(__package__).joinpath("tracking_data", "couriers")
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".json"):
            continue
        try:
            courier = json.loads(path.read_text(encoding="utf-8"))
            entries = courier["tracking_numbers"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        for entry in entries:
            try:
                formats.append(_format(courier, entry))
            except (re.error, ValueError, KeyError, TypeError) as exc:
                problems.append(f"{path.name} {entry.get('id') or entry.get('name')}: {exc}")
    return tuple(formats), tuple(problems)


def formats() -> tuple[CourierFormat, ...]:
    """Every usable format, in file (courier code) order and the order of each file."""
    return _load()[0]


def problems() -> tuple[str, ...]:
    """Entries of the shipped data left out, with why (empty for the data we ship)."""
    return _load()[1]


@cache
def data_version() -> str:
    """The data set's version as its package.json states it."""
    text = resources.files(__package__).joinpath("tracking_data", "package.json").read_text(encoding="utf-8")
    return str(json.loads(text).get("version", "unknown"))
