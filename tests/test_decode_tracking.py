"""Carrier tracking numbers: carrier, number, check digits, and where they meet GS1 readings.

Examples here are the carriers' own and our regressions; every test number of the shipped
tracking_number_data release is a test of its own in test_decode_tracking_data.py.
"""

from __future__ import annotations

import pytest

from gateway.decode import decode
from gateway.decode.tracking import match, normalize

VALID = {
    "ups": ["1Z5R89390357567127", "1Z879E930346834440", "1Z410E7W0392751591", "1Z8V92A70367203024",
            "1ZXX3150YW44070023", "1z 5r89 3903 5756 7127"],
    "fedex": ["986578788855", "477179081230", "799531274483", "790535312317", "974367662710",
              "0414 4176 0228 964", "5682 8361 0012 000", "5682 8361 0012 734", "9611020987654312345672",
              "1001921334250001000300779017972697", "1002297871540001000300790695517286",
              "1027590111820004833500785458233610", "9622001900000000000000776632517510",
              "9632001560123456789900794808390594"],
    "usps": ["0307 1790 0005 2348 3741", "7112 3456 7891 2345 6787", "7196 9010 7560 0307 7385",
             "9400 1112 0108 0805 4830 16", "9405803699300124287899", "9434611206206407667136",
             "9505 5110 6960 5048 6006 24", "92748931507708513018050063", "9361 2898 7870 0317 6337 95",
             "9261292700768711948021", "4201002334249200190132607600833457",
             "4201028200009261290113185417468510", "420 22153 9101026837331000039521",
             "420787459400111206206406260787", "420902459261290336128704042634",
             "EC123456785US", "RB123456785US"],
    "dhl": ["3318810025", "8487135506", "3318810036", "3318810014", "73891051146", "JJD0099999999",
            "JVGL0999999990", "GM2951173225174494", "GM295117494011169042"],
    "amazon": ["TBA000000000000", "TBA502887274000"],
    "ontrac": ["C11031500001879", "C10999911320231", "C11121552953069", "D10011354453707", "D10011342332145"],
    "lasership": ["LX17635036", "1LS717793482164", "1LS724505321754", "1LS7119013618127-1"],
    "canada_post": ["0073938000549297"],
    "royal_mail": ["RB123456785GB"],
    "post_cf": ["RB123456785CF"],
}


@pytest.mark.parametrize("carrier,number", [(c, n) for c, ns in VALID.items() for n in ns])
def test_valid_numbers(carrier, number):
    r = decode(number)
    assert r["kind"] == "tracking" and r["valid"] is True, r
    assert r["carrier"] == carrier
    assert r["identity"] == f"urn:tally:shipment:{carrier}:{r['tracking_number']}"
    assert r["identity_kind"] == "shipment"


# Numbers with a carrier's unmistakable shape and a wrong check digit: named, not guessed.
@pytest.mark.parametrize("number,carrier,error", [
    ("1Z1111111111111111", "ups", "UPS check digit is 1, expected 8"),
    ("EC123456784US", "usps", "UPU S10 check digit is 4, expected 5"),
    ("RB123456786US", "usps", "UPU S10 check digit is 6, expected 5"),
    ("RB123456785XX", "post_xx", "UPU S10 CountryCode XX is not in the data set's Courier list"),
    ("9261292700768711948020", "usps", "USPS IMpb C check digit is 0, expected 1"),
    ("4201028200009261290113185417468511", "usps", "USPS IMpb C check digit is 1, expected 0"),
    ("9600000000000000000001", "fedex", "FedEx Ground 96 (22) check digit is 1, expected 0"),
    ("1001901781990001000300617767839438", "fedex", "FedEx Express (34) check digit is 8, expected 7"),
    ("9622001560001234567100794808390595", "fedex", "FedEx Ground GSN check digit is 5, expected 4"),
    ("C11031500001889", "ontrac", "OnTrac check digit is 9, expected 7"),
    ("D10011345983012", "ontrac", "OnTrac D check digit is 2, expected 0"),
])
def test_invalid_check_digits_are_reported(number, carrier, error):
    r = decode(number)
    assert r["kind"] == "tracking" and r["valid"] is False
    assert r["carrier"] == carrier and r["error"] == error
    assert "identity" not in r


@pytest.mark.parametrize("number", ["3318810010", "73891051149", "996578788855" + "0", "5682836100127320",
                                    "0073938000549292"])
def test_bare_digits_with_a_bad_check_are_nobodys_number(number):
    assert match(normalize(number)) is None


def test_usps_routing_prefix_is_not_part_of_the_tracking_number():
    r = decode("420 22153 9101026837331000039521")
    assert r["tracking_number"] == "9101026837331000039521"
    assert r["identity"] == decode("9101026837331000039521")["identity"]


def test_fedex_34_digit_barcode_tracks_by_its_12_digit_number():
    r = decode("1001921334250001000300779017972697")
    assert r["tracking_number"] == "779017972697"


def test_gs1_wins_when_an_aim_identifier_or_ai_00_says_so():
    sscc = "106141411234567897"
    assert decode("00" + sscc)["kind"] == "gs1"  # 20 digits, also a USPS 20 shape
    assert decode("]C1" + "00" + sscc)["kind"] == "gs1"
    # a valid UPC-A is a GTIN on its own, but a FedEx number in plain Code 128 (]C0)
    upc_shaped = "986578788855"
    assert decode(upc_shaped)["kind"] == "tracking"  # not a valid UPC: FedEx
    assert decode("]C0" + "790535312317")["kind"] == "tracking"


def test_a_ups_check_character_must_be_a_digit():
    # the data set's UPS format ends in a digit; tracking-numbers 0.1.8 raised ValueError here
    r = decode("1Z5R8939035756712A")
    assert not (r["kind"] == "tracking" and r["valid"])


def test_s10_numbers_name_the_scheme_and_the_issuing_post():
    r = decode("RB123456785GB")
    assert (r["carrier"], r["scheme"], r["country"]) == ("royal_mail", "s10", "GB")
    assert r["identity"] == "urn:tally:shipment:royal_mail:RB123456785GB"  # as before the scheme field
    assert decode("EC123456785US")["service"] == "EMS"
    assert "scheme" not in decode("1Z5R89390357567127")


def test_invalid_usps_20_example_is_not_passed_off_as_another_carrier():
    # tracking-numbers 0.1.8 accepts this, the data set's own invalid example, as FedEx SmartPost
    r = decode("0307 1790 0005 2348 3742")
    assert not (r["kind"] == "tracking" and r["valid"] and r["carrier"] == "fedex")


def test_shipment_identity_is_a_valid_uri_and_stable():
    a = decode("1Z 5R89 3903 5756 7127")
    b = decode("1z5r89390357567127")
    assert a["identity"] == b["identity"] == "urn:tally:shipment:ups:1Z5R89390357567127"
    import re
    assert re.fullmatch(r"urn:[a-z0-9][a-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#]+", a["identity"])


def test_carrier_labels_printed_as_gs1_128_are_tracking_numbers():
    r = decode("]C1" + "42022153" + "\x1d" + "9101026837331000039521")
    assert r["kind"] == "tracking" and r["valid"] and r["carrier"] == "usps"
    assert r["tracking_number"] == "9101026837331000039521" and r["symbology"] == "gs1-128"
    assert r["ais"] == {"420": "22153", "91": "01026837331000039521"}
    assert decode("]C1" + "9611020987654312345672")["carrier"] == "fedex"
    internal = decode("]C1" + "9112345")  # company-internal data, no carrier shape
    assert internal["kind"] == "gs1" and "identity" not in internal
