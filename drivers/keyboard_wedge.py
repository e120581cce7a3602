"""Keyboard-wedge decoding: key events in, complete scans out (sans-I/O).

A wedge scanner is a USB keyboard that types its data. This state machine is
fed the kernel's key events (type, code, value, timestamp — the fields of an
evdev `input_event`) and returns `Scan`s and `ScanRejected`s; it never does I/O,
so recorded streams test it without a device.

What it handles, because scanners do all of it:
- Shift (either), Caps Lock (pressed in the stream or reported by the LED) and
  AltGr on European layouts; the layout is the one the scanner was programmed
  for (drivers.keymaps), not the host's.
- Terminators (Enter, keypad Enter, Tab; configurable) and an inter-character
  timeout for scanners that send none: a gap longer than `char_timeout` ends
  the scan in progress, and `tick(now)` ends it when no further key comes.
- GS (FNC1) however it is typed: Ctrl+] (by key position, see keymaps), Alt +
  keypad code (Alt 0029), or a substitute character the scanner was told to
  send instead (e.g. "~"), all returned as "\\x1d".
- A maximum scan length: a longer one is rejected once, and the rest of it is
  dropped until its terminator or a timeout gap, so the next scan starts clean.

Every input is legal: unknown keys and event types are counted and ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Iterable

from . import keymaps as k

GS = "\x1d"

TERMINATOR_KEYS = {"enter": k.KEY_ENTER, "kp_enter": k.KEY_KPENTER, "tab": k.KEY_TAB}
_SHIFTS = {k.KEY_LEFTSHIFT, k.KEY_RIGHTSHIFT}
_CTRLS = {k.KEY_LEFTCTRL, k.KEY_RIGHTCTRL}
# Typed when the key is not configured as a terminator.
_UNTERMINATING = {k.KEY_ENTER: "\r", k.KEY_KPENTER: "\r", k.KEY_TAB: "\t"}


@dataclass(frozen=True, slots=True)
class Scan:
    """One complete scan. `ended_by` is the terminator's name, "timeout" or "flush"."""

    text: str
    started: float
    ended: float
    ended_by: str


@dataclass(frozen=True, slots=True)
class ScanRejected:
    """A scan that could not be accepted (too long); `reason` says why in words."""

    reason: str
    length: int
    started: float
    ended: float


Outcome = Scan | ScanRejected


