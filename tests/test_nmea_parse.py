"""One NMEA sentence -> typed values, or a DecodeError that says which counter it belongs to."""

from __future__ import annotations

import math
from datetime import date

import pynmea2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.decode import DecodeError
from gateway.decode.nmea import NmeaError, checksum, parse_sentence


def s(body: str) -> str:
    return f"${body}*{checksum(body):02X}"


def test_gga_from_the_nmea_reference():
    gga = parse_sentence("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47")
    assert (gga.talker, gga.kind, gga.address) == ("GP", "GGA", "GPGGA")
    assert gga.time_ms == (12 * 3600 + 35 * 60 + 19) * 1000
    assert gga.lat == pytest.approx(48 + 7.038 / 60) and gga.lon == pytest.approx(11 + 31 / 60)
    assert (gga.fix, gga.quality, gga.sats, gga.hdop, gga.alt) == (True, 1, 8, 0.9, 545.4)


@pytest.mark.parametrize("talker", ["GP", "GN", "GL", "GA", "GB", "BD", "QZ", "GQ", "GI"])
def test_every_talker_is_read(talker):
    rmc = parse_sentence(s(f"{talker}RMC,081836.75,A,3751.65,S,14507.36,E,000.0,360.0,130998,011.3,E"))
    assert rmc.talker == talker and rmc.fix is True
    assert rmc.date == date(1998, 9, 13) and rmc.time_ms == 29916750
    assert rmc.lat == pytest.approx(-(37 + 51.65 / 60)) and rmc.track == 0.0


def test_rmc_speed_is_metres_per_second_and_void_is_no_fix():
    rmc = parse_sentence("$GPRMC,030719.000,A,3747.0873,S,17518.8938,E,0.69,181.39,311214,,,A*7D")
    assert rmc.speed == pytest.approx(0.69 * 1852 / 3600) and rmc.track == 181.39
    void = parse_sentence("$GPRMC,,V,,,,,,,,,,N*53")
    assert void.fix is False and void.lat is None and void.lon is None and void.time_ms is None
    # NMEA 2.3 mode N beats status A (some receivers send A with mode N while dead reckoning ends)
    assert parse_sentence(s("GPRMC,120000,A,4807.038,N,01131.000,E,0,0,010124,,,N")).fix is False


def test_no_fix_is_not_null_island():
    """pynmea2 reads the empty coordinates of a no-fix GGA as 0.0, 0.0; we say there are none."""
    gga = parse_sentence("$GPGGA,,,,,,0,,,,,,,,*66")
    assert gga.lat is None and gga.lon is None and gga.fix is False
    assert pynmea2.parse("$GPGGA,,,,,,0,,,,,,,,*66").latitude == 0.0  # the library's reading


def test_gns_multi_constellation_modes_and_per_system_lines():
    gns = parse_sentence("$GNGNS,014035.00,4332.69262,S,17235.48549,E,RR,13,0.9,25.63,11.24,,*70")
    assert gns.fix is True and gns.sats == 13 and gns.hdop == 0.9 and gns.alt == 25.63
    assert gns.lat == pytest.approx(-43.544877)
    assert parse_sentence(s("GNGNS,000609.916,0000.0000,N,00000.0000,E,NNN,00,,-18.0,18.0,,,V")).fix is False
    per_system = parse_sentence("$GPGNS,014035.00,,,,,,8,,,,1.0,23*76")
    assert per_system.fix is None and per_system.lat is None and per_system.sats == 8


def test_gsa_nmea_410_system_id_and_classic():
    gsa = parse_sentence("$GNGSA,A,3,02,07,14,15,17,20,22,30,,,,,1.5,0.9,1.2,1*3C")
    assert (gsa.mode, gsa.system_id, gsa.hdop, gsa.prns) == (3, 1, 0.9, (2, 7, 14, 15, 17, 20, 22, 30))
    classic = parse_sentence("$GNGSA,A,3,67,83,76,82,68,,,,,,,,1.56,0.91,1.27*1D")
    assert classic.system_id is None and classic.hdop == 0.91 and classic.prns == (67, 83, 76, 82, 68)
    assert parse_sentence("$GPGSA,A,1,,,,,,,,,,,,,,,*1E").fix is False
    # pynmea2 leaves the 4.10 system id in an unnamed extra field and the DOPs as strings
    lib = pynmea2.parse("$GNGSA,A,3,02,07,14,15,17,20,22,30,,,,,1.5,0.9,1.2,1*3C")
    assert lib.hdop == "0.9" and lib.data[-1] == "1"


