"""What a wedge scanner presses to type a character, for the layouts the keyboard simulator types.

Written from the layouts themselves (the Windows keyboard layouts that scanner "keyboard country"
tables follow: US, German, French) and linux/input-event-codes.h, not from drivers/keymaps.py: the
simulator types with this table and the driver decodes with its own, so a wrong key in either shows
up as a failed round trip in the tests instead of cancelling out.
"""

from __future__ import annotations

from dataclasses import dataclass

# linux/input-event-codes.h
EV_SYN, EV_KEY, EV_MSC, MSC_SCAN = 0, 1, 4, 4
KEY = {
    "esc": 1, "1": 2, "2": 3, "3": 4, "4": 5, "5": 6, "6": 7, "7": 8, "8": 9, "9": 10, "0": 11,
    "minus": 12, "equal": 13, "backspace": 14, "tab": 15,
    "q": 16, "w": 17, "e": 18, "r": 19, "t": 20, "y": 21, "u": 22, "i": 23, "o": 24, "p": 25,
    "leftbrace": 26, "rightbrace": 27, "enter": 28, "leftctrl": 29,
    "a": 30, "s": 31, "d": 32, "f": 33, "g": 34, "h": 35, "j": 36, "k": 37, "l": 38,
    "semicolon": 39, "apostrophe": 40, "grave": 41, "leftshift": 42, "backslash": 43,
    "z": 44, "x": 45, "c": 46, "v": 47, "b": 48, "n": 49, "m": 50,
    "comma": 51, "dot": 52, "slash": 53, "rightshift": 54, "kpasterisk": 55, "leftalt": 56, "space": 57,
    "capslock": 58, "numlock": 69, "kp7": 71, "kp8": 72, "kp9": 73, "kpminus": 74, "kp4": 75, "kp5": 76,
    "kp6": 77, "kpplus": 78, "kp1": 79, "kp2": 80, "kp3": 81, "kp0": 82, "kpdot": 83, "102nd": 86,
    "kpenter": 96, "rightctrl": 97, "kpslash": 98, "rightalt": 100,
}
SHIFT, ALTGR, CTRL, ALT = KEY["leftshift"], KEY["rightalt"], KEY["leftctrl"], KEY["leftalt"]

# HID Usage Tables 1.3, keyboard page (0x07): the MSC_SCAN value the kernel reports before each key
_USAGE_BY_NAME = {
    **{chr(ord("a") + i): 0x04 + i for i in range(26)},
    **{str((i + 1) % 10): 0x1E + i for i in range(10)},
    "enter": 0x28, "esc": 0x29, "backspace": 0x2A, "tab": 0x2B, "space": 0x2C, "minus": 0x2D, "equal": 0x2E,
    "leftbrace": 0x2F, "rightbrace": 0x30, "backslash": 0x31, "semicolon": 0x33, "apostrophe": 0x34,
    "grave": 0x35, "comma": 0x36, "dot": 0x37, "slash": 0x38, "capslock": 0x39, "numlock": 0x53,
    "kpslash": 0x54, "kpasterisk": 0x55, "kpminus": 0x56, "kpplus": 0x57, "kpenter": 0x58,
    **{f"kp{(i + 1) % 10}": 0x59 + i for i in range(10)}, "kpdot": 0x63, "102nd": 0x64,
    "leftctrl": 0xE0, "leftshift": 0xE1, "leftalt": 0xE2, "rightctrl": 0xE4, "rightshift": 0xE5, "rightalt": 0xE6,
}
HID_USAGE = {KEY[name]: 0x70000 | usage for name, usage in _USAGE_BY_NAME.items()}
KEYPAD = {str(d): KEY[f"kp{d}"] for d in range(10)}

Chord = tuple[tuple[int, ...], int]  # (modifiers held, key)


@dataclass(frozen=True)
class Layout:
    name: str
    #: key name → (plain, Shift, AltGr) characters, "" where that level types nothing
    keys: dict[str, tuple[str, str, str]]
    #: (key name, level) of the dead keys: a scanner follows them with a space to type the accent
    dead: frozenset[tuple[str, int]] = frozenset()

    def strokes(self) -> dict[str, list[Chord]]:
        """char → the chord(s) typing it; a plain key before a shifted one before AltGr."""
        table: dict[str, list[Chord]] = {}
        for level, mods in enumerate(((), (SHIFT,), (ALTGR,))):
            for name in sorted(self.keys, key=KEY.__getitem__):
                ch = self.keys[name][level]
                if ch and ch not in table:
                    table[ch] = [(mods, KEY[name])]
                    if (name, level) in self.dead:
                        table[ch].append(((), KEY["space"]))
        return table

    def controls(self) -> dict[str, int]:
        """C0 control → the key Ctrl goes with: the key of the letter (per layout), and Windows'
        fixed positions for ESC, FS, GS, RS, US (the US [ \\ ] 6 - keys whatever they print)."""
        out = {"\x1b": KEY["leftbrace"], "\x1c": KEY["backslash"], "\x1d": KEY["rightbrace"],
               "\x1e": KEY["6"], "\x1f": KEY["minus"]}
        for name, (plain, _, _) in self.keys.items():
            if len(plain) == 1 and "a" <= plain <= "z":
                out[chr(ord(plain) - 0x60)] = KEY[name]
        return out


