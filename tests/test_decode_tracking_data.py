"""Every test number of the shipped tracking_number_data release, and how its JSON is interpreted.

Reference: jkeen/tracking_number_data (MIT), copied unchanged into gateway/decode/tracking_data/
(see its SOURCE.md). Each `test_numbers.valid` entry of each courier must be read as valid
and as that courier's; each `test_numbers.invalid` entry must not be read as a valid number
of the format that lists it.
"""

from __future__ import annotations

from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.decode import decode
from gateway.decode import tracking_formats as tf
from gateway.decode.tracking import _PRECEDENCE, match, normalize, ordered
from gateway.decode.tracking_checksums import ALGORITHMS, luhn, mod10, mod_37_36, s10

FORMATS = tf.formats()
VALID = [pytest.param(f, n, id=f"{f.id}:{n.strip()}") for f in FORMATS for n in f.valid_examples]
INVALID = [pytest.param(f, n, id=f"{f.id}:{n.strip()}") for f in FORMATS for n in f.invalid_examples]


def right_carrier(fmt, found):
    if fmt.courier == "s10":  # S10 items keep their post as carrier; the scheme says S10
        return found.scheme == "s10" and found.country == normalize(found.tracking_number)[-2:]
    return found.carrier == fmt.courier


def test_the_shipped_data_is_used_whole():
    assert tf.problems() == ()
    assert len({f.courier for f in FORMATS}) >= 18 and len(FORMATS) >= 39
    assert len(VALID) >= 180 and len(INVALID) >= 85
    folder = resources.files("gateway.decode").joinpath("tracking_data")
    for name in ("LICENSE", "SOURCE.md", "CHANGELOG.md", "CHECKSUM_ALGORITHMS.md", "package.json"):
        assert folder.joinpath(name).is_file(), name
    assert "MIT" in folder.joinpath("LICENSE").read_text() or "Permission" in folder.joinpath("LICENSE").read_text()
    assert tf.data_version()


@pytest.mark.parametrize("fmt,number", VALID)
def test_valid_test_number(fmt, number):
    found = match(normalize(number))
    assert found is not None and found.valid, found
    assert right_carrier(fmt, found), found
    # what the scanner pipeline makes of it: the tracking number, or the GS1 key it also is
    r = decode(number)
    if r["kind"] == "gs1" and r["valid"]:
        assert "sscc" in r or "gtin" in r, r  # FedEx's SSCC-18 labels are SSCCs
    elif r["kind"] == "gs1":
        # GTIN-length digits only an unchecked format takes (DHL eCommerce 14): a misread GTIN,
        # unless the symbology says plain Code 128
        assert not found.checked and r["error"].startswith("GTIN check digit"), r
        assert decode("]C0" + normalize(number))["carrier"] == fmt.courier
    else:
        assert r["kind"] == "tracking" and r["valid"] and r["identity"].startswith("urn:tally:shipment:"), r


@pytest.mark.parametrize("fmt,number", INVALID)
def test_invalid_test_number(fmt, number):
    found = match(normalize(number))
    assert found is None or not (found.valid and found.format_id == fmt.id), found


def test_s10_service_type_and_post_come_from_the_lookups():
    found = match("EC123456785US")
    assert (found.carrier, found.scheme, found.country, found.service) == ("usps", "s10", "US", "EMS")


# --- our documented overrides (tracking.py's docstring) -----------------------------------


@pytest.mark.parametrize("number,format_id,other", [
    ("4201028200009261290113185417468510", "usps_impb_c", "fedex_34"),  # IMpb behind 420 + ZIP
    ("78045768393", "Old Dominion", "dhl_express"),
    ("287809468872", "purolator_numeric", "fedex_12"),
    ("JFV247545960", "purolator_alpha", "dhl_express_piece_id"),
])
def test_precedence_where_two_couriers_accept_a_number(number, format_id, other):
    by_id = {f.id: f for f in FORMATS}
    assert by_id[other].pattern.fullmatch(number)  # the overlap is real
    assert match(number).format_id == format_id


def test_precedence_pairs_name_formats_the_data_has():
    ids = [f.id for f in ordered(FORMATS)]
    for ahead, behind in _PRECEDENCE:
        assert ids.index(ahead) < ids.index(behind)


def test_smartpost_overlap_stays_fixed():
    # tracking-numbers 0.1.8 (data before 2.0) read the data's invalid USPS 20 example as FedEx SmartPost
    assert match("03071790000523483742") is None
    assert match("9261290113185417468510").carrier == "usps"  # once "SmartPost", USPS delivers it


def test_impb_routing_prefix_is_dropped_from_the_tracking_number():
    assert match("420902459261290336128704042634").tracking_number == "9261290336128704042634"
    assert match("420787459400111206206406260787").tracking_number == "9400111206206406260787"