def test_gsa_with_more_than_twelve_satellites():
    gsa = parse_sentence(s("GPGSA,A,3,1,2,3,4,5,6,7,8,9,10,11,12,13,14,1.1,0.7,0.9"))
    assert gsa.hdop == 0.7 and len(gsa.prns) == 14


def test_vtg_both_formats_and_gll_zda():
    vtg = parse_sentence("$GNVTG,286.35,T,,M,0.00,N,0.00,K,A*29")
    assert vtg.track == 286.35 and vtg.speed == 0.0 and vtg.fix is True
    assert parse_sentence(s("GPVTG,054.7,034.4,005.5,010.2")).speed == pytest.approx(10.2 / 3.6)
    gll = parse_sentence("$GNGLL,4404.14066,N,12118.85481,W,171925.00,A,A*66")
    assert gll.lon == pytest.approx(-(121 + 18.85481 / 60)) and gll.fix is True and gll.time_ms == 62365000
    zda = parse_sentence("$GNZDA,055234.000,05,08,2026,00,00*46")
    assert zda.date == date(2026, 8, 5) and zda.time_ms == 21154000


def test_gsv_parts():
    gsv = parse_sentence("$GPGSV,3,2,12,14,79,041,29,15,31,297,21,17,54,166,28,19,24,192,23,0*62")
    assert gsv.part == (2, 3)