def _letters(row: str, names: str) -> dict[str, tuple[str, str, str]]:
    return {name: (ch, ch.upper(), "") for name, ch in zip(names.split(), row)}


US = Layout("us", {
    "grave": ("`", "~", ""), "1": ("1", "!", ""), "2": ("2", "@", ""), "3": ("3", "#", ""), "4": ("4", "$", ""),
    "5": ("5", "%", ""), "6": ("6", "^", ""), "7": ("7", "&", ""), "8": ("8", "*", ""), "9": ("9", "(", ""),
    "0": ("0", ")", ""), "minus": ("-", "_", ""), "equal": ("=", "+", ""),
    **_letters("qwertyuiop", "q w e r t y u i o p"), "leftbrace": ("[", "{", ""), "rightbrace": ("]", "}", ""),
    **_letters("asdfghjkl", "a s d f g h j k l"), "semicolon": (";", ":", ""), "apostrophe": ("'", '"', ""),
    "backslash": ("\\", "|", ""), "102nd": ("<", ">", ""),
    **_letters("zxcvbnm", "z x c v b n m"), "comma": (",", "<", ""), "dot": (".", ">", ""), "slash": ("/", "?", ""),
    "space": (" ", " ", ""),
})

DE = Layout("de", {
    "grave": ("^", "°", ""), "1": ("1", "!", ""), "2": ("2", '"', "²"), "3": ("3", "§", "³"), "4": ("4", "$", ""),
    "5": ("5", "%", ""), "6": ("6", "&", ""), "7": ("7", "/", "{"), "8": ("8", "(", "["), "9": ("9", ")", "]"),
    "0": ("0", "=", "}"), "minus": ("ß", "?", "\\"), "equal": ("´", "`", ""),
    **_letters("qwertzuiop", "q w e r t y u i o p"), "q": ("q", "Q", "@"), "e": ("e", "E", "€"),
    "leftbrace": ("ü", "Ü", ""), "rightbrace": ("+", "*", "~"),
    **_letters("asdfghjkl", "a s d f g h j k l"), "semicolon": ("ö", "Ö", ""), "apostrophe": ("ä", "Ä", ""),
    "backslash": ("#", "'", ""), "102nd": ("<", ">", "|"),
    **_letters("yxcvbnm", "z x c v b n m"), "m": ("m", "M", "µ"), "comma": (",", ";", ""), "dot": (".", ":", ""), "slash": ("-", "_", ""),
    "space": (" ", " ", " "),
}, dead=frozenset({("grave", 0), ("equal", 0), ("equal", 1)}))

FR = Layout("fr", {
    "grave": ("²", "", ""), "1": ("&", "1", ""), "2": ("é", "2", "~"), "3": ('"', "3", "#"), "4": ("'", "4", "{"),
    "5": ("(", "5", "["), "6": ("-", "6", "|"), "7": ("è", "7", "`"), "8": ("_", "8", "\\"), "9": ("ç", "9", "^"),
    "0": ("à", "0", "@"), "minus": (")", "°", "]"), "equal": ("=", "+", "}"),
    **_letters("azertyuiop", "q w e r t y u i o p"), "e": ("e", "E", "€"), "leftbrace": ("^", "¨", ""), "rightbrace": ("$", "£", "¤"),
    **_letters("qsdfghjklm", "a s d f g h j k l semicolon"), "apostrophe": ("ù", "%", ""),
    "backslash": ("*", "µ", ""), "102nd": ("<", ">", "|"),
    **_letters("wxcvbn", "z x c v b n"), "m": (",", "?", ""), "comma": (";", ".", ""), "dot": (":", "/", ""),
    "slash": ("!", "§", ""), "space": (" ", " ", " "),
}, dead=frozenset({("leftbrace", 0), ("leftbrace", 1), ("2", 2), ("7", 2)}))

LAYOUTS = {layout.name: layout for layout in (US, DE, FR)}


def layout(name: str) -> Layout:
    try:
        return LAYOUTS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown keyboard layout {name!r} (known: {', '.join(LAYOUTS)})") from None