class WedgeDecoder:
    """Feed key events with `feed()`, call `tick()` when idle; both return finished scans."""

    def __init__(
        self,
        layout: str | k.Keymap = "us",
        *,
        terminators: Iterable[str] = ("enter", "kp_enter"),
        gs_substitute: str | None = None,
        char_timeout: float | None = 0.2,
        max_length: int = 4096,
        caps_lock: bool = False,
        num_lock: bool = True,
    ):
        self.keymap = layout if isinstance(layout, k.Keymap) else k.keymap(layout)
        names = list(terminators)
        unknown = [n for n in names if n not in TERMINATOR_KEYS]
        if unknown:
            raise ValueError(f"unknown terminator {unknown[0]!r} (known: {', '.join(TERMINATOR_KEYS)})")
        self.terminators = {TERMINATOR_KEYS[n]: n for n in names}
        if gs_substitute is not None and len(gs_substitute) != 1:
            raise ValueError("gs_substitute must be exactly one character")
        self.gs_substitute = gs_substitute
        if char_timeout is not None and not char_timeout > 0:
            raise ValueError("char_timeout must be positive (or None for no timeout)")
        self.char_timeout = char_timeout
        if max_length < 1:
            raise ValueError("max_length must be at least 1")
        self.max_length = max_length
        self.caps_lock = caps_lock
        self.num_lock = num_lock
        #: key presses that type nothing in this layout (or chords we ignore)
        self.ignored_keys = 0
        #: autorepeat events dropped: a scanner never holds a key, so a repeat
        #  means a lost key-up and repeating the character would corrupt the code
        self.ignored_repeats = 0
        self.rejected = 0
        self._held: set[int] = set()
        self._alt_digits = ""
        self._dead = ""
        self._buffer: list[str] = []
        self._started = 0.0
        self._last = 0.0
        self._discarding = False

    # -- public API ----------------------------------------------------------------

    def feed(self, type_: int, code: int, value: int, t: float) -> list[Outcome]:
        """One input event; returns the scans it completed (usually none)."""
        out: list[Outcome] = []
        if not isinstance(t, (int, float)) or not math.isfinite(t):
            t = self._last
        if type_ == k.EV_LED:
            if code == k.LED_CAPSL:
                self.caps_lock = bool(value)
            elif code == k.LED_NUML:
                self.num_lock = bool(value)
            return out
        if type_ != k.EV_KEY:
            return out  # EV_SYN report boundaries, EV_MSC scan codes: nothing to type
        if value == 0:
            self._release(code, t, out)
            return out
        if value == 2:
            if not self._is_modifier(code):
                self.ignored_repeats += 1
            return out
        if value != 1:
            self.ignored_keys += 1
            return out
        self._expire(t, out)
        if not (self._buffer or self._dead or self._alt_digits or self._discarding):
            self._started = t
        if self._is_modifier(code):
            self._held.add(code)  # only modifiers change what a key types
        self._press(code, t, out)
        return out

    def tick(self, now: float) -> list[Outcome]:
        """Call when no event came for a while: ends a scan whose characters stopped."""
        out: list[Outcome] = []
        if isinstance(now, (int, float)) and math.isfinite(now):
            self._expire(now, out)
        return out

    def flush(self, now: float | None = None) -> list[Outcome]:
        """End whatever is in progress (shutdown): a partial scan still counts."""
        out: list[Outcome] = []
        self._settle_dead()
        self._finish(self._last if now is None else now, "flush", out)
        self._discarding = False
        return out

    @property
    def pending(self) -> str:
        """Characters typed since the last scan ended (for diagnostics)."""
        return "".join(self._buffer)

    # -- key handling --------------------------------------------------------------

    def _is_modifier(self, code: int) -> bool:
        return code in _SHIFTS or code in _CTRLS or code in (k.KEY_LEFTALT, k.KEY_RIGHTALT)

    def _alt_held(self) -> bool:
        if k.KEY_LEFTALT in self._held:
            return True
        return not self.keymap.has_altgr and k.KEY_RIGHTALT in self._held

    def _altgr_held(self) -> bool:
        if not self.keymap.has_altgr:
            return False
        if k.KEY_RIGHTALT in self._held:
            return True
        # Windows types AltGr characters for Ctrl+Alt too, and some scanners use it.
        return k.KEY_LEFTALT in self._held and bool(self._held & _CTRLS)

    def _release(self, code: int, t: float, out: list[Outcome]) -> None:
        self._held.discard(code)
        if code in (k.KEY_LEFTALT, k.KEY_RIGHTALT) and self._alt_digits and not self._alt_held():
            digits, self._alt_digits = self._alt_digits, ""
            self._type(alt_code_char(digits), t, out)

    def _press(self, code: int, t: float, out: list[Outcome]) -> None:
        if self._is_modifier(code):
            return
        if code == k.KEY_CAPSLOCK:
            self.caps_lock = not self.caps_lock
            return
        if code == k.KEY_NUMLOCK:
            self.num_lock = not self.num_lock
            return
        if self._alt_held() and not self._altgr_held():
            if code in k.KEYPAD_DIGITS:
                if len(self._alt_digits) < 8:  # Windows reads at most a few digits too
                    self._alt_digits += k.KEYPAD_DIGITS[code]
                self._last = t
            else:
                self.ignored_keys += 1  # Alt+key is a menu shortcut, not text
            return
        if code in self.terminators:
            self._settle_dead()
            self._finish(t, self.terminators[code], out)
            self._discarding = False
            return
        if code in _UNTERMINATING:
            self._type(_UNTERMINATING[code], t, out)
            return
        if code in k.KEYPAD_CHARS:
            if self.num_lock:
                self._type(k.KEYPAD_CHARS[code], t, out)
            else:
                self.ignored_keys += 1  # navigation keys with Num Lock off
            return
        ctrl = bool(self._held & _CTRLS)
        if ctrl and not self._altgr_held():
            ch = self.keymap.control(code)
            if ch:
                self._type(ch, t, out)
            else:
                self.ignored_keys += 1
            return
        self._type_key(code, t, out)

    def _type_key(self, code: int, t: float, out: list[Outcome]) -> None:
        entry = self.keymap.levels.get(code)
        if entry is None:
            self.ignored_keys += 1
            return
        shift = bool(self._held & _SHIFTS)
        plain = entry[k.PLAIN]
        if self._altgr_held():
            level = k.ALTGR
            ch = entry[k.ALTGR]
        else:
            level = k.SHIFT if shift else k.PLAIN
            ch = entry[level]
            capital = plain.upper()
            if self.caps_lock and plain.isalpha() and len(capital) == 1 and capital != plain:
                # Caps Lock inverts Shift on letter keys; a key whose shifted
                # character is not its capital (é/2 on AZERTY) gets the capital
                # without Shift and keeps its shifted character with it.
                if entry[k.SHIFT] == capital:
                    level = k.PLAIN if shift else k.SHIFT
                    ch = entry[level]
                elif not shift:
                    ch = capital
        if not ch:
            self.ignored_keys += 1
            return
        if (code, level) in self.keymap.dead:
            had = self._dead
            self._dead = ""
            if had:
                self._type(had, t, out)
            self._dead = ch
            self._last = t
            return
        if self._dead:
            dead, self._dead = self._dead, ""
            self._type(dead, t, out)
            if ch == " ":
                return  # dead key + space is how the accent itself is typed
        self._type(ch, t, out)

    # -- scan assembly -------------------------------------------------------------

    def _settle_dead(self) -> None:
        if self._dead:
            dead, self._dead = self._dead, ""
            self._append(dead)

    def _type(self, ch: str, t: float, out: list[Outcome]) -> None:
        if self.gs_substitute is not None and ch == self.gs_substitute:
            ch = GS
        self._last = t
        if self._discarding:
            return
        if len(self._buffer) >= self.max_length:
            self.rejected += 1
            out.append(ScanRejected(
                f"scan longer than {self.max_length} characters; dropped up to its end",
                len(self._buffer) + 1, self._started, t))
            self._buffer.clear()
            self._discarding = True
            return
        self._buffer.append(ch)

    def _append(self, ch: str) -> None:
        # Only used for a trailing dead key, which has already set the clock.
        if self.gs_substitute is not None and ch == self.gs_substitute:
            ch = GS
        if not self._discarding and len(self._buffer) < self.max_length:
            self._buffer.append(ch)

    def _expire(self, now: float, out: list[Outcome]) -> None:
        if self.char_timeout is None:
            return
        if not (self._buffer or self._dead or self._discarding or self._alt_digits):
            return
        if now - self._last > self.char_timeout:
            self._alt_digits = ""
            self._settle_dead()
            self._finish(self._last, "timeout", out)
            self._discarding = False

    def _finish(self, t: float, ended_by: str, out: list[Outcome]) -> None:
        if self._buffer and not self._discarding:
            out.append(Scan("".join(self._buffer), self._started, t, ended_by))
        self._buffer.clear()


def alt_code_char(digits: str) -> str:
    """The character Windows types for Alt + keypad `digits`.

    With a leading zero the code is in the ANSI code page (cp1252), without one
    in the OEM code page (cp437), both taken modulo 256 as Windows does. C0
    controls are the same in both, which is what scanners use it for (Alt 0029
    is GS), so codes below 32 and 127 are returned as themselves.
    """
    value = int(digits) % 256 if digits else 0
    if value < 32 or value == 127:
        return chr(value)
    codepage = "cp1252" if digits.startswith("0") else "cp437"
    try:
        return bytes([value]).decode(codepage)
    except UnicodeDecodeError:
        return chr(value)  # the five holes in cp1252: pass the code through