@pytest.mark.parametrize("line, reason", [
    ("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48", "checksum"),
    ("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", "truncated"),
    ("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*4", "truncated"),
    ("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47 junk", "malformed"),
    ("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", "garbage"),
    ("$GPGGA,123519,4807.0\x0138,N*00", "garbage"),
    ("", "garbage"),
    ("$GPTXT,01,01,01,ANTENNA OK*35", "unknown"),
    (s("PUBX,00,000000.00,0000.00000,N,00000.00000,E,0.000,NF,0,0,0.00,0.00,0.000,,99.99,99.99,99.99,0,0,0"),
     "unknown"),
    ("!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C", "unknown"),
    (s("GPGGA,12a519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), "malformed"),
    (s("GPGGA,126019,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), "malformed"),
    (s("GPGGA,123519,4875.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), "malformed"),
    (s("GPGGA,123519,9107.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), "malformed"),
    (s("GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), "malformed"),
    (s("GPGGA,123519,4807.038,N,,,1,08,0.9,545.4,M,46.9,M,,"), "malformed"),
    (s("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,nan,M,46.9,M,,"), "malformed"),
    (s("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,1e400,M,46.9,M,,"), "malformed"),
    (s("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,310294,003.1,W"), "malformed"),
    (s("GPRMC,123519,X,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"), "malformed"),
    (s("GPGSA,A,4,,,,,,,,,,,,,1,1,1"), "malformed"),
    (s("GPGSV,3,4,12"), "malformed"),
    (s("gpgga,123519"), "malformed"),
])
def test_rejects_say_why(line, reason):
    with pytest.raises(DecodeError) as err:
        parse_sentence(line)
    assert isinstance(err.value, NmeaError) and err.value.reason == reason, str(err.value)
    assert str(err.value)  # a message in words


def test_a_leap_second_is_a_time():
    assert parse_sentence(s("GPGGA,235960,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")).time_ms == 86_400_000


def test_pynmea2_lets_bad_fields_through_as_strings():
    """Why the fields are parsed here: the library returns the raw text for a broken timestamp."""
    lib = pynmea2.parse("$GPGGA,12a519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
    assert lib.timestamp == "12a519"


# ---- against the pynmea2 oracle where it is right ----------------------------------------------

lat_st = st.floats(min_value=-89.999, max_value=89.999, allow_nan=False)
lon_st = st.floats(min_value=-179.999, max_value=179.999, allow_nan=False)


def dm(value: float, width: int) -> tuple[str, bool]:
    a = abs(value)
    deg = int(a)
    minutes = round((a - deg) * 60, 5)
    if minutes >= 60:
        deg, minutes = deg + 1, 0.0
    return f"{deg:0{width}d}{minutes:08.5f}", value >= 0


@settings(max_examples=300, deadline=None)
@given(lat=lat_st, lon=lon_st, hh=st.integers(0, 23), mm=st.integers(0, 59), ss=st.integers(0, 59),
       cs=st.integers(0, 99), talker=st.sampled_from(["GP", "GN", "GL", "GA", "GB", "BD", "QZ"]),
       kind=st.sampled_from(["GGA", "RMC", "GLL", "GNS"]))
def test_agrees_with_pynmea2_on_valid_sentences(lat, lon, hh, mm, ss, cs, talker, kind):
    la, north = dm(lat, 2)
    lo, east = dm(lon, 3)
    ns, ew = "N" if north else "S", "E" if east else "W"
    t = f"{hh:02d}{mm:02d}{ss:02d}.{cs:02d}"
    body = {
        "GGA": f"{talker}GGA,{t},{la},{ns},{lo},{ew},1,08,0.9,545.4,M,46.9,M,,",
        "RMC": f"{talker}RMC,{t},A,{la},{ns},{lo},{ew},1.5,45.0,010624,,,A",
        "GLL": f"{talker}GLL,{la},{ns},{lo},{ew},{t},A,A",
        "GNS": f"{talker}GNS,{t},{la},{ns},{lo},{ew},AA,08,0.9,545.4,46.9,,",
    }[kind]
    line = s(body)
    ours, theirs = parse_sentence(line), pynmea2.parse(line, check=True)
    assert math.isclose(ours.lat, theirs.latitude, abs_tol=1e-9)
    assert math.isclose(ours.lon, theirs.longitude, abs_tol=1e-9)
    stamp = theirs.timestamp
    assert ours.time_ms == ((stamp.hour * 60 + stamp.minute) * 60 + stamp.second) * 1000 + stamp.microsecond // 1000


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120))
def test_parse_sentence_is_total_on_text(text):
    try:
        parse_sentence(text)
    except DecodeError:
        pass


@settings(max_examples=500, deadline=None)
@given(kind=st.sampled_from(["GGA", "RMC", "GSA", "GSV", "VTG", "GLL", "GNS", "ZDA"]),
       fields=st.lists(st.text(alphabet="0123456789.,-+ANSEWVTMKDRFPe", max_size=12), max_size=20))
def test_parse_sentence_is_total_on_checksummed_nonsense(kind, fields):
    """Right type, right checksum, any field contents: a value or DecodeError, nothing else."""
    try:
        parse_sentence(s(f"GP{kind}," + ",".join(fields)))
    except DecodeError:
        pass


def test_a_placeholder_position_in_a_no_fix_sentence_is_no_error():
    """MTK receivers send 89 deg 60 min until their first fix; in a fix it stays malformed."""
    gga = parse_sentence("$GPGGA,235946.005,8960.000000,N,00000.000000,E,0,0,,137.000,M,13.000,M,,*49")
    assert gga.fix is False and gga.lat is None and gga.lon is None
    rmc = parse_sentence("$GPRMC,235946.005,V,8960.000000,N,00000.000000,E,0.000,0.00,050180,,,N*47")
    assert rmc.fix is False and rmc.lat is None
    body = "GPGGA,235946.005,8960.000000,N,00000.000000,E,1,5,,137.000,M,13.000,M,,"
    with pytest.raises(NmeaError) as info:
        parse_sentence(f"${body}*{checksum(body):02X}")
    assert info.value.reason == "malformed"


def test_a_vendor_sentence_with_a_long_address_is_unknown_not_malformed():
    with pytest.raises(NmeaError) as info:
        parse_sentence("$LOG108,1,100,100,0,0,5,0,4,462*61")  # Royaltek RGM-3800
    assert info.value.reason == "unknown"
