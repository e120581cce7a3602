"""What someone types to find a thing, turned into every URI a gateway may have put in its events.

A gateway names a unit by its SGTIN EPC URI when it knows the GS1 Company Prefix length and by
a Digital Link URI otherwise (gateway/events.py, gateway/decode/identity.py); the tracker does
not know which prefixes each gateway was told. The split of a GTIN or SSCC into prefix and
reference is one of seven (prefix lengths 6-12), so a key has at most eight spellings: all are
looked up, each an exact index hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from gateway.decode import decode
from gateway.decode.checksums import gs1_mod10
from gateway.decode.digital_link import uri as digital_link
from gateway.decode.identity import epc_escape

PREFIX_LENGTHS = range(6, 13)


class NotAnIdentifier(ValueError):
    pass


@dataclass(frozen=True)
class Resolved:
    text: str
    identifier: str  # the canonical spelling (the gateway's own when it has no prefix table)
    kind: str        # unit, class, logistic_unit, shipment, location, asset, other
    spellings: tuple[str, ...]
    gtin: str | None = None
    lot: str | None = None


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def sgtin_spellings(gtin: str, serial: str) -> list[str]:
    out = [digital_link([("01", gtin), ("21", serial)])]
    for n in PREFIX_LENGTHS:
        out.append(f"urn:epc:id:sgtin:{gtin[1:1 + n]}.{gtin[0]}{gtin[1 + n:13]}.{epc_escape(serial)}")
    return out


def lgtin_spellings(gtin: str, lot: str) -> list[str]:
    out = [digital_link([("01", gtin), ("10", lot)])]
    for n in PREFIX_LENGTHS:
        out.append(f"urn:epc:class:lgtin:{gtin[1:1 + n]}.{gtin[0]}{gtin[1 + n:13]}.{epc_escape(lot)}")
    return out


def sscc_spellings(sscc: str) -> list[str]:
    out = [digital_link([("00", sscc)])]
    for n in PREFIX_LENGTHS:
        out.append(f"urn:epc:id:sscc:{sscc[1:1 + n]}.{sscc[0]}{sscc[1 + n:17]}")
    return out


def _lgtin_parts(uri: str) -> tuple[str, str] | None:
    """(GTIN, lot) of urn:epc:class:lgtin:CP.IR.LOT."""
    body = uri[len("urn:epc:class:lgtin:"):]
    parts = body.split(".", 2)
    if len(parts) != 3 or not (parts[0] + parts[1]).isdigit() or len(parts[0] + parts[1]) != 13:
        return None
    digits = parts[1][0] + parts[0] + parts[1][1:]
    return digits + str(gs1_mod10(digits)), unquote(parts[2])


def gtin_lot(gtin: str, lot: str) -> Resolved:
    gtin = gtin.strip()
    if not (gtin.isdigit() and len(gtin) in (8, 12, 13, 14)):
        raise NotAnIdentifier(f"{gtin!r} is not a GTIN")
    gtin = gtin.zfill(14)
    if gs1_mod10(gtin[:13]) != int(gtin[13]):
        raise NotAnIdentifier(f"GTIN {gtin}: bad check digit")
    if not lot or len(lot) > 20:
        raise NotAnIdentifier("a lot is 1-20 characters")
    spellings = _unique(lgtin_spellings(gtin, lot))
    return Resolved(f"(01){gtin}(10){lot}", spellings[0], "class", spellings, gtin, lot)


def resolve(text: str) -> Resolved:
    """The identifier behind a tracking number, SSCC, SGTIN/LGTIN URI, GS1 element string or Digital Link."""
    text = text.strip()
    if not text or len(text) > 512:
        raise NotAnIdentifier("give a tracking number, SSCC, SGTIN, GTIN with lot, EPC URI or Digital Link URI")
    decoded = decode(text)
    identity = decoded.get("identity")
    if not decoded.get("valid") or not identity:
        if text.startswith(("urn:", "http://", "https://")):
            return Resolved(text, text, kind_of(text), (text,))
        raise NotAnIdentifier(decoded.get("error") or f"{text!r} names nothing a gateway tracks")
    kind = decoded.get("identity_kind") or "other"
    gtin, serial, lot, sscc = (decoded.get(k) for k in ("gtin", "serial", "lot", "sscc"))
    spellings = [identity]
    if kind == "unit" and gtin and serial is not None:
        spellings += sgtin_spellings(gtin, serial)
    elif kind == "class" and identity.startswith("urn:epc:class:lgtin:") and _lgtin_parts(identity):
        gtin, lot = _lgtin_parts(identity)
        spellings += lgtin_spellings(gtin, lot)
    elif kind == "class" and gtin and lot is not None:
        spellings += lgtin_spellings(gtin, lot)
    elif kind == "logistic_unit" and sscc:
        spellings += sscc_spellings(sscc)
    return Resolved(text, identity, kind, _unique(spellings), gtin, lot)


def kind_of(uri: str) -> str:
    """What a stored identifier names, from its URI scheme."""
    if uri.startswith("urn:epc:id:sgtin:"):
        return "unit"
    if uri.startswith(("urn:epc:class:lgtin:", "urn:epc:idpat:sgtin:")):
        return "class"
    if uri.startswith("urn:epc:id:sscc:"):
        return "logistic_unit"
    if uri.startswith(("urn:tally:shipment:", "urn:epc:id:gsin:", "urn:epc:id:ginc:")):
        return "shipment"
    if uri.startswith("urn:tally:vehicle:"):
        return "vehicle"
    if uri.startswith("urn:epc:id:sgln:"):
        return "location"
    if uri.startswith(("urn:epc:id:grai:", "urn:epc:id:giai:")):
        return "asset"
    if uri.startswith(("https://", "http://")):
        path = "/" + uri.split("://", 1)[1].split("?", 1)[0].split("/", 1)[-1] + "/"
        if "/21/" in path and "/01/" in path:
            return "unit"
        if "/10/" in path and "/01/" in path or path.startswith("/01/"):
            return "class"
        if "/00/" in path:
            return "logistic_unit"
    return "other"
