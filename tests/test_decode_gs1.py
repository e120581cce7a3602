"""GS1 element strings, HRI and plain GTIN/SSCC through gateway.decode.decode()."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.decode import DecodeError, decode, gs1_ai, gs1_checks
from gateway.decode.checksums import gs1_alpha_pair, gs1_mod10
from gateway.decode.gs1_element_string import GS, parse_element_string, parse_hri

GTIN = "09506000134352"  # GS1's own example GTIN (check digit 2)
SSCC = "106141411234567897"


def with_check(digits: str) -> str:
    return digits + str(gs1_mod10(digits))


# --- a valid value for every AI in the dictionary -----------------------------------------

_X_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._/"


def _component_text(rng: random.Random, comp: gs1_ai.Component) -> str:
    if comp.charset == "-":
        return "-"
    n = comp.max_len if comp.min_len == comp.max_len else rng.randint(comp.min_len, comp.max_len)
    alphabet = {"N": "0123456789", "X": _X_SAFE, "Y": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ#-/",
                "Z": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"}[comp.charset]
    return "".join(rng.choice(alphabet) for _ in range(n))


_FIXED = {  # AIs whose content rules are easier to state than to generate
    "4307": "DE", "4317": "NL", "8007": "GB82WEST12345698765432", "8001": "01230450678910",
    "4309": "0123456789" + "0123456789", "7252": "1", "7258": "1/3", "7241": "01", "7040": "1ABC",
    "8006": "09506000134352" + "0102", "8026": "09506000134352" + "0204", "8011": "12345",
    "8043": "123456789012345678", "7250": "19991231", "7251": "199912312359", "4321": "1",
    "4322": "0", "4323": "1", "423": "276040", "425": "250", "8008": "26113014", "7011": "2612311230",
    "7007": "260101260131", "4324": "2611302359", "4325": "2612009999", "7003": "2612312359",
    "8003": "0" + with_check("950600013435") + "SERIAL1",
    "4330": "001250-", "4331": "000450", "4332": "000100-", "4333": "001800",
    "8014": "MUDI1" + gs1_alpha_pair("MUDI1"),
}
_DATES6 = {"11", "12", "13", "15", "16", "17", "4326", "7006"}


def valid_value(ai: str, rng: random.Random) -> str:
    """A value the AI accepts, from its format plus the content rules of gs1_checks."""
    if ai in _FIXED:
        return _FIXED[ai]
    spec = gs1_ai.AI_TABLE[ai]
    parts = [_component_text(rng, c) for c in spec.components if not c.optional or rng.random() < 0.5]
    value = "".join(parts)
    if ai in _DATES6:
        value = f"{rng.randint(0, 40):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    if ai in gs1_checks._CHECK_DIGIT:
        start, length, _ = gs1_checks._CHECK_DIGIT[ai]
        key = with_check(value[start:start + length - 1])
        value = value[:start] + key + value[start + length:]
    if ai in ("421", "422", "424", "426") or ("7030" <= ai <= "7039" and len(ai) == 4):
        value = "276" + value[3:]
    if len(ai) == 4 and ai[:3] in ("391", "393"):
        value = "978" + value[3:]
    if ai == "8013":
        value = value[:-2] + gs1_alpha_pair(value[:-2]) if len(value) > 2 else "12" + gs1_alpha_pair("12")
    return value


ALL_AIS = sorted(gs1_ai.AI_TABLE)


def element_string(pairs: list[tuple[str, str]]) -> str:
    out = []
    for ai, value in pairs:
        out.append(ai + value)
        if not gs1_ai.AI_TABLE[ai].fixed_len:
            out.append(GS)
    return "".join(out).rstrip(GS)


def test_syntax_dictionary_is_loaded_in_full():
    assert len(gs1_ai.AI_TABLE) >= 500
    assert {"00", "01", "10", "17", "21", "3103", "3922", "414", "8003", "8004", "8013", "7250"} <= set(gs1_ai.AI_TABLE)


@pytest.mark.parametrize("ai", ALL_AIS)
def test_every_ai_round_trips(ai):
    rng = random.Random(ai)
    value = valid_value(ai, rng)
    pairs = [("01", GTIN), (ai, value)] if ai not in ("01", "02", "255", "37", "8006", "8026") else [(ai, value)]
    result = decode("]C1" + element_string(pairs))
    assert result["kind"] == "gs1", result
    assert result["valid"], result
    assert result["ais"] == dict(pairs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ALL_AIS), min_size=1, max_size=5, unique=True), st.randoms(use_true_random=False))
def test_messages_of_several_ais_round_trip(ais, rng):
    pairs = [(ai, valid_value(ai, rng)) for ai in ais]
    try:
        gs1_checks.check_combination(pairs)
    except DecodeError:
        return  # pairs the standard forbids (01 with 02, two net weights ...) are tested below
    text = element_string(pairs)
    for prefix in ("]C1", "]d2", "]Q3", "]e0", GS):
        result = decode(prefix + text)
        assert result["valid"], result
        assert result["ais"] == dict(pairs)
    hri = "".join(f"({ai}){value}" for ai, value in pairs)
    assert decode(hri)["ais"] == dict(pairs)


# --- the common labels ------------------------------------------------------------------


def test_gs1_128_with_aim_identifier():
    r = decode("]C1" + "01" + GTIN + "17261231" + "10ABC123" + GS + "21XYZ")
    assert r["kind"] == "gs1" and r["valid"] is True and r["symbology"] == "gs1-128"
    assert r["ais"] == {"01": GTIN, "17": "261231", "10": "ABC123", "21": "XYZ"}
    assert (r["gtin"], r["lot"], r["serial"], r["expiry"]) == (GTIN, "ABC123", "XYZ", "2026-12-31")
    assert list(r)[:3] == ["input", "kind", "valid"]


@pytest.mark.parametrize("aim,name", [("]C1", "gs1-128"), ("]d2", "gs1-datamatrix"), ("]Q3", "gs1-qr"),
                                      ("]e0", "gs1-databar"), ("]J1", "gs1-dotcode")])
def test_aim_identifiers_name_the_symbology(aim, name):
    r = decode(aim + "01" + GTIN)
    assert r["symbology"] == name and r["ais"] == {"01": GTIN}


def test_without_aim_and_with_leading_fnc1():
    assert decode("01" + GTIN + "10LOT")["ais"] == {"01": GTIN, "10": "LOT"}
    assert decode(GS + "01" + GTIN + "10LOT" + GS)["ais"] == {"01": GTIN, "10": "LOT"}


@pytest.mark.parametrize("separator", ["{GS}", "<GS>", "\u241d", "^]"])
def test_textual_fnc1_stand_ins(separator):
    r = decode("01" + GTIN + "10AB" + separator + "21X")
    assert r["valid"] and r["ais"] == {"01": GTIN, "10": "AB", "21": "X"}


def test_angle_bracket_gs_kept_as_data_when_that_is_the_only_reading():
    # "<" and ">" are GS1 characters: "<GS>" stays data if replacing it breaks the message
    r = decode("]C1" + "01" + GTIN + "10A<GS>B")
    assert r["valid"] and r["lot"] == "A<GS>B"


def test_human_readable_form():
    r = decode("(01)09506000134352(10)ABC")
    assert r["syntax"] == "hri" and r["valid"] and r["ais"] == {"01": GTIN, "10": "ABC"}
    spaced = decode("(01) 09506000134352 (17) 261231 (10) AB\\(1")
    assert spaced["ais"] == {"01": GTIN, "17": "261231", "10": "AB(1"}
    assert parse_hri("(01)" + GTIN) == [("01", GTIN)]
    with pytest.raises(DecodeError):
        parse_hri("(23)1234")


def test_sscc_label_with_contents():
    r = decode("]C1" + "00" + SSCC + "02" + "00614141123452" + "3724" + GS + "10LOT7")
    assert r["valid"] and r["sscc"] == SSCC and r["identity_kind"] == "logistic_unit"
    assert r["identity"] == "urn:epc:id:sscc:0614141.1123456789"
    assert r["contents"] == {"gtin": "00614141123452", "identity": "urn:epc:class:lgtin:0614141.012345.LOT7",
                             "identity_kind": "class", "lot": "LOT7", "quantity": 24}


# --- plain GTIN / SSCC and AIM decisions ------------------------------------------------


@pytest.mark.parametrize("text,gtin,symbology", [
    ("]E09506000134352", GTIN, "ean-13"),
    ("]E00012345678905", "00012345678905", "upc-a"),  # UPC-A as 13 digits, as AIM sends it
    ("]E4" + "96385074", "00000096385074", "ean-8"),
    ("]I1" + "19506000134359", "19506000134359", "itf-14"),
    ("9506000134352", GTIN, None),
    ("012345678905", "00012345678905", None),
    ("96385074", "00000096385074", None),
])
def test_plain_gtins(text, gtin, symbology):
    r = decode(text)
    assert r["kind"] == "gs1" and r["valid"] and r["gtin"] == gtin and r["syntax"] == "gtin"
    assert r.get("symbology") == symbology


def test_upc_e_named_by_the_decoder_expands_to_upc_a():
    # ZBar sends UPC-E as 8 digits behind ]E0 and names it; the AIM form alone needs 13 digits
    r = decode("]E001234565", "upc-e")
    assert r["valid"] and r["gtin"] == "00012345000065" and r["symbology"] == "upc-e"
    assert decode("]E0" + "012345678905", "upc-a")["gtin"] == "00012345678905"
    assert decode("]E001234565")["valid"] is False


def test_ean13_with_add_on():
    r = decode("]E3" + "9781234567897" + "51299")
    assert r["valid"] and r["gtin"] == "09781234567897" and r["add_on"] == "51299"


def test_gtin_check_digit_error_in_words():
    r = decode("]E09506000134353")
    assert r["kind"] == "gs1" and r["valid"] is False
    assert r["error"] == "GTIN check digit is 3, expected 2"
    assert "identity" not in r
    assert decode("9506000134357")["error"] == "GTIN check digit is 7, expected 2"


def test_plain_sscc_and_ai00_prefix_win_over_tracking_numbers():
    assert decode(SSCC)["sscc"] == SSCC
    r = decode("00" + SSCC)  # 20 digits: also the shape of a USPS number
    assert r["kind"] == "gs1" and r["syntax"] == "element-string" and r["sscc"] == SSCC
    bad = decode("10614141123456789" + "0")
    assert bad["kind"] == "gs1" and bad["error"] == "SSCC check digit is 0, expected 7"


@pytest.mark.parametrize("text,key,expected", [
    ("00106141411234567890", "SSCC", "7"),
    ("0109506000134353", "GTIN", "2"),
    ("414" + "0614141123451", "GLN", "2"),
    ("8003" + "0" + "9506000134350" + "A1", "GRAI", "2"),
    ("8018" + "061414112345678901", "GSRN", "2"),
    ("253" + "0614141123451" + "DOC", "GDTI", "2"),
    ("402" + "06141411234567891", "GSIN", "0"),
])
def test_key_check_digits(text, key, expected):
    r = decode("]C1" + text)
    assert r["valid"] is False
    assert r["error"].startswith(f"{key} check digit is") and r["error"].endswith(f"expected {expected}")


# --- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize("value,iso", [
    ("260200", "2026-02-28"), ("280200", "2028-02-29"), ("261100", "2026-11-30"), ("261231", "2026-12-31"),
])
def test_day_00_is_the_last_day_of_the_month(value, iso):
    r = decode("]C1" + "01" + GTIN + "17" + value)
    assert r["valid"] and r["expiry"] == iso


@pytest.mark.parametrize("value,words", [
    ("260230", "February 2026 has no day 30"),
    ("261301", "month 13 does not exist"),
    ("260001", "month 00 does not exist"),
    ("260431", "April 2026 has no day 31"),
])
def test_impossible_dates(value, words):
    r = decode("]C1" + "01" + GTIN + "17" + value)
    assert r["valid"] is False and words in r["error"] and "AI (17)" in r["error"]


def test_day_00_only_where_allowed():
    r = decode("]C1" + "01" + GTIN + "7006" + "260100")
    assert r["valid"] is False and "day 00 is not allowed" in r["error"]


def test_other_date_fields():
    r = decode("]C1" + "01" + GTIN + "7007" + "260101260131" + GS + "7003" + "2612312359")
    assert r["valid"] and r["dates"] == {"7007": "2026-01-01/2026-01-31", "7003": "2026-12-31T23:59"}
    assert decode("]C1" + "00" + SSCC + "4324" + "2612009999")["dates"]["4324"] == "2026-12-31"
    assert "hour 24" in decode("]C1" + "01" + GTIN + "7003" + "2612312400")["error"]
    assert "range ends" in decode("]C1" + "01" + GTIN + "7007" + "260201260101")["error"]


def test_century_window():
    import datetime as dt

    from gateway.decode.gs1_dates import century_year
    today = dt.date(2026, 6, 1)
    assert century_year(76, today) == 2076
    assert century_year(77, today) == 1977
    assert century_year(0, dt.date(2099, 1, 1)) == 2100


# --- syntax errors ------------------------------------------------------------------------


@pytest.mark.parametrize("text,words", [
    ("]C1" + "01" + GTIN[:12], "cut short: 12 characters, needs exactly 14"),
    ("]C1" + "01" + GTIN + "10" + "A" * 21, "too long: 21 characters, at most 20"),
    ("]C1" + "01" + GTIN + "10" + "ABC DEF", "character ' ' at position 4 is not allowed"),
    ("]C1" + "01" + GTIN + "10" + "AB\u00e9", "not allowed (GS1 character set 82)"),
    ("]C1" + "01" + GTIN + "2399", "no GS1 Application Identifier at position 17"),
    ("]C1" + "01" + GTIN + "10", "has no data"),
    ("]C1" + "01" + GTIN + "17" + "2612", "cut short"),
    ("]C1" + "0109506000134352" + "30", "has no data"),
    ("]C1", "no data after the symbology identifier"),
    ("]C1" + "01" + GTIN + "8010" + "abc", "GS1 character set 39"),
])
def test_syntax_errors_are_named(text, words):
    r = decode(text)
    assert r["valid"] is False and words in r["error"], r


def test_exclusive_and_repeated_ais():
    assert "must not be used together" in decode("]C1" + "01" + GTIN + "02" + GTIN)["error"]
    assert "same measure twice" in decode("]C1" + "01" + GTIN + "3103001000" + "3102001000")["error"]
    assert "appears twice with different values" in decode("]C1" + "01" + GTIN + "10A" + GS + "10B")["error"]
    assert decode("]C1" + "01" + GTIN + "10A" + GS + "10A")["valid"]  # same value twice is harmless


def test_country_currency_and_other_content_rules():
    def err(body):
        return decode("]C1" + "01" + GTIN + body).get("error") or ""
    assert "not an ISO 3166 country code" in err("422" + "999")
    assert decode("]C1" + "01" + GTIN + "422" + "276")["valid"]
    assert "not an ISO 3166 country code" in err("423" + "276999")
    assert "not an ISO 4217 currency code" in err("3912" + "000" + "1999")
    assert "not an ISO 3166 alpha-2" in decode("]C1" + "00" + SSCC + "4307" + "XX")["error"]
    assert "piece 3 of 2" in decode("]C1" + "8006" + GTIN + "0302")["error"]
    pay_to = GS + "415" + with_check("061414112345")
    assert "valid IBAN" in decode("]C1" + "8007" + "GB82WEST12345698765433" + pay_to)["error"]
    assert decode("]C1" + "8007" + "GB82WEST12345698765432" + pay_to)["valid"]
    assert "check characters" in decode("]C1" + "8013" + "1987654Ad4X4bL5ttr2310cXK")["error"]
    assert decode("]C1" + "8013" + "1987654Ad4X4bL5ttr2310c2K")["valid"]


def test_decimal_ais_carry_their_implied_decimal_point():
    r = decode("]C1" + "01" + GTIN + "3103" + "001250" + "3922" + "12999")
    assert r["valid"], r
    assert r["decimals"] == {"3103": "1.250", "3922": "129.99"}
    # 393n: ISO 4217 currency first, then the amount
    assert decode("]C1" + "01" + GTIN + "3932" + "978" + "1999")["decimals"] == {"3932": "19.99"}
    assert decode("]C1" + "01" + GTIN + "3935" + "978" + "1")["decimals"] == {"3935": "0.00001"}
    assert decode("]C1" + "01" + GTIN + "3100" + "000042")["decimals"] == {"3100": "42"}


def test_quantity_for_classes_with_a_count():
    r = decode("]C1" + "01" + GTIN + "10LOT" + GS + "30" + "12")
    assert r["identity_kind"] == "class" and r["quantity"] == 12
    r = decode("]C1" + "02" + GTIN + "37" + "40")
    assert r["identity_kind"] == "class" and r["quantity"] == 40


def test_parser_functions_raise_decode_error_only():
    assert parse_element_string("01" + GTIN) == [("01", GTIN)]
    for bad in ("", GS, "01", "99" + "x" * 91, "23"):
        with pytest.raises(DecodeError):
            parse_element_string(bad)


def test_digits_in_symbologies_that_never_carry_gs1_keys_are_text():
    from gateway.decode import decode

    for text in ("]A0201541368446", "]F0201541368446", "]Q1201541368446"):
        result = decode(text)
        assert result["kind"] == "text" and result["valid"], result
    # a tracking number may be printed in any symbology
    assert decode("]A01Z999AA10123456784")["kind"] == "tracking"
