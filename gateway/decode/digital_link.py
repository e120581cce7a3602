"""GS1 Digital Link URIs (uncompressed) to (AI, value) pairs, and canonical URIs from pairs.

Reading (GS1 Digital Link URI syntax 1.x): any http/https domain and path stem; the GS1
part is the rightmost run of "/AI/value" path pairs that starts at a primary key (01,
00, 414, 8003 ...), followed by that key's qualifiers in the standard's order (01: 22,
10, 21 or 235); data attributes are numeric query parameters (?17=261231&3103=000195);
other parameters (linkType ...) are ignored. Values are percent-decoded; a GTIN-8/12/13
is padded to 14 digits.

Compressed Digital Link URIs (binary packed into one base64url path segment) are
recognised and reported as unsupported, not misread.

Writing: `uri(pairs)` builds the canonical form on https://id.gs1.org, percent-encoding
every character outside RFC 3986's unreserved set, so equal identifiers give equal URIs.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import quote, unquote

from . import DecodeError
from .gs1_ai import AI_TABLE

RESOLVER = "https://id.gs1.org"

# Primary key -> allowed qualifier sequences (Syntax Dictionary "dlpkey").
PRIMARY_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "00": (),
    "01": (("22", "10", "21"), ("235",)),
    "253": (),
    "255": (),
    "401": (),
    "402": (),
    "414": (("254",), ("7040",)),
    "415": (("8020",),),
    "417": (("7040",),),
    "8003": (),
    "8004": (("7040",),),
    "8006": (("22", "10", "21"),),
    "8010": (("8011",),),
    "8013": (),
    "8017": (("8019",),),
    "8018": (("8019",),),
}

_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_COMPRESSED = re.compile(r"[A-Za-z0-9_-]{8,}")


def is_http_uri(text: str) -> bool:
    head = text[:8].lower()
    return head.startswith("https://") or head.startswith("http://")


def _split(uri: str) -> tuple[str, str, str]:
    """(host, path, query) of an http(s) URI; the fragment is dropped."""
    rest = uri.split("://", 1)[1]
    rest = rest.split("#", 1)[0]
    rest, _, query = rest.partition("?")
    host, slash, path = rest.partition("/")
    return host, slash + path, query


def _value(ai: str, raw: str) -> str:
    value = unquote(raw, errors="strict") if "%" in raw else raw
    if ai == "01" and len(value) in (8, 12, 13) and value.isdigit():
        value = value.rjust(14, "0")
    return value


def _looks_compressed(segment: str) -> bool:
    """A compressed DL starts with its primary key's AI written in hex nibbles."""
    if not _COMPRESSED.fullmatch(segment):
        return False
    try:
        head = base64.urlsafe_b64decode(segment[:4]).hex()
    except (binascii.Error, ValueError):
        return False
    return any(head.startswith(key) for key in PRIMARY_KEYS)


def parse(uri: str) -> list[tuple[str, str]] | None:
    """Pairs from a Digital Link URI; None if the URI has no GS1 key path (not a DL at all).

    Raises DecodeError for a DL that is broken or compressed.
    """
    if not _URI_CHARS.fullmatch(uri):
        return None
    host, path, query = _split(uri)
    if not host:
        return None
    segments = path.split("/")[1:]  # path starts with "/"
    trailing_slash = bool(segments) and segments[-1] == ""
    if trailing_slash:
        segments.pop()
    root = None
    # Walk pairs back from the end; the last primary key met is where the GS1 part starts.
    i = len(segments) - 2
    while i >= 0:
        ai = segments[i]
        if ai not in AI_TABLE:
            break
        if ai in PRIMARY_KEYS:
            root = i
        i -= 2
    if root is None:
        if segments and segments[-1] and _looks_compressed(segments[-1]):
            raise DecodeError("compressed GS1 Digital Link URIs are not supported; scan the uncompressed form")
        return None
    if trailing_slash:
        raise DecodeError("a GS1 Digital Link URI must not end with '/'")
    pairs = []
    try:
        for j in range(root, len(segments), 2):
            ai, raw = segments[j], segments[j + 1]
            pairs.append((ai, _value(ai, raw)))
        _check_qualifiers(pairs)
        for param in query.split("&"):
            key, eq, raw = param.partition("=")
            if not eq or not key.isdigit():
                continue  # linkType, context, singletons: not GS1 data
            if key not in AI_TABLE:
                raise DecodeError(f"({key}) in the query is not a GS1 Application Identifier")
            if key in PRIMARY_KEYS:
                raise DecodeError(f"primary key ({key}) belongs in the path, not the query")
            pairs.append((key, _value(key, raw)))
    except UnicodeDecodeError:
        raise DecodeError("a percent-escape in the URI is not UTF-8") from None
    return pairs


def _check_qualifiers(pairs: list[tuple[str, str]]) -> None:
    key = pairs[0][0]
    qualifiers = [ai for ai, _ in pairs[1:]]
    if not qualifiers:
        return
    for sequence in PRIMARY_KEYS[key]:
        position = 0
        for ai in qualifiers:
            if ai not in sequence[position:]:
                break
            position = sequence.index(ai, position) + 1
        else:
            return
    allowed = " or ".join(", ".join(s) for s in PRIMARY_KEYS[key]) or "none"
    raise DecodeError(f"path qualifiers {', '.join(qualifiers)} do not fit key ({key}); allowed in order: {allowed}")


def uri(pairs: list[tuple[str, str]]) -> str:
    """Canonical https://id.gs1.org URI for a primary key and its qualifiers (path only)."""
    return RESOLVER + "".join(f"/{ai}/{quote(value, safe='')}" for ai, value in pairs)
