"""GS1 Digital Link URIs in, the same fields as element strings out; identities out as URIs."""

from __future__ import annotations

import pytest

from gateway.decode import decode, digital_link, set_company_prefixes
from gateway.decode.identity import company_prefix_length, epc_escape

GTIN = "09506000134352"


@pytest.fixture(autouse=True)
def no_configured_prefixes():
    set_company_prefixes([])
    yield
    set_company_prefixes([])


def test_id_gs1_org_with_query_attributes():
    r = decode("https://id.gs1.org/01/09506000134352/10/ABC?17=261231")
    assert r["kind"] == "gs1" and r["valid"] and r["syntax"] == "digital-link"
    assert r["ais"] == {"01": GTIN, "10": "ABC", "17": "261231"}
    assert (r["gtin"], r["lot"], r["expiry"]) == (GTIN, "ABC", "2026-12-31")
    assert r["identity"] == "https://id.gs1.org/01/09506000134352/10/ABC" and r["identity_kind"] == "class"


def test_custom_domain_stem_short_gtin_escapes_and_link_type():
    r = decode("https://brand.example.com/some/stem/01/9506000134352/21/A%2FB%25?linkType=gs1:pip&3103=000195")
    assert r["valid"] and r["ais"] == {"01": GTIN, "21": "A/B%", "3103": "000195"}
    assert r["decimals"] == {"3103": "0.195"}
    assert r["identity"] == "https://id.gs1.org/01/09506000134352/21/A%2FB%25" and r["identity_kind"] == "unit"


def test_uppercase_uri_from_an_alphanumeric_qr():
    assert decode("HTTPS://ID.GS1.ORG/01/09506000134352")["gtin"] == GTIN


def test_in_a_plain_qr_code():
    r = decode("]Q1https://id.gs1.org/00/106141411234567897")
    assert r["symbology"] == "qr" and r["sscc"] == "106141411234567897"


@pytest.mark.parametrize("uri,words", [
    ("https://id.gs1.org/01/09506000134353", "GTIN check digit is 3, expected 2"),
    ("https://id.gs1.org/01/09506000134352/21/X/10/Y", "do not fit key (01)"),
    ("https://id.gs1.org/01/09506000134352?17=261301", "month 13"),
    ("https://id.gs1.org/01/09506000134352?999=x", "(999) in the query is not a GS1 Application Identifier"),
    ("https://id.gs1.org/01/09506000134352/", "must not end with '/'"),
    ("https://id.gs1.org/01/09506000134352?00=106141411234567897", "belongs in the path"),
    ("https://id.gs1.org/AQnYUc1gkgYwNDI", "compressed GS1 Digital Link URIs are not supported"),
    ("https://id.gs1.org/01/09506000134352/21/%C3", "not UTF-8"),
])
def test_broken_digital_links(uri, words):
    r = decode(uri)
    assert r["kind"] == "gs1" and r["valid"] is False and words in r["error"], r


@pytest.mark.parametrize("uri", ["https://example.com/", "https://example.com/product/42",
                                 "https://youtu.be/dQw4w9WgXcQ", "http://x", "https://a b/01/1"])
def test_ordinary_web_addresses_are_text(uri):
    r = decode(uri)
    assert r["kind"] == "text" and r["valid"] is True


def test_uri_writer_escapes_everything_outside_unreserved():
    assert digital_link.uri([("01", GTIN), ("21", "a b/#?%")]) == \
        "https://id.gs1.org/01/09506000134352/21/a%20b%2F%23%3F%25"


# --- identities ----------------------------------------------------------------------


def test_epc_uris_when_the_company_prefix_is_known():
    set_company_prefixes(["9506000"])
    r = decode("]C1" + "01" + GTIN + "21" + "S/1&<2>")
    assert r["identity"] == "urn:epc:id:sgtin:9506000.013435.S%2F1%26%3C2%3E"
    assert decode("]C1" + "01" + GTIN + "10" + "L?1")["identity"] == "urn:epc:class:lgtin:9506000.013435.L%3F1"
    assert decode("]C1" + "01" + GTIN)["identity"] == "urn:epc:idpat:sgtin:9506000.013435.*"


def test_digital_link_when_the_prefix_is_unknown():
    assert decode("]C1" + "01" + GTIN + "21" + "S/1")["identity"] == "https://id.gs1.org/01/09506000134352/21/S%2F1"
    assert decode("]C1" + "00" + "395011010013000013")["identity"] == "https://id.gs1.org/00/395011010013000013"


def test_built_in_demonstration_prefixes():
    assert company_prefix_length("0614141123452") == 7
    assert company_prefix_length("9521234000004") == 7
    assert company_prefix_length("4012345000009") is None  # a real prefix: its length is not guessed
    set_company_prefixes(["4012345"])
    assert company_prefix_length("4012345000009") == 7


def test_gs1_prefix_length_list_only_when_asked():
    assert company_prefix_length("7044610873466") is None
    set_company_prefixes([], use_gs1_prefix_list=True)
    assert company_prefix_length("7044610873466") == 6


@pytest.mark.parametrize("text,identity,kind", [
    ("414" + "0614141123452" + "254" + "A/1", "urn:epc:id:sgln:0614141.12345.A%2F1", "location"),
    ("414" + "0614141123452", "urn:epc:id:sgln:0614141.12345.0", "location"),
    ("8003" + "0" + "0614141123452" + "S1", "urn:epc:id:grai:0614141.12345.S1", "asset"),
    ("8003" + "0" + "0614141123452", "https://id.gs1.org/8003/00614141123452", "asset"),
    ("8004" + "0614141ABC/1", "urn:epc:id:giai:0614141.ABC%2F1", "asset"),
    ("8018" + "061414112345678902", "urn:epc:id:gsrn:0614141.1234567890", "other"),
    ("8017" + "061414112345678902", "urn:epc:id:gsrnp:0614141.1234567890", "other"),
    ("253" + "0614141123452" + "D7", "urn:epc:id:gdti:0614141.12345.D7", "other"),
    ("402" + "06141411234567890", "urn:epc:id:gsin:0614141.123456789", "shipment"),
    ("417" + "0614141123452", "urn:epc:id:pgln:0614141.12345", "other"),
    ("401" + "0614141X1", "urn:epc:id:ginc:0614141.X1", "shipment"),
    ("8013" + "1987654Ad4X4bL5ttr2310c2K", "https://id.gs1.org/8013/1987654Ad4X4bL5ttr2310c2K", "other"),
    ("8006" + "09506000134352" + "0102" + "21" + "P1", "https://id.gs1.org/8006/095060001343520102/21/P1", "unit"),
])
def test_identity_for_every_key(text, identity, kind):
    r = decode("]C1" + text)
    assert r["valid"], r
    assert (r["identity"], r["identity_kind"]) == (identity, kind)


def test_epc_escape_follows_the_tag_data_standard():
    assert epc_escape('a"%&/<>?b!\'()*+,-.:;=_') == "a%22%25%26%2F%3C%3E%3Fb!'()*+,-.:;=_"


def test_bad_company_prefix_config_is_refused():
    from gateway.decode import DecodeError
    with pytest.raises(DecodeError):
        set_company_prefixes(["12ab"])
