"""The URI that names what a label identifies, for the EPCIS event, and what kind of thing it is.

Kinds: unit (GTIN + serial), class (GTIN + lot, or GTIN alone), logistic_unit (SSCC),
shipment (carrier tracking number, GSIN, GINC), location (GLN in AI 414), asset (GRAI,
GIAI), other (GDTI, GSRN, GCN, party GLN, CPID, GMN).

Which URI (GS1 Tag Data Standard 2.x and Digital Link):
- When the GS1 Company Prefix of the key is known, the EPC pure identity URI:
  urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial, urn:epc:class:lgtin:..., the
  pattern urn:epc:idpat:sgtin:CP.IR.* for a bare GTIN, urn:epc:id:sscc:CP.SerialRef,
  urn:epc:id:sgln:CP.LocRef.Ext, grai, giai, gsrn, gsrnp, gdti, sgcn, pgln, ginc, gsin.
- Otherwise the canonical GS1 Digital Link URI on https://id.gs1.org (GTIN as 14
  digits), because the split of a key into prefix and reference cannot be derived from
  the key itself and GS1 recommends Digital Link where the prefix length is unknown.

Company prefixes are known from configuration (`set_company_prefixes`), from two built-in
ranges GS1 reserves for examples and documentation (0614141 as used throughout the TDS,
and 952xxxx, 7 digits), and, only when asked for, from GS1's published prefix-length
list that biip ships (`use_gs1_prefix_list=True`). Nothing else is guessed.

Carrier tracking numbers map to `urn:tally:shipment:{carrier}:{tracking_number}`, carrier
lower-case as `decode` reports it, tracking number upper-case without blanks, e.g.
urn:tally:shipment:ups:1Z5R89390357567127. The mapping is stable: the same parcel
scanned anywhere gives the same URI.

Serials, lots and other alphanumeric parts are percent-encoded: in EPC URIs the TDS
escapes " % & / < > ? ; in Digital Link URIs every character outside RFC 3986's
unreserved set is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from . import DecodeError, digital_link

_configured: frozenset[str] = frozenset()
_lengths: tuple[int, ...] = ()
_use_gs1_list = False

_BUILT_IN = (("0614141", 7), ("952", 7))


def set_company_prefixes(prefixes: Iterable[str], *, use_gs1_prefix_list: bool = False) -> None:
    """Tell the decoder which GS1 Company Prefixes are known (e.g. from config).

    `use_gs1_prefix_list` also consults GS1's prefix-length list bundled with biip, which
    covers many real prefixes; off by default so identities do not change when biip does.
    """
    global _configured, _lengths, _use_gs1_list
    clean = []
    for prefix in prefixes:
        prefix = str(prefix).strip()
        if not (prefix.isdigit() and prefix.isascii() and 4 <= len(prefix) <= 12):
            raise DecodeError(f"{prefix!r} is not a GS1 Company Prefix (4 to 12 digits)")
        clean.append(prefix)
    _configured = frozenset(clean)
    _lengths = tuple(sorted({len(p) for p in clean}, reverse=True))
    _use_gs1_list = use_gs1_prefix_list


def company_prefix_length(digits: str) -> int | None:
    """Length of the GS1 Company Prefix at the start of `digits`, if known."""
    for length in _lengths:
        if digits[:length] in _configured:
            return length
    for prefix, length in _BUILT_IN:
        if digits.startswith(prefix):
            return length
    if _use_gs1_list:
        return _gs1_list_length(digits)
    return None


def _gs1_list_length(digits: str) -> int | None:
    try:
        from biip.gs1_prefixes import GS1CompanyPrefix
        found = GS1CompanyPrefix.extract(digits[:12])
    except Exception:  # biip missing or a data error: fall back to Digital Link
        return None
    return len(found.value) if found else None


_EPC_ESCAPES = str.maketrans({'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"})


def epc_escape(value: str) -> str:
    return value.translate(_EPC_ESCAPES)


@dataclass(frozen=True)
class Identity:
    uri: str
    kind: str
    quantity: int | None = None


def _count(ais: Mapping[str, str], *keys: str) -> int | None:
    for key in keys:
        value = ais.get(key)
        if value and value.isdigit():
            return int(value)
    return None


def _gtin_parts(gtin: str) -> tuple[str, str] | None:
    """(CompanyPrefix, IndicatorItemRef) of a 14-digit GTIN, if its prefix length is known."""
    length = company_prefix_length(gtin[1:13])
    if length is None or not 6 <= length <= 12:
        return None
    return gtin[1:1 + length], gtin[0] + gtin[1 + length:13]


def _dl(*pairs: tuple[str, str]) -> str:
    return digital_link.uri(list(pairs))


def gtin_identity(gtin: str, ais: Mapping[str, str], gtin_ai: str = "01") -> Identity:
    parts = _gtin_parts(gtin)
    serial, lot = ais.get("21"), ais.get("10")
    if serial is not None and gtin_ai == "01":
        uri = (f"urn:epc:id:sgtin:{parts[0]}.{parts[1]}.{epc_escape(serial)}" if parts
               else _dl(("01", gtin), ("21", serial)))
        return Identity(uri, "unit")
    quantity = _count(ais, "30", "37")
    if lot is not None:
        uri = (f"urn:epc:class:lgtin:{parts[0]}.{parts[1]}.{epc_escape(lot)}" if parts
               else _dl(("01", gtin), ("10", lot)))
        return Identity(uri, "class", quantity)
    uri = f"urn:epc:idpat:sgtin:{parts[0]}.{parts[1]}.*" if parts else _dl(("01", gtin))
    return Identity(uri, "class", quantity)


def _simple(ai: str, value: str, scheme: str, key_digits: str, ref_end: int, kind: str,
            serial: str | None = None, *, serial_required: bool = False) -> Identity:
    """EPC for keys shaped CompanyPrefix + reference (+ serial); Digital Link otherwise."""
    length = company_prefix_length(key_digits)
    if length is not None and not (serial_required and not serial):
        ref = key_digits[length:ref_end]
        uri = f"urn:epc:id:{scheme}:{key_digits[:length]}.{ref}"
        if serial is not None:
            uri += f".{epc_escape(serial)}"
        return Identity(uri, kind)
    return Identity(_dl((ai, value)), kind)


def from_ais(ais: Mapping[str, str]) -> tuple[Identity | None, dict | None]:
    """The identity of a GS1 message (first key found, most specific first) and, for a
    logistic unit that also names its contents (02 + 37), what it contains."""
    if "00" in ais:
        sscc = ais["00"]
        length = company_prefix_length(sscc[1:17])
        uri = (f"urn:epc:id:sscc:{sscc[1:1 + length]}.{sscc[0]}{sscc[1 + length:17]}" if length
               else _dl(("00", sscc)))
        contents = None
        if "02" in ais:
            content = gtin_identity(ais["02"], ais, "02")
            contents = {"gtin": ais["02"], "identity": content.uri, "identity_kind": content.kind}
            if "10" in ais:
                contents["lot"] = ais["10"]
            if content.quantity is not None:
                contents["quantity"] = content.quantity
        return Identity(uri, "logistic_unit"), contents
    if "01" in ais:
        if "235" in ais:
            return Identity(_dl(("01", ais["01"]), ("235", ais["235"])), "unit"), None
        return gtin_identity(ais["01"], ais), None
    if "8006" in ais:
        itip = ais["8006"]
        pairs = [("8006", itip)] + [(q, ais[q]) for q in ("22", "10", "21") if q in ais]
        return Identity(_dl(*pairs), "unit" if "21" in ais else "class", _count(ais, "30", "37")), None
    if "8003" in ais:
        grai = ais["8003"]
        serial = grai[14:] or None
        return _simple("8003", grai, "grai", grai[1:14], 12, "asset", serial, serial_required=True), None
    if "8004" in ais:
        giai = ais["8004"]
        length = company_prefix_length(giai)
        if length:
            return Identity(f"urn:epc:id:giai:{giai[:length]}.{epc_escape(giai[length:])}", "asset"), None
        return Identity(_dl(("8004", giai)), "asset"), None
    if "414" in ais:
        gln = ais["414"]
        length = company_prefix_length(gln)
        extension = ais.get("254")
        if length:
            return Identity(f"urn:epc:id:sgln:{gln[:length]}.{gln[length:12]}.{epc_escape(extension or '0')}",
                            "location"), None
        pairs = [("414", gln)] + ([("254", extension)] if extension else [])
        return Identity(_dl(*pairs), "location"), None
    if "402" in ais:
        return _simple("402", ais["402"], "gsin", ais["402"], 16, "shipment"), None
    if "401" in ais:
        ginc = ais["401"]
        length = company_prefix_length(ginc)
        if length:
            return Identity(f"urn:epc:id:ginc:{ginc[:length]}.{epc_escape(ginc[length:])}", "shipment"), None
        return Identity(_dl(("401", ginc)), "shipment"), None
    if "253" in ais:
        gdti = ais["253"]
        return _simple("253", gdti, "gdti", gdti[:13], 12, "other", gdti[13:] or None, serial_required=True), None
    if "255" in ais:
        gcn = ais["255"]
        return _simple("255", gcn, "sgcn", gcn[:13], 12, "other", gcn[13:] or None, serial_required=True), None
    for ai, scheme in (("8018", "gsrn"), ("8017", "gsrnp")):
        if ai in ais:
            return _simple(ai, ais[ai], scheme, ais[ai], 17, "other"), None
    if "417" in ais:
        return _simple("417", ais["417"], "pgln", ais["417"], 12, "other"), None
    if "8010" in ais:
        pairs = [("8010", ais["8010"])] + ([("8011", ais["8011"])] if "8011" in ais else [])
        return Identity(_dl(*pairs), "other"), None
    if "8013" in ais:
        return Identity(_dl(("8013", ais["8013"])), "other"), None
    if "02" in ais:
        return gtin_identity(ais["02"], ais, "02"), None
    return None, None


def shipment(carrier: str, tracking_number: str) -> str:
    return f"urn:tally:shipment:{carrier}:{tracking_number}"
