"""Bytes -> fixes: framing, epoch assembly and counting, on recorded receivers and on fuzz."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.decode import DecodeError
from gateway.decode.nmea import Fix, NmeaAssembler, NmeaFramer, NmeaStream, checksum

DATA = Path(__file__).parent / "data" / "nmea"


def s(body: str) -> bytes:
    return f"${body}*{checksum(body):02X}\r\n".encode()


def run(data: bytes, **kw) -> tuple[list[Fix], NmeaStream]:
    stream = NmeaStream(**kw)
    return stream.feed(data) + stream.flush(), stream


def capture(name: str) -> bytes:
    return (DATA / name).read_bytes()


# ---- recorded receivers ------------------------------------------------------------------------


def test_sirf_gp_talker_matches_gpsd_regression_output():
    fixes, stream = run(capture("sirf4-bu353s4.nmea"))
    expected = [json.loads(line) for line in (DATA / "sirf4-bu353s4.gpsd.json").read_text().splitlines()]
    assert len(fixes) == len(expected) == 12
    for fix, want in zip(fixes, expected):
        assert fix.time.strftime("%H%M%S.") + f"{fix.time.microsecond // 1000:03d}" == want["time"]
        assert fix.time.date() == date(2014, 12, 31)  # RMC's date; GGA has none
        assert fix.lat == pytest.approx(want["lat"], abs=1e-6) and fix.lon == pytest.approx(want["lon"], abs=1e-6)
        assert fix.alt == pytest.approx(want["altMSL"]) and fix.track == pytest.approx(want["track"])
        assert fix.speed == pytest.approx(want["speed"], abs=1e-3)
        assert fix.mode == 3 and fix.hdop == 1.1
    assert fixes[0].sats == 8 and fixes[-1].sats == 7
    assert stream.counters.bad == 0 and stream.counters.sentences == 42


def test_ublox_gn_talker_with_two_gsa():
    fixes, stream = run(capture("ublox-neo-m8n.nmea"))
    # The capture starts with the last GLL of a cycle, before any date: gpsd reports that position
    # without a time, and the RMC after it (next epoch) does not date it backwards.
    assert [f.mode for f in fixes] == [3, 3, 3, 3, 3]
    assert stream.counters.undated == 1
    second = fixes[0]
    assert second.time == datetime(2015, 3, 18, 17, 19, 26, tzinfo=timezone.utc)
    assert (second.sats, second.hdop, second.alt) == (12, 0.91, 1147.2)
    assert second.lat == pytest.approx(44.0690105) and second.lon == pytest.approx(-121.314246333, abs=1e-8)
    assert second.speed == pytest.approx(0.117 * 1852 / 3600) and second.track is None  # VTG track empty
    assert stream.counters.bad == 0


def test_quectel_5hz_with_system_ids_zda_and_txt():
    fixes, stream = run(capture("quectel-l76k.nmea"))
    assert [f.time.strftime("%S.%f")[:6] for f in fixes] == ["34.000", "34.200", "34.400", "34.600"]
    assert all(f.time.date() == date(2026, 8, 5) for f in fixes)
    full = fixes[1]
    assert (full.mode, full.sats, full.hdop, full.alt) == (3, 14, 0.9, 76.5)
    assert stream.counters.unknown == 1  # GPTXT
    assert stream.counters.bad == 0


def test_ublox_nmea411_gns_and_a_lost_fix():
    fixes, stream = run(capture("ublox-f9-nmea411-synthetic.nmea"))
    assert len(fixes) == 3
    assert [f.sats for f in fixes] == [21, 22, 22]  # GNS total, not one constellation's
    assert fixes[0].hdop == 0.62 and fixes[0].alt == 3.1 and fixes[0].mode == 3
    assert fixes[1].track == pytest.approx(63.4)
    assert stream.counters.no_fix == 1


# ---- epochs -------------------------------------------------------------------------------------------


def test_byte_at_a_time_gives_the_same_fixes():
    data = capture("ublox-neo-m8n.nmea") + capture("quectel-l76k.nmea")
    whole, _ = run(data)
    stream = NmeaStream()
    pieces = [f for i in range(len(data)) for f in stream.feed(data[i:i + 1])] + stream.flush()
    assert pieces == whole


def test_a_fix_comes_out_when_its_cycle_ends_not_a_cycle_later():
    lines = capture("sirf4-bu353s4.nmea").splitlines(keepends=True)
    stream = NmeaStream()
    out_after_rmc = []
    for line in lines:
        fixes = stream.feed(line)
        if line.startswith(b"$GPRMC"):
            out_after_rmc.append(len(fixes))
    # cycle GGA GSA [GSV] RMC: once RMC is learnt as the cycle's last sentence, its fix is out with it
    assert out_after_rmc[2:] == [1] * (len(out_after_rmc) - 2)


def test_each_epoch_is_reported_once():
    fixes, _ = run(capture("quectel-l76k.nmea") * 1)
    times = [f.time for f in fixes]
    assert len(times) == len(set(times))


def test_gga_only_needs_a_date():
    data = b"".join(s(f"GPGGA,1200{n:02d},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") for n in range(5))
    fixes, stream = run(data)
    assert fixes == [] and stream.counters.undated == 5
    fixes, _ = run(data, date_hint=date(2024, 5, 31))
    assert len(fixes) == 5 and fixes[0].time == datetime(2024, 5, 31, 12, 0, tzinfo=timezone.utc)


def test_date_rolls_over_at_midnight_between_rmc():
    data = (s("GPRMC,235959.00,A,4807.038,N,01131.000,E,0,0,311224,,,A")
            + s("GPGGA,000000.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
            + s("GPGGA,000001.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"))
    fixes, _ = run(data)
    assert [f.time.isoformat() for f in fixes] == [
        "2024-12-31T23:59:59+00:00", "2025-01-01T00:00:00+00:00", "2025-01-01T00:00:01+00:00"]


def test_no_fix_in_any_sentence_means_no_fix():
    ok = s("GPGGA,120000,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
    data = (s("GPRMC,120000,V,4807.038,N,01131.000,E,0,0,010624,,,N") + ok
            + s("GPGSA,A,3,01,02,03,04,,,,,,,,,1.5,0.9,1.2")
            + s("GPRMC,120001,A,4807.038,N,01131.000,E,0,0,010624,,,A")
            + s("GPGGA,120001,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
            + s("GPGSA,A,1,,,,,,,,,,,,,99,99,99"))
    fixes, stream = run(data)
    assert fixes == [] and stream.counters.no_fix == 2


def test_mode_2_has_no_altitude():
    data = (s("GPRMC,120000,A,4807.038,N,01131.000,E,0,0,010624,,,A")
            + s("GPGGA,120000,4807.038,N,01131.000,E,1,03,2.5,545.4,M,46.9,M,,")
            + s("GPGSA,A,2,01,02,03,,,,,,,,,,3.0,2.5,1.0"))
    (fix,), _ = run(data)
    assert fix.mode == 2 and fix.alt is None and fix.hdop == 2.5


def test_tpv_round_trip_and_shape():
    fixes, _ = run(capture("sirf4-bu353s4.nmea"))
    tpv = fixes[0].to_tpv()
    assert tpv == {"time": "2014-12-31T03:07:19.000Z", "mode": 3, "lat": -37.784788333, "lon": 175.314896667,
                   "alt": 59.9, "speed": 0.355, "track": 181.39, "sats": 8, "hdop": 1.1}
    back = Fix.from_tpv(tpv)
    assert back.time == fixes[0].time and back.to_tpv() == tpv
    for bad in ({}, {"time": "yesterday", "mode": 3, "lat": 1, "lon": 1}, {**tpv, "mode": 1},
                {**tpv, "mode": True}, {**tpv, "lat": 91.0}, {**tpv, "lon": "1"},
                {**tpv, "time": "2024-01-01T00:00:00"}, {**tpv, "time": "0001-01-01T00:00:00+01:00"}, []):
        with pytest.raises(DecodeError):
            Fix.from_tpv(bad)


# ---- framing and counting ----------------------------------------------------------------------------


GOOD = s("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")


def test_every_kind_of_bad_line_is_counted_once():
    data = (GOOD
            + b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48\r\n"  # bad checksum
            + b"$GPGGA,123519,4807.0" + GOOD  # cut short by the next sentence
            + b"\xb5\x62\x01\x07\x5c\x00\xff\xfe\r\n"  # a UBX binary message
            + b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,\r\n"  # no checksum
            + b"$GPTXT,01,01,02,u-blox ag - www.u-blox.com*50\r\n"  # unknown type
            + b"$GP" + b"X" * 300 + b"\r\n"  # over-long
            + b"$GPGGA,123519,48\x8107.038*00\r\n"  # line noise inside
            + b"   \r\n\x00\x00" + GOOD)
    _, stream = run(data)
    c = stream.counters
    assert (c.checksum, c.truncated, c.garbage, c.unknown, c.malformed) == (1, 2, 3, 1, 0)
    assert c.sentences == 3
    # the same GGA three times: its time does not advance, which gpsd takes as lost lock
    assert c.summary() == ("nmea: 3 sentences, 0 fixes, 1 bad checksums, 2 truncated, 3 garbage, "
                           "1 unknown sentences, 1 epochs without fix")


def test_framer_keeps_a_sentence_after_an_endless_garbage_run():
    framer = NmeaFramer(max_length=128)
    out = framer.feed(b"\xff" * 1000)
    out += framer.feed(b"\xfe" * 1000 + GOOD[:-2])
    out += framer.feed(b"\r\n")
    assert out == [GOOD.decode().strip()] and framer.counters.garbage == 1


def test_framer_flush_counts_a_partial_sentence():
    framer = NmeaFramer()
    assert framer.feed(GOOD[:30]) == []
    assert framer.flush() == [GOOD[:30].decode()]  # handed on; the parser finds no checksum
    assert NmeaAssembler().feed(GOOD[:30].decode()) == []


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_never_raise(data):
    stream = NmeaStream()
    fixes = stream.feed(data) + stream.flush()
    assert all(isinstance(f, Fix) for f in fixes)


@settings(max_examples=200, deadline=None)
@given(noise=st.lists(st.binary(max_size=40), min_size=1, max_size=30), cuts=st.lists(st.integers(0, 6000), max_size=8))
def test_real_sentences_in_noise_never_raise_and_keep_counting(noise, cuts):
    lines = capture("ublox-neo-m8n.nmea").splitlines(keepends=True)
    mixed = b"".join(line + noise[i % len(noise)] for i, line in enumerate(lines))
    stream = NmeaStream()
    last = 0
    for cut in sorted(c for c in cuts if c < len(mixed)) + [len(mixed)]:
        stream.feed(mixed[last:cut])
        last = cut
    stream.flush()
    c = stream.counters
    assert c.sentences + c.bad + c.unknown >= 1


def test_injected_faults_are_all_counted():
    from simulators.gps import GpsSimulator

    sim = GpsSimulator(seed=7, rate_hz=2, tunnels=[(20, 10)], bad_checksum_rate=0.03, truncate_rate=0.03,
                       garbage_rate=0.1, start_time=1_717_200_000, noise_m=2.0)
    fixes, stream = run(sim.generate(120))
    c = stream.counters
    assert (c.checksum, c.truncated, c.garbage) == (sim.injected["checksum"], sim.injected["truncated"],
                                                     sim.injected["garbage"])
    assert min(sim.injected.values()) > 0
    assert c.no_fix >= 18  # 10 s of tunnel at 2 Hz, minus epochs whose no-fix sentences were damaged
    assert 200 <= len(fixes) <= 220


# ---- gpsd's rules for when a fix is a fix (see tests/test_nmea_gpsd_agreement.py) --------------------


def test_a_position_from_fewer_than_3_satellites_is_no_fix():
    rmc = s("GPRMC,120000,A,4807.038,N,01131.000,E,0,0,010624,,,A")
    for sats in ("00", "2", ""):
        fixes, stream = run(rmc + s(f"GPGGA,120000,4807.038,N,01131.000,E,1,{sats},0.9,545.4,M,46.9,M,,"))
        assert fixes == [] and stream.counters.no_fix == 1, sats
    fixes, _ = run(rmc + s("GPGGA,120000,4807.038,N,01131.000,E,1,03,0.9,545.4,M,46.9,M,,"))
    assert len(fixes) == 1


def test_a_gga_that_repeats_its_time_is_lost_lock():
    cycle = (s("GPGGA,120000,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
             + s("GPGSA,A,3,01,02,03,04,,,,,,,,,1.5,0.9,1.2"))
    dated = s("GPRMC,115959,A,4807.038,N,01131.000,E,0,0,010624,,,A")
    fixes, stream = run(dated + cycle + cycle + cycle)
    assert [f.time.second for f in fixes] == [59]  # 12:00:00 came three times: not a fix
    assert stream.counters.no_fix == 1


def test_a_date_is_not_taken_from_a_later_epoch_nor_from_status_v():
    gga = "GPGGA,{t},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"
    data = (s("GPRMC,115958,V,,,,,,,050180,,,N")  # MTK: a 1980 date until the first fix
            + s(gga.format(t="115959")) + s(gga.format(t="120000"))
            + s("GPRMC,120000,A,4807.038,N,01131.000,E,0,0,010624,,,A")
            + s(gga.format(t="120001")) + s("GPRMC,120001,A,4807.038,N,01131.000,E,0,0,010624,,,A"))
    fixes, stream = run(data)
    # 11:59:59 has no date at all; 12:00:00 began before the RMC that dates it, as gpsd sees it
    assert [f.time.isoformat() for f in fixes] == ["2024-06-01T12:00:01+00:00"]
    assert stream.counters.undated == 2


def test_gns_reads_the_gps_mode_letter_and_skips_an_unsafe_position():
    rmc = s("GNRMC,120000,A,4807.038,N,01131.000,E,0,0,010624,,,A")
    fixes, stream = run(rmc + s("GNGNS,120000,4807.038,N,01131.000,E,NA,08,0.9,545.4,46.9,,,S"))
    assert fixes == [] and stream.counters.no_fix == 1
    fixes, _ = run(rmc + s("GNGNS,120000,4807.038,N,01131.000,E,AA,08,0.9,545.4,46.9,,,V"))
    assert len(fixes) == 1 and fixes[0].alt is None  # the position is RMC's; GNS's (and altitude) skipped


def test_untimed_sentences_are_bounded_and_counted():
    assembler = NmeaAssembler(max_epoch=50)
    gsa = "$" + "GPGSA,A,3,01,02,03,04,,,,,,,,,1.5,0.9,1.2" + f"*{checksum('GPGSA,A,3,01,02,03,04,,,,,,,,,1.5,0.9,1.2'):02X}"
    for _ in range(10_000):  # a receiver that never sends a time
        assembler.feed(gsa)
    assert assembler.counters.overflow == 10_000 - 50
    assert len(assembler._epoch) == 50
    assert "9950 sentences over the epoch bound" in assembler.counters.summary()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([line.decode() for name in ("ublox-neo-m8n.nmea", "quectel-l76k.nmea",
                                                            "gpsd/mtk-3301.log", "gpsd/myguide-3100.log")
                                 for line in capture(name).splitlines() if not line.startswith(b"#")]),
                max_size=400))
def test_real_sentences_in_any_order_stay_bounded_and_never_raise(lines):
    assembler = NmeaAssembler(max_epoch=20)
    fixes = assembler.feed_many(lines) + assembler.flush()
    assert all(isinstance(f, Fix) and f.mode in (2, 3) for f in fixes)
    assert len(assembler._epoch) <= 20
    c = assembler.counters
    assert c.sentences + c.bad + c.unknown == len(lines)
