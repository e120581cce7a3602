"""NMEA 0183 from GPS/GNSS receivers: framing, sentence parsing and fix assembly, sans-I/O.

Three layers, each usable alone, one module each:

    framing.NmeaFramer       bytes in  -> sentence strings out ("$GNGGA,...*5B"), rejects counted
    parse.parse_sentence     one sentence -> a typed `Sentence` (fields.py reads the fields) or
                             `NmeaError` (a `DecodeError` whose `reason` is one of checksum |
                             truncated | garbage | unknown | malformed)
    assembler.NmeaAssembler  sentences -> `Fix` once per receiver epoch (the pipeline uses this on
                             the `nmea` Reads the serial driver frames)

and `stream.NmeaStream` (framer + assembler: bytes in -> `Fix` out, for `tally nmea` and tests).
When an epoch is a fix follows gpsd (see assembler.py); tests/test_nmea_gpsd_agreement.py runs
real receiver recordings through both.

Why not pynmea2 for the fields (the tests use it as an oracle): it hands back raw strings when a
field does not parse ("12a519" as a timestamp, "310294" as a date), reads empty coordinates as
0.0 (a no-fix sentence lands on Null Island), accepts minutes >= 60, latitudes of 99 degrees and
"nan" altitudes, raises plain ValueError lazily on attribute access, leaves GNS/GSA numbers as
strings and has no NMEA 4.10 GSA system id. Each of those would need a typed, validating layer
over every field anyway, which is all parse.py and fields.py are, and the core install
(`tally nmea`) then needs no extra. Speed is not the reason: typed and checked, both parse ~120k
sentences/s on a desktop core (pynmea2 is faster only while its fields stay unread text); a
receiver sends a few hundred.
"""

from .assembler import NmeaAssembler
from .counters import NmeaCounters
from .fix import Fix, iso_utc
from .framing import MAX_SENTENCE, NmeaFramer
from .parse import checksum, parse_sentence
from .sentence import KNOWN, TIMED, NmeaError, Sentence
from .stream import NmeaStream

__all__ = ["Fix", "KNOWN", "MAX_SENTENCE", "NmeaAssembler", "NmeaCounters", "NmeaError", "NmeaFramer",
           "NmeaStream", "Sentence", "TIMED", "checksum", "iso_utc", "parse_sentence"]