def test_fedex_sscc_18_checks_the_whole_sscc():
    # the data checks only its 15-digit SerialNumber; an SSCC's check digit covers all 17
    assert match("000123450000000027").valid
    assert match("106141411234567890") is None  # SSCC check 0, expected 7
    r = decode("106141411234567890")
    assert r["kind"] == "gs1" and r["error"] == "SSCC check digit is 0, expected 7"


def test_fedex_barcodes_track_by_their_12_digit_number():
    assert match("1001921334250001000300779017972697").tracking_number == "779017972697"
    assert match("32971514560102447849175802862014").tracking_number == "784917580286"
    assert match("32971514560102447849175802862014").carrier == "fedex"


def test_bare_digits_with_a_bad_check_are_nobodys_but_letters_name_the_carrier():
    assert match("3318810010") is None  # DHL Express shape only
    bad = match("K1506235622")  # UPS waybill: a letter makes the shape the carrier's
    assert bad.carrier == "ups" and not bad.valid and "check digit is 2, expected 0" in bad.error


def test_non_candidates_are_rejected_by_length():
    assert match("") is None and match("123") is None and match("9" * 200) is None
    assert match("ÄB123456785GB") is None


# --- the data's JSON, interpreted generically -------------------------------------------


def test_pcre_groups_become_python_groups_and_blanks_go():
    assert tf.to_python_regex(["\\s*(?<A>1\\s*Z)", "(?<B>[0-9A-Z\\s]{2})(?=x)(?<!y)"]) == \
        "(?P<A>1Z)(?P<B>[0-9A-Z\\s]{2})(?=x)(?<!y)"


def test_a_new_release_is_a_file_drop():
    # a courier the code has never heard of, written the way the data set writes them
    courier = {"name": "Example", "courier_code": "example"}
    entry = {"name": "Example (12)", "id": "example_12",
             "regex": ["\\s*E\\s*X\\s*(?<SerialNumber>(?<ServiceType>[0-9]\\s*){2}([0-9]\\s*){7})",
                       "(?<CheckDigit>[0-9]\\s*)"],
             "validation": {"checksum": {"name": "luhn"}, "additional": {"exists": ["Service Type"]}},
             "additional": [{"name": "Service Type", "regex_group_name": "ServiceType",
                             "lookup": [{"matches_regex": "0[1-3]", "name": "Express"}]}],
             "test_numbers": {"valid": ["EX0123456782"], "invalid": []}}
    fmt = tf._format(courier, entry)
    assert (fmt.min_len, fmt.max_len) == (12, 12) and fmt.required == ("Service Type",)
    assert fmt.lookups[0].find("02")["name"] == "Express" and fmt.lookups[0].find("04") is None
    with pytest.raises(ValueError, match="not implemented"):
        tf._format(courier, {**entry, "validation": {"checksum": {"name": "mod97"}}})


@pytest.mark.parametrize("algorithm,serial,params,check", [
    (luhn, "7992739871", {}, "3"),  # the Luhn article's example
    (mod10, "5R8939035756712", {"evens_multiplier": 1, "odds_multiplier": 2}, "7"),  # UPS
    (mod10, "940011120620640626078", {"evens_multiplier": 3, "odds_multiplier": 1, "reverse": True}, "7"),
    (s10, "12345678", {"weightings": [8, 6, 4, 2, 3, 5, 9, 7]}, "5"),
    (mod_37_36, "008182709980000020033350276", {}, "C"),  # DPD parcel label specification example
])
def test_checksum_algorithms(algorithm, serial, params, check):
    assert algorithm(params)(serial) == check


def test_every_named_algorithm_is_implemented():
    text = resources.files("gateway.decode").joinpath("tracking_data", "CHECKSUM_ALGORITHMS.md").read_text()
    for name in ("mod7", "mod10", "s10", "sum_product_with_weightings_and_modulo", "mod_37_36"):
        assert f"validates_{name}?" in text and name in ALGORITHMS
    assert "luhn" in ALGORITHMS


# --- total ------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHARS = st.sampled_from(list("0123456789") * 4 + list("ABCDEFGHIJKLMNOPQRSTUVWXYZ -"))
NUMBERS = [n for f in FORMATS for n in f.valid_examples + f.invalid_examples]


@FUZZ
@given(st.lists(CHARS, max_size=45).map("".join))
def test_match_is_total(text):
    found = match(normalize(text))
    assert found is None or (found.carrier and found.tracking_number and (found.valid or found.error))


@FUZZ
@given(st.sampled_from(NUMBERS), st.integers(0, 40), CHARS)
def test_one_changed_character_never_raises(number, at, ch):
    text = normalize(number)
    text = text[:at] + ch + text[at + 1:]
    found = match(normalize(text))
    assert found is None or isinstance(found.valid, bool)
    assert decode(text)["kind"] in {"gs1", "tracking", "text", "epc"}
