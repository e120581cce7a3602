"""Layout tables: input-event codes match the kernel's, characters match xkeyboard-config."""

from __future__ import annotations

import ctypes
import ctypes.util

import pytest

from drivers import keymaps as k

CODE_NAMES = [n for n in dir(k) if n.startswith(("KEY_", "EV_", "LED_"))]


def test_codes_match_linux_input_event_codes():
    ecodes = pytest.importorskip("evdev.ecodes")
    for name in CODE_NAMES:
        assert getattr(k, name) == getattr(ecodes, name), name


def test_azerty_digits_need_shift_and_qwertz_swaps_y_z():
    fr, de = k.keymap("fr"), k.keymap("de")
    assert [fr.char(code, k.SHIFT) for code in range(k.KEY_1, k.KEY_0 + 1)] == list("1234567890")
    assert [fr.char(code, k.PLAIN) for code in range(k.KEY_1, k.KEY_0 + 1)] == list("&é\"'(-è_çà")
    assert fr.char(k.KEY_Q, k.PLAIN) == "a" and fr.char(k.KEY_A, k.PLAIN) == "q" and fr.char(k.KEY_M, k.PLAIN) == ","
    assert de.char(k.KEY_Y, k.PLAIN) == "z" and de.char(k.KEY_Z, k.PLAIN) == "y"
    assert de.char(k.KEY_7, k.SHIFT) == "/" and de.char(k.KEY_Q, k.ALTGR) == "@"


def test_every_printable_ascii_character_is_typable_on_every_layout():
    for layout in k.LAYOUTS.values():
        chars = {entry[level] for entry in layout.levels.values() for level in range(3)}
        missing = [chr(c) for c in range(32, 127) if chr(c) not in chars]
        assert not missing, (layout.name, missing)


def test_ctrl_right_brace_is_gs_on_every_layout_and_ctrl_letters_follow_the_layout():
    for layout in k.LAYOUTS.values():
        assert layout.control(k.KEY_RIGHTBRACE) == "\x1d"
    assert k.keymap("fr").control(k.KEY_Q) == "\x01"  # Ctrl+A on AZERTY is the key labelled A
    assert k.keymap("us").control(k.KEY_Q) == "\x11"


def test_unknown_layout_names_the_known_ones():
    with pytest.raises(KeyError, match="us, de, fr"):
        k.keymap("dvorak")


# --- cross-check against xkeyboard-config via libxkbcommon -------------------------------

DEAD_CHARS = {"dead_circumflex": "^", "dead_acute": "´", "dead_grave": "`", "dead_diaeresis": "¨", "dead_tilde": "~"}
# Dead on Windows' French layout (which scanner tables follow) but not in xkb.
WINDOWS_ONLY_DEAD = {("fr", k.KEY_2, k.ALTGR), ("fr", k.KEY_7, k.ALTGR)}


class Xkb:
    def __init__(self) -> None:
        path = ctypes.util.find_library("xkbcommon")
        if not path:
            pytest.skip("libxkbcommon is not installed (apt-get install libxkbcommon0 xkb-data)")
        lib = self.lib = ctypes.CDLL(path)

        class Names(ctypes.Structure):
            _fields_ = [(n, ctypes.c_char_p) for n in ("rules", "model", "layout", "variant", "options")]

        self.Names = Names
        lib.xkb_context_new.restype = ctypes.c_void_p
        lib.xkb_keymap_new_from_names.restype = ctypes.c_void_p
        lib.xkb_keymap_new_from_names.argtypes = [ctypes.c_void_p, ctypes.POINTER(Names), ctypes.c_int]
        lib.xkb_state_new.restype = ctypes.c_void_p
        lib.xkb_state_new.argtypes = [ctypes.c_void_p]
        lib.xkb_state_update_key.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int]
        lib.xkb_state_key_get_one_sym.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.xkb_state_key_get_one_sym.restype = ctypes.c_uint32
        lib.xkb_keysym_get_name.argtypes = [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]
        lib.xkb_keysym_to_utf32.argtypes = [ctypes.c_uint32]
        lib.xkb_keysym_to_utf32.restype = ctypes.c_uint32
        lib.xkb_state_unref.argtypes = [ctypes.c_void_p]
        self.ctx = lib.xkb_context_new(0)
        if not self.ctx:
            pytest.skip("libxkbcommon could not create a context")

    def keymap(self, layout: str):
        names = self.Names(b"evdev", b"pc105", layout.encode(), b"", b"")
        km = self.lib.xkb_keymap_new_from_names(self.ctx, ctypes.byref(names), 0)
        if not km:
            pytest.skip(f"xkb-data has no {layout!r} layout (apt-get install xkb-data)")
        return km

    def sym(self, km, code: int, mods: tuple[int, ...]) -> tuple[str, str]:
        st = self.lib.xkb_state_new(km)
        for m in mods:
            self.lib.xkb_state_update_key(st, m + 8, 1)  # xkb keycodes are evdev codes + 8
        s = self.lib.xkb_state_key_get_one_sym(st, code + 8)
        self.lib.xkb_state_unref(st)
        buf = ctypes.create_string_buffer(64)
        self.lib.xkb_keysym_get_name(s, buf, 64)
        u = self.lib.xkb_keysym_to_utf32(s)
        return buf.value.decode(), (chr(u) if u else "")


