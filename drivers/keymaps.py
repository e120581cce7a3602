"""Keyboard layouts a keyboard-wedge scanner can be programmed for.

A wedge scanner does not send characters: it presses keys, choosing the keys
that would type its data on a host with the layout it was told about ("keyboard
country"). To read it back we need the same layout, keyed by Linux input-event
codes (linux/input-event-codes.h), independent of whatever layout the host uses.

The tables hold what matters for barcode data: every printable ASCII character
plus the few non-ASCII characters on the main levels. They were checked against
xkeyboard-config through libxkbcommon (tests/test_wedge_keymaps.py repeats that
check wherever libxkbcommon is installed).

Dead keys never compose here: barcode data is ASCII, and scanners type an
accent character as dead key + space (Windows layouts, which scanner keyboard
tables follow). So dead key + space gives the accent itself, dead key + anything
else gives the accent followed by that key's character.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping

# Linux input-event codes (linux/input-event-codes.h); numbers, so decoding
# recorded streams needs no evdev.
EV_SYN, EV_KEY, EV_MSC, EV_LED = 0, 1, 4, 17
LED_NUML, LED_CAPSL = 0, 1

KEY_ESC = 1
KEY_1, KEY_2, KEY_3, KEY_4, KEY_5, KEY_6, KEY_7, KEY_8, KEY_9, KEY_0 = range(2, 12)
KEY_MINUS, KEY_EQUAL, KEY_BACKSPACE, KEY_TAB = 12, 13, 14, 15
KEY_Q, KEY_W, KEY_E, KEY_R, KEY_T, KEY_Y, KEY_U, KEY_I, KEY_O, KEY_P = range(16, 26)
KEY_LEFTBRACE, KEY_RIGHTBRACE, KEY_ENTER, KEY_LEFTCTRL = 26, 27, 28, 29
KEY_A, KEY_S, KEY_D, KEY_F, KEY_G, KEY_H, KEY_J, KEY_K, KEY_L = range(30, 39)
KEY_SEMICOLON, KEY_APOSTROPHE, KEY_GRAVE, KEY_LEFTSHIFT, KEY_BACKSLASH = 39, 40, 41, 42, 43
KEY_Z, KEY_X, KEY_C, KEY_V, KEY_B, KEY_N, KEY_M = range(44, 51)
KEY_COMMA, KEY_DOT, KEY_SLASH, KEY_RIGHTSHIFT, KEY_KPASTERISK = 51, 52, 53, 54, 55
KEY_LEFTALT, KEY_SPACE, KEY_CAPSLOCK = 56, 57, 58
KEY_NUMLOCK = 69
KEY_KP7, KEY_KP8, KEY_KP9, KEY_KPMINUS = 71, 72, 73, 74
KEY_KP4, KEY_KP5, KEY_KP6, KEY_KPPLUS = 75, 76, 77, 78
KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP0, KEY_KPDOT = 79, 80, 81, 82, 83
KEY_102ND = 86
KEY_KPENTER, KEY_RIGHTCTRL, KEY_KPSLASH, KEY_RIGHTALT = 96, 97, 98, 100

KEYPAD_DIGITS: Mapping[int, str] = {
    KEY_KP0: "0", KEY_KP1: "1", KEY_KP2: "2", KEY_KP3: "3", KEY_KP4: "4",
    KEY_KP5: "5", KEY_KP6: "6", KEY_KP7: "7", KEY_KP8: "8", KEY_KP9: "9",
}
#: keypad keys that type a character while Num Lock is on (layout independent)
KEYPAD_CHARS: Mapping[int, str] = {
    **KEYPAD_DIGITS, KEY_KPDOT: ".", KEY_KPSLASH: "/", KEY_KPASTERISK: "*",
    KEY_KPMINUS: "-", KEY_KPPLUS: "+",
}

# Physical rows, in the order the row strings below list their keys.
_NUMBER_ROW = (KEY_GRAVE, KEY_1, KEY_2, KEY_3, KEY_4, KEY_5, KEY_6, KEY_7, KEY_8, KEY_9, KEY_0, KEY_MINUS, KEY_EQUAL)
_TOP_ROW = (KEY_Q, KEY_W, KEY_E, KEY_R, KEY_T, KEY_Y, KEY_U, KEY_I, KEY_O, KEY_P, KEY_LEFTBRACE, KEY_RIGHTBRACE)
_HOME_ROW = (KEY_A, KEY_S, KEY_D, KEY_F, KEY_G, KEY_H, KEY_J, KEY_K, KEY_L,
             KEY_SEMICOLON, KEY_APOSTROPHE, KEY_BACKSLASH)
_BOTTOM_ROW = (KEY_102ND, KEY_Z, KEY_X, KEY_C, KEY_V, KEY_B, KEY_N, KEY_M, KEY_COMMA, KEY_DOT, KEY_SLASH)
_ROWS = (_NUMBER_ROW, _TOP_ROW, _HOME_ROW, _BOTTOM_ROW)

PLAIN, SHIFT, ALTGR = 0, 1, 2

# Where Ctrl types C0 control characters other than Ctrl+letter. Windows
# layouts put ESC/FS/GS on the keys at the US [ \ ] positions whatever they
# print, so Ctrl + KEY_RIGHTBRACE is GS (FNC1) on US, German and French alike.
_POSITIONAL_CONTROLS: Mapping[int, str] = {
    KEY_LEFTBRACE: "\x1b", KEY_BACKSLASH: "\x1c", KEY_RIGHTBRACE: "\x1d", KEY_6: "\x1e", KEY_MINUS: "\x1f",
}


@dataclass(frozen=True)
class Keymap:
    """One layout: key code → characters per level, and which of them are dead keys."""

    name: str
    description: str
    #: code → (plain, shift, altgr); "" where the level types nothing
    levels: Mapping[int, tuple[str, str, str]]
    #: (code, level) pairs that are dead keys; their character is in `levels`
    dead: frozenset[tuple[int, int]] = frozenset()
    #: Right Alt is AltGr (a third level) rather than a second Alt
    has_altgr: bool = False
    controls: Mapping[int, str] = field(default_factory=lambda: dict(_POSITIONAL_CONTROLS))

    def char(self, code: int, level: int) -> str:
        entry = self.levels.get(code)
        return entry[level] if entry else ""

    def control(self, code: int) -> str:
        """The C0 control character Ctrl+key types, or "" if none."""
        plain = self.char(code, PLAIN)
        if len(plain) == 1 and "a" <= plain <= "z":
            return chr(ord(plain) - ord("a") + 1)
        return self.controls.get(code, "")


def _build(rows: tuple[tuple[str, str], ...], altgr: Mapping[int, str] = {}) -> dict[int, tuple[str, str, str]]:
    """Row strings → level table; a space in a row string means "types nothing"."""
    levels: dict[int, tuple[str, str, str]] = {}
    for codes, (plain, shifted) in zip(_ROWS, rows, strict=True):
        if not (len(codes) == len(plain) == len(shifted)):
            raise AssertionError(f"row {plain!r} does not match its keys")
        for code, p, s in zip(codes, plain, shifted, strict=True):
            levels[code] = (p.strip(), s.strip(), altgr.get(code, ""))
    for code, ch in altgr.items():
        if code not in levels:
            levels[code] = ("", "", ch)
    levels[KEY_SPACE] = (" ", " ", " " if altgr else "")
    return levels


US = Keymap(
    name="us",
    description="US English (QWERTY)",
    levels=_build((
        ("`1234567890-=", "~!@#$%^&*()_+"),
        ("qwertyuiop[]", "QWERTYUIOP{}"),
        ("asdfghjkl;'\\", 'ASDFGHJKL:"|'),
        ("<zxcvbnm,./", ">ZXCVBNM<>?"),
    )),
)

DE = Keymap(
    name="de",
    description="German (QWERTZ)",
    levels=_build(
        (
            ("^1234567890ß´", '°!"§$%&/()=?`'),
            ("qwertzuiopü+", "QWERTZUIOPÜ*"),
            ("asdfghjklöä#", "ASDFGHJKLÖÄ'"),
            ("<yxcvbnm,.-", ">YXCVBNM;:_"),
        ),
        altgr={KEY_Q: "@", KEY_E: "€", KEY_7: "{", KEY_8: "[", KEY_9: "]", KEY_0: "}",
               KEY_MINUS: "\\", KEY_RIGHTBRACE: "~", KEY_102ND: "|", KEY_M: "µ",
               KEY_2: "²", KEY_3: "³"},
    ),
    dead=frozenset({(KEY_GRAVE, PLAIN), (KEY_EQUAL, PLAIN), (KEY_EQUAL, SHIFT)}),
    has_altgr=True,
)

FR = Keymap(
    name="fr",
    description="French (AZERTY); digits need Shift",
    levels=_build(
        (
            ("²&é\"'(-è_çà)=", " 1234567890°+"),
            ("azertyuiop^$", "AZERTYUIOP¨£"),
            ("qsdfghjklmù*", "QSDFGHJKLM%µ"),
            ("<wxcvbn,;:!", ">WXCVBN?./§"),
        ),
        altgr={KEY_2: "~", KEY_3: "#", KEY_4: "{", KEY_5: "[", KEY_6: "|", KEY_7: "`", KEY_8: "\\",
               KEY_9: "^", KEY_0: "@", KEY_MINUS: "]", KEY_EQUAL: "}", KEY_E: "€", KEY_RIGHTBRACE: "¤",
               KEY_102ND: "|"},
    ),
    # AltGr+2 (~) and AltGr+7 (`) are dead on Windows' French layout, which
    # scanner keyboard tables follow, though not in xkb.
    dead=frozenset({(KEY_LEFTBRACE, PLAIN), (KEY_LEFTBRACE, SHIFT), (KEY_2, ALTGR), (KEY_7, ALTGR)}),
    has_altgr=True,
)

LAYOUTS: Mapping[str, Keymap] = {k.name: k for k in (US, DE, FR)}


def keymap(name: str) -> Keymap:
    """The layout called `name` (us, de, fr); KeyError with the known names otherwise."""
    try:
        return LAYOUTS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown keyboard layout {name!r} (known: {', '.join(LAYOUTS)})") from None
