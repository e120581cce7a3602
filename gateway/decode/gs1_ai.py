"""The GS1 Application Identifier dictionary: every AI's format, and how to read its field.

The AI list, each AI's components (type, length, linters), FNC1 need and title come from
GS1's own Barcode Syntax Dictionary (`gs1_syntax/gs1-syntax-dictionary.txt`, from the
GS1 Barcode Syntax Engine, Apache-2.0; see gs1_syntax/SOURCE.md), parsed once at import,
plus `gs1_syntax/addendum.txt` for AIs allocated after that release. biip 5.2 has no public AI table (only `GS1ApplicationIdentifier.extract`, and importing
biip costs ~0.5 s here), so we no longer read its private JSON; a newer dictionary is a
file drop.

The linters named in the dictionary are run by gs1_checks.py (check digits, dates,
ISO country and currency codes, GMN check pair, IBAN, piece of total ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources

from . import DecodeError

# GS1 AI encodable character sets (Gen Specs figure 7.11-1, -2, -3).
CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
CSET39 = frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
CSET64 = frozenset("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz=")
DIGITS = frozenset("0123456789")

_CHARSETS = {
    "N": (DIGITS, "digits only"),
    "X": (CSET82, "GS1 character set 82"),
    "Y": (CSET39, "GS1 character set 39"),
    "Z": (CSET64, "GS1 character set 64"),
}

_CHARSET_PATTERN = {"N": "[0-9]", "X": "[!\"%-?A-Z_a-z]", "Y": "[#\\-/0-9A-Z]", "Z": "[\\-0-9A-Z_a-z=]"}


@dataclass(frozen=True)
class Component:
    """One part of an AI's data field, e.g. the N13 of GDTI's N13+X..17."""

    charset: str  # N X Y Z
    min_len: int
    max_len: int
    optional: bool
    linters: tuple[str, ...] = ()  # the dictionary's linter names, e.g. ("csum", "gcppos2")


@dataclass(frozen=True)
class ApplicationIdentifier:
    ai: str
    title: str
    format: str
    fnc1_required: bool
    _pattern: str = field(repr=False)
    components: tuple[Component, ...] = field(default=(), repr=False)
    key: bool = False  # "!": a GS1 identification key
    dl_attribute: bool = False  # "?": allowed as a Digital Link data attribute
    attributes: tuple[str, ...] = field(default=(), repr=False)  # req=..., ex=..., dlpkey...

    # Cached: every scan asks each of its AIs for these, and the answers never change.
    @cached_property
    def min_len(self) -> int:
        return sum(c.min_len for c in self.components if not c.optional)

    @cached_property
    def max_len(self) -> int:
        return sum(c.max_len for c in self.components)

    @cached_property
    def fixed_len(self) -> bool:
        return all(c.min_len == c.max_len and not c.optional for c in self.components)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        # Compiled on first use: 541 patterns at import would cost more than the whole decode.
        return re.compile(self._pattern)

    def parts(self, value: str) -> list[tuple[Component, str]]:
        """The value cut into its components (as far as it goes), for the linters."""
        out, pos = [], 0
        for comp in self.components:
            if pos >= len(value) and comp.optional:
                break
            out.append((comp, value[pos:pos + comp.max_len]))
            pos += comp.max_len
        return out

    @cached_property
    def _label(self) -> str:
        return f"AI ({self.ai}) {self.title}" if self.title else f"AI ({self.ai})"

    def label(self) -> str:
        return self._label

    def check_syntax(self, value: str) -> None:
        """Raise DecodeError, in words, if `value` breaks the AI's length or character rules.

        The finer format rules (biip's regex: month 01-12, yes/no flags ...) are in
        `check_format`, run after the content checks so a bad date is named as such.
        """
        name = self.label()
        if not value:
            raise DecodeError(f"{name} has no data")
        if len(value) < self.min_len:
            raise DecodeError(f"{name} is too short: {len(value)} characters, needs {self._length_words()}")
        if len(value) > self.max_len:
            raise DecodeError(f"{name} is too long: {len(value)} characters, at most {self.max_len} allowed")
        pos = 0
        for comp in self.components:
            if pos >= len(value):
                break
            allowed, words = _CHARSETS[comp.charset]
            segment = value[pos:pos + comp.max_len]
            for offset, ch in enumerate(segment):
                if ch not in allowed:
                    raise DecodeError(
                        f"{name}: character {ch!r} at position {pos + offset + 1} is not allowed ({words})")
            if comp.min_len == comp.max_len and len(segment) < comp.min_len and not comp.optional:
                raise DecodeError(f"{name} is too short: needs {self._length_words()}")
            pos += len(segment)

    def check_format(self, value: str) -> None:
        name = self.label()
        if not self.pattern.fullmatch(value):
            raise DecodeError(f"{name}: {value!r} does not fit the format {self.format}")

    def _length_words(self) -> str:
        if self.fixed_len:
            return f"exactly {self.max_len}"
        return f"{self.min_len} to {self.max_len}"


_SPEC = re.compile(r"(\[?)([NXYZ])(\.\.)?(\d+)\]?((?:,\w+)*)")
_FLAGS = frozenset("*!?\"$%&'()+,-./:;<=>@[\\]^_`{|}~")


def _component(text: str) -> Component | None:
    m = _SPEC.fullmatch(text)
    if m is None:
        return None
    bracket, charset, dots, length, linters = m.groups()
    n = int(length)
    return Component(charset, 1 if dots else n, n, bool(bracket), tuple(filter(None, linters.split(","))))


def _regex(components: tuple[Component, ...]) -> str:
    """Components in order; optional ones nest, as each applies only if data is left for it."""
    out = ""
    for comp in reversed(components):
        piece = f"{_CHARSET_PATTERN[comp.charset]}{{{comp.min_len},{comp.max_len}}}" + out
        out = f"(?:{piece})?" if comp.optional else piece
    return out


def _ais(first: str, last: str) -> list[str]:
    return [str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)]


def parse_dictionary(text: str) -> list[ApplicationIdentifier]:
    """GS1 Barcode Syntax Dictionary lines: `AIs [Flags] Specification [Attributes...] [# Title]`."""
    entries = []
    for line in text.splitlines():
        body, _, title = line.partition("#")
        tokens = body.split()
        if not tokens:
            continue
        first, _, last = tokens[0].partition("-")
        flags, components, attributes = "", [], []
        for token in tokens[1:]:
            comp = _component(token)
            if comp is not None:
                components.append(comp)
            elif not components and set(token) <= _FLAGS:
                flags += token
            else:
                attributes.append(token)
        if not components:
            raise ValueError(f"syntax dictionary line without a specification: {line!r}")
        spec = tuple(components)
        fmt = " ".join(("[" if c.optional else "") + c.charset + (".." if c.min_len != c.max_len else "")
                       + str(c.max_len) + ("]" if c.optional else "") for c in spec)
        for ai in _ais(first, last or first):
            entries.append(ApplicationIdentifier(
                ai=ai, title=title.strip(), format=fmt, fnc1_required="*" not in flags, _pattern=_regex(spec),
                components=spec, key="!" in flags, dl_attribute="?" in flags, attributes=tuple(attributes)))
    return entries


DICTIONARY_FILES = ("gs1-syntax-dictionary.txt", "addendum.txt")


def _build() -> tuple[dict[str, ApplicationIdentifier], dict[str, int]]:
    folder = resources.files(__package__).joinpath("gs1_syntax")
    table: dict[str, ApplicationIdentifier] = {}
    length_by_prefix: dict[str, int] = {}
    for name in DICTIONARY_FILES:
        for entry in parse_dictionary(folder.joinpath(name).read_text("utf-8")):
            table.setdefault(entry.ai, entry)  # GS1's own entry wins over our addendum
    for entry in table.values():
        # GS1 allocates AIs so that the first two digits fix the AI's length (Gen Specs 3.2).
        length_by_prefix[entry.ai[:2]] = len(entry.ai)
    return table, length_by_prefix


AI_TABLE, _AI_LENGTH = _build()


def lookup(text: str, pos: int = 0) -> ApplicationIdentifier | None:
    """The AI that starts at `text[pos]`, or None if those digits are no AI."""
    length = _AI_LENGTH.get(text[pos:pos + 2])
    if length is None:
        return None
    return AI_TABLE.get(text[pos:pos + length])


def get(ai: str) -> ApplicationIdentifier:
    try:
        return AI_TABLE[ai]
    except KeyError:
        raise DecodeError(f"({ai}) is not a GS1 Application Identifier") from None