@pytest.fixture(scope="module")
def xkb():
    return Xkb()


@pytest.mark.parametrize("name", sorted(k.LAYOUTS))
def test_layout_agrees_with_xkeyboard_config(xkb, name):
    layout = k.keymap(name)
    km = xkb.keymap(name)
    mods = {k.PLAIN: (), k.SHIFT: (k.KEY_LEFTSHIFT,), k.ALTGR: (k.KEY_RIGHTALT,)}
    checked = 0
    for code, entry in layout.levels.items():
        for level, ours in enumerate(entry):
            if not ours:
                continue  # we leave out some levels (non-ASCII extras); never invent one
            sym, ch = xkb.sym(km, code, mods[level])
            if (code, level) in layout.dead and (name, code, level) not in WINDOWS_ONLY_DEAD:
                assert DEAD_CHARS.get(sym) == ours, (name, code, level, sym, ours)
            else:
                assert ch == ours, (name, code, level, sym, ours)
            checked += 1
    assert checked > 90


@pytest.mark.parametrize("name", sorted(k.LAYOUTS))
def test_caps_lock_rule_agrees_with_xkb_on_letter_keys(xkb, name):
    from drivers.keyboard_wedge import WedgeDecoder

    layout = k.keymap(name)
    km = xkb.keymap(name)
    for code, entry in layout.levels.items():
        if not (entry[0].isalpha() and entry[1] == entry[0].upper()):
            continue
        d = WedgeDecoder(name, caps_lock=True, terminators=["enter"])
        d.feed(1, code, 1, 0.0)
        d.feed(1, code, 0, 0.0)
        out = d.feed(1, k.KEY_ENTER, 1, 0.0)
        # xkb with Caps Lock locked: press and release the lock key first
        st = xkb.lib.xkb_state_new(km)
        xkb.lib.xkb_state_update_key(st, k.KEY_CAPSLOCK + 8, 1)
        xkb.lib.xkb_state_update_key(st, k.KEY_CAPSLOCK + 8, 0)
        u = xkb.lib.xkb_keysym_to_utf32(xkb.lib.xkb_state_key_get_one_sym(st, code + 8))
        xkb.lib.xkb_state_unref(st)
        assert out[0].text == chr(u), (name, code)


# --- the keyboard simulator's own tables (simulators/wedge_layouts.py) -----------------------

def test_simulator_codes_match_linux_input_event_codes():
    from simulators import wedge_layouts as w

    ecodes = pytest.importorskip("evdev.ecodes")
    for name, code in w.KEY.items():
        assert getattr(ecodes, "KEY_" + name.upper()) == code, name
    assert (w.EV_SYN, w.EV_KEY, w.EV_MSC, w.MSC_SCAN) == (ecodes.EV_SYN, ecodes.EV_KEY, ecodes.EV_MSC, ecodes.MSC_SCAN)


@pytest.mark.parametrize("name", sorted(k.LAYOUTS))
def test_simulator_layout_agrees_with_xkeyboard_config(xkb, name):
    from simulators import wedge_layouts as w

    layout = w.layout(name)
    km = xkb.keymap(name)
    mods = ((), (w.SHIFT,), (w.ALTGR,))
    for key_name, entry in layout.keys.items():
        code = w.KEY[key_name]
        for level, ours in enumerate(entry):
            if not ours:
                continue
            sym, ch = xkb.sym(km, code, mods[level])
            if (key_name, level) in layout.dead and (name, code, level) not in WINDOWS_ONLY_DEAD:
                assert DEAD_CHARS.get(sym) == ours, (name, key_name, level, sym, ours)
            else:
                assert ch == ours, (name, key_name, level, sym, ours)
    typable = set(layout.strokes())
    assert not [chr(c) for c in range(32, 127) if chr(c) not in typable]
