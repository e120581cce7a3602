"""Host command strings for scanner families, from their programming manuals (`feedback_preset`).

Only commands confirmed in a manufacturer's manual are here; a family whose host commands could
not be confirmed is left out (write its bytes in `feedback = {...}` instead). Keys a device sets
in `feedback` override the preset's.

honeywell-2020
    Honeywell 2020 Barcode Reader User Manual, "2020 Host Escape Commands" (p. 2-13):
    <ESC>7 indicate a successful decode and communication to host, <ESC>8 indicate an
    unsuccessful decode, <ESC>4 one beep at low pitch, <ESC>2 green LED for two seconds.
    The scanner must be in the host-acknowledge configuration that accepts escape commands.

datalogic-magellan
    Datalogic Magellan 9300i / 9800i Product Reference Guide, Appendix E "Host Commands",
    "Accepting Commands from an RS-232 Scanner Host": B (0x42) beep the good read tone,
    F (0x46) "Not On File" indication (a long series of beeps).

Left out: Zebra/Symbol SSI. Its BEEP (0xE6) and LED_ON/LED_OFF (0xE7/0xE8) opcodes and the packet
checksum are documented (e.g. DS9908 Product Reference Guide, "SSI Commands"), but the beep-code table
could not be confirmed from a manual here, and a wrong code is a wrong signal at the door.
"""

from __future__ import annotations

ESC = "\x1b"

PRESETS: dict[str, dict[str, str]] = {
    "honeywell-2020": {
        "accepted": ESC + "7",
        "rejected": ESC + "8",
        "unexpected": ESC + "8",
        "not_accepted": ESC + "8",
        "duplicate": ESC + "4",
        "complete": ESC + "2",
    },
    "datalogic-magellan": {
        "accepted": "B",
        "rejected": "F",
        "unexpected": "F",
        "not_accepted": "F",
    },
}
