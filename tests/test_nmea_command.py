"""`tally nmea [FILE]`: fixes as JSON lines on stdout, one summary line on stderr, exit codes."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from gateway.commands import nmea

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "nmea"
RUN = ("import argparse, sys\nfrom gateway.commands import nmea\np = argparse.ArgumentParser()\n"
       "nmea.add_arguments(p)\nsys.exit(nmea.run(p.parse_args(sys.argv[1:])))")


def tally_nmea(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUN, *argv], input=stdin, capture_output=True, cwd=ROOT,
                          timeout=30)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    nmea.add_arguments(parser)
    return parser.parse_args(argv)


def test_file_to_json_lines(capsys):
    assert nmea.run(parse([str(DATA / "sirf4-bu353s4.nmea")])) == 0
    out, err = capsys.readouterr()
    objects = [json.loads(line) for line in out.splitlines()]
    assert len(objects) == 12
    assert objects[0] == {"time": "2014-12-31T03:07:19.000Z", "mode": 3, "lat": -37.784788333, "lon": 175.314896667,
                          "alt": 59.9, "speed": 0.355, "track": 181.39, "sats": 8, "hdop": 1.1}
    assert err == "nmea: 42 sentences, 12 fixes\n"


def test_stdin_is_binary_safe_and_bad_lines_are_counted():
    good = (DATA / "ublox-neo-m8n.nmea").read_bytes()
    noisy = (b"\xb5\x62\x01\x07\x00\xff\r\n" + good.replace(b"*44\n", b"*45\n", 1)
             + b"$GNGGA,171930.00,4404.1" + b"\x00\xfe\xff\x80garbage\r\n")
    result = tally_nmea(stdin=noisy)
    assert result.returncode == 0, result.stderr
    fixes = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(fixes) == 5 and all(f["mode"] in (2, 3) for f in fixes)
    assert result.stderr.decode() == ("nmea: 60 sentences, 5 fixes, 1 bad checksums, 2 garbage, "
                                      "1 fixes without a date\n")


def test_no_fix_gives_no_object(tmp_path):
    capture = tmp_path / "cold.nmea"
    capture.write_bytes(b"$GPGGA,,,,,,0,,,,,,,,*66\r\n$GPRMC,,V,,,,,,,,,,N*53\r\n$GPGSA,A,1,,,,,,,,,,,,,,,*1E\r\n")
    result = tally_nmea(str(capture))
    assert result.returncode == 0 and result.stdout == b""
    assert result.stderr.startswith(b"nmea: 3 sentences, 0 fixes")


def test_a_file_that_cannot_be_opened_exits_2(tmp_path):
    result = tally_nmea(str(tmp_path / "missing.nmea"))
    assert result.returncode == 2
    assert result.stderr.decode().startswith(f"nmea: cannot open {tmp_path / 'missing.nmea'}: ")
    assert b"Traceback" not in result.stderr
    assert tally_nmea(str(tmp_path)).returncode == 2  # a directory


def test_gga_only_capture_with_a_date(tmp_path):
    capture = tmp_path / "gga.nmea"
    capture.write_bytes(b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n")
    assert tally_nmea(str(capture)).stdout == b""
    dated = tally_nmea(str(capture), "--date", "2024-05-31")
    assert json.loads(dated.stdout)["time"] == "2024-05-31T12:35:19.000Z"


def test_piped_from_the_simulator():
    sim = subprocess.Popen([sys.executable, "-c", "import sys\nfrom simulators import gps\nimport argparse\n"
                            "p = argparse.ArgumentParser(); gps.add_arguments(p)\n"
                            "sys.exit(gps.run(p.parse_args(['--stdout', '--fast', '--duration', '3000', '--seed', '1'])))"],
                           stdout=subprocess.PIPE, cwd=ROOT)
    try:
        reader = subprocess.run([sys.executable, "-c", RUN], stdin=sim.stdout, capture_output=True, cwd=ROOT,
                                timeout=60)
    finally:
        sim.stdout.close()
        sim.wait(30)
    assert reader.returncode == 0
    assert len(reader.stdout.splitlines()) == 3000 and reader.stderr == b"nmea: 21000 sentences, 3000 fixes\n"


def test_reader_leaving_early_is_not_an_error(tmp_path):
    capture = tmp_path / "long.nmea"
    capture.write_bytes((DATA / "sirf4-bu353s4.nmea").read_bytes() * 2000)
    script = f"{sys.executable} -c {shlex.quote(RUN)} {capture} | head -n 1 >/dev/null; echo ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", script], capture_output=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip() == b"0"
    assert b"Traceback" not in result.stderr and b"BrokenPipe" not in result.stderr
