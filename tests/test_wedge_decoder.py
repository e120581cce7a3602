"""The keyboard-wedge state machine: shift, caps, layouts, GS by every method, timeouts, limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import keymaps as k
from drivers.keyboard_wedge import GS, Scan, ScanRejected, WedgeDecoder, alt_code_char
from simulators.keyboard import key_events

SHIFT = k.KEY_LEFTSHIFT


class Keys:
    """Types key chords into a decoder with a clock, collecting what comes out."""

    def __init__(self, decoder: WedgeDecoder, step: float = 0.004):
        self.d, self.t, self.step, self.out = decoder, 0.0, step, []

    def ev(self, code: int, value: int, type_: int = k.EV_KEY) -> Keys:
        self.out += self.d.feed(type_, code, value, self.t)
        self.t += self.step
        return self

    def tap(self, code: int, *mods: int) -> Keys:
        for m in mods:
            self.ev(m, 1)
        self.ev(code, 1).ev(code, 0)
        for m in reversed(mods):
            self.ev(m, 0)
        return self

    def wait(self, seconds: float) -> Keys:
        self.t += seconds
        return self

    def texts(self) -> list[str]:
        return [o.text for o in self.out if isinstance(o, Scan)]


def decode(text: str, layout: str = "us", **kw) -> list[str]:
    opts = {key: kw.pop(key) for key in list(kw) if key in ("terminators", "char_timeout")}
    if kw.get("gs") == "substitute":
        opts["gs_substitute"] = kw["gs_substitute"]
    d = WedgeDecoder(layout, **opts)
    out = []
    for e in key_events(text, layout, **kw):
        out += d.feed(e.type, e.code, e.value, e.t)
    return [o.text for o in out + d.tick(1e6)]


def test_shift_left_and_right_and_plain():
    keys = Keys(WedgeDecoder("us"))
    keys.tap(k.KEY_A).tap(k.KEY_A, SHIFT).tap(k.KEY_A, k.KEY_RIGHTSHIFT).tap(k.KEY_1, k.KEY_RIGHTSHIFT).tap(k.KEY_ENTER)
    assert keys.texts() == ["aAA!"]


def test_shift_held_across_several_keys():
    keys = Keys(WedgeDecoder("us"))
    keys.ev(SHIFT, 1).tap(k.KEY_A).tap(k.KEY_B).ev(SHIFT, 2).tap(k.KEY_2).ev(SHIFT, 0).tap(k.KEY_C).tap(k.KEY_ENTER)
    assert keys.texts() == ["AB@c"]


def test_caps_lock_key_toggles_letters_only_and_shift_inverts_it():
    keys = Keys(WedgeDecoder("us"))
    keys.tap(k.KEY_CAPSLOCK).tap(k.KEY_A).tap(k.KEY_A, SHIFT).tap(k.KEY_1).tap(k.KEY_1, SHIFT)
    keys.tap(k.KEY_CAPSLOCK).tap(k.KEY_A).tap(k.KEY_ENTER)
    assert keys.texts() == ["Aa1!a"]


def test_caps_lock_led_state_is_followed():
    keys = Keys(WedgeDecoder("de"))
    keys.ev(k.LED_CAPSL, 1, type_=k.EV_LED).tap(k.KEY_Y).tap(k.KEY_SEMICOLON)  # z, ö
    keys.ev(k.LED_CAPSL, 0, type_=k.EV_LED).tap(k.KEY_Y).tap(k.KEY_ENTER)
    assert keys.texts() == ["ZÖz"]


def test_azerty_caps_lock_does_not_turn_the_number_row_into_digits():
    keys = Keys(WedgeDecoder("fr", caps_lock=True))
    keys.tap(k.KEY_1).tap(k.KEY_2).tap(k.KEY_2, SHIFT).tap(k.KEY_Q).tap(k.KEY_ENTER)
    assert keys.texts() == ["&É2A"]


@pytest.mark.parametrize("layout", ["us", "de", "fr"])
@pytest.mark.parametrize("gs", ["ctrl", "alt"])
def test_gs_by_ctrl_and_by_alt_code_on_each_layout(layout, gs):
    text = "]C10109506000134352" + GS + "10AB-12/x" + GS + "21Q"
    assert decode(text, layout, gs=gs) == [text]


def test_ctrl_right_brace_is_gs_even_with_shift_or_ctrl_right():
    keys = Keys(WedgeDecoder("de"))
    keys.tap(k.KEY_1).tap(k.KEY_RIGHTBRACE, k.KEY_RIGHTCTRL).tap(k.KEY_2).tap(k.KEY_RIGHTBRACE).tap(k.KEY_ENTER)
    assert keys.texts() == ["1" + GS + "2+"]


@pytest.mark.parametrize("sub,layout", [("~", "us"), ("^", "us"), ("~", "de"), ("^", "de"), ("|", "fr")])
def test_gs_substitute_character(sub, layout):
    text = "0109506000134352" + GS + "10LOT"
    got = decode(text, layout, gs="substitute", gs_substitute=sub)
    assert got == [text]


def test_dead_keys_type_the_accent_with_space_and_never_compose():
    keys = Keys(WedgeDecoder("de"))
    keys.tap(k.KEY_GRAVE).tap(k.KEY_SPACE).tap(k.KEY_GRAVE).tap(k.KEY_A).tap(k.KEY_EQUAL, SHIFT).tap(k.KEY_SPACE)
    keys.tap(k.KEY_GRAVE).tap(k.KEY_ENTER)
    assert keys.texts() == ["^^a`^"]


def test_alt_codes_keypad_emulation_and_code_pages():
    assert alt_code_char("0029") == GS and alt_code_char("029") == GS and alt_code_char("29") == GS
    assert alt_code_char("065") == "A" and alt_code_char("0065") == "A"
    assert alt_code_char("0128") == "€"  # cp1252 with a leading zero
    assert alt_code_char("130") == "é"  # cp437 without
    assert alt_code_char("0321") == "A"  # modulo 256, as Windows does
    assert alt_code_char("0129") == "\x81"  # a hole in cp1252 passes through
    keys = Keys(WedgeDecoder("fr"))
    keys.ev(k.KEY_LEFTALT, 1)
    for d in (k.KEY_KP0, k.KEY_KP0, k.KEY_KP6, k.KEY_KP5):
        keys.tap(d)
    keys.ev(k.KEY_LEFTALT, 0).tap(k.KEY_ENTER)
    assert keys.texts() == ["A"]


def test_alt_with_a_non_keypad_key_is_ignored_and_counted():
    d = WedgeDecoder("us")
    keys = Keys(d)
    keys.ev(k.KEY_LEFTALT, 1).tap(k.KEY_F).ev(k.KEY_LEFTALT, 0).tap(k.KEY_X).tap(k.KEY_ENTER)
    assert keys.texts() == ["x"] and d.ignored_keys == 1


def test_right_alt_is_altgr_on_european_layouts_and_alt_on_us():
    keys = Keys(WedgeDecoder("de"))
    keys.tap(k.KEY_Q, k.KEY_RIGHTALT).tap(k.KEY_Q, k.KEY_LEFTCTRL, k.KEY_LEFTALT).tap(k.KEY_ENTER)
    assert keys.texts() == ["@@"]
    keys = Keys(WedgeDecoder("us"))
    keys.ev(k.KEY_RIGHTALT, 1).tap(k.KEY_KP6).tap(k.KEY_KP6).ev(k.KEY_RIGHTALT, 0).tap(k.KEY_ENTER)
    assert keys.texts() == ["B"]


def test_keypad_digits_follow_num_lock():
    d = WedgeDecoder("us")
    keys = Keys(d)
    keys.tap(k.KEY_KP1).tap(k.KEY_KPDOT).tap(k.KEY_NUMLOCK).tap(k.KEY_KP2).tap(k.KEY_NUMLOCK).tap(k.KEY_KP3)
    keys.tap(k.KEY_KPENTER)
    assert keys.texts() == ["1.3"] and d.ignored_keys == 1


def test_terminators_are_configurable_and_others_are_typed():
    keys = Keys(WedgeDecoder("us", terminators=["tab"]))
    keys.tap(k.KEY_A).tap(k.KEY_ENTER).tap(k.KEY_B).tap(k.KEY_TAB).tap(k.KEY_C).tap(k.KEY_TAB)
    assert keys.texts() == ["a\rb", "c"]
    keys = Keys(WedgeDecoder("us"))
    keys.tap(k.KEY_A).tap(k.KEY_TAB).tap(k.KEY_B).tap(k.KEY_KPENTER).tap(k.KEY_ENTER)
    assert keys.texts() == ["a\tb"]  # an Enter with nothing typed ends nothing
    with pytest.raises(ValueError, match="unknown terminator"):
        WedgeDecoder("us", terminators=["return"])


def test_char_timeout_splits_scans_without_terminator_and_tick_flushes():
    d = WedgeDecoder("us", terminators=[], char_timeout=0.05)
    keys = Keys(d, step=0.004)
    keys.tap(k.KEY_1).tap(k.KEY_2).wait(0.2).tap(k.KEY_3)
    assert keys.texts() == ["12"] and keys.out[0].ended_by == "timeout"
    assert d.tick(keys.t + 0.01) == []  # not idle long enough yet
    last = d.tick(keys.t + 0.06)
    assert [s.text for s in last] == ["3"]
    assert d.tick(keys.t + 10) == []


def test_timeout_measured_from_last_character_not_scan_start():
    keys = Keys(WedgeDecoder("us", terminators=[], char_timeout=0.05), step=0.02)
    for _ in range(10):
        keys.tap(k.KEY_7)
    assert keys.texts() == []
    assert [s.text for s in keys.d.tick(keys.t + 1)] == ["7" * 10]


def test_flush_returns_a_partial_scan():
    d = WedgeDecoder("us", char_timeout=None)
    Keys(d).tap(k.KEY_A).tap(k.KEY_GRAVE)
    assert d.pending == "a`"
    (scan,) = d.flush()
    assert scan.text == "a`" and scan.ended_by == "flush"
    assert d.flush() == []


def test_oversized_scan_is_rejected_once_then_decoder_resyncs():
    d = WedgeDecoder("us", max_length=5)
    keys = Keys(d)
    for _ in range(12):
        keys.tap(k.KEY_9)
    keys.tap(k.KEY_ENTER).tap(k.KEY_1).tap(k.KEY_ENTER)
    rejected = [o for o in keys.out if isinstance(o, ScanRejected)]
    assert len(rejected) == 1 and "longer than 5 characters" in rejected[0].reason
    assert keys.texts() == ["1"] and d.rejected == 1


def test_oversized_scan_without_terminator_resyncs_on_the_timeout_gap():
    d = WedgeDecoder("us", terminators=[], max_length=3, char_timeout=0.05)
    keys = Keys(d)
    for _ in range(6):
        keys.tap(k.KEY_9)
    keys.wait(0.5).tap(k.KEY_1).tap(k.KEY_2)
    out = keys.out + d.tick(keys.t + 1)
    assert [type(o).__name__ for o in out] == ["ScanRejected", "Scan"] and out[1].text == "12"


def test_exactly_max_length_is_accepted():
    keys = Keys(WedgeDecoder("us", max_length=3))
    keys.tap(k.KEY_1).tap(k.KEY_2).tap(k.KEY_3).tap(k.KEY_ENTER)
    assert keys.texts() == ["123"]


def test_unknown_keys_repeats_and_other_events_are_ignored_and_counted():
    d = WedgeDecoder("us")
    keys = Keys(d)
    keys.ev(0, 0, type_=k.EV_SYN).ev(4, 0x70004, type_=k.EV_MSC)
    keys.tap(k.KEY_A).tap(59).tap(k.KEY_ESC).ev(k.KEY_B, 1).ev(k.KEY_B, 2).ev(k.KEY_B, 2).ev(k.KEY_B, 0)
    keys.ev(k.KEY_C, 7).tap(k.KEY_ENTER)
    assert keys.texts() == ["ab"]
    assert d.ignored_keys == 3 and d.ignored_repeats == 2


def test_ctrl_letters_type_control_characters():
    keys = Keys(WedgeDecoder("us"))
    keys.tap(k.KEY_D, k.KEY_LEFTCTRL).tap(k.KEY_6, k.KEY_LEFTCTRL, SHIFT).tap(k.KEY_ENTER)
    assert keys.texts() == ["\x04\x1e"]


def test_bad_settings_are_refused_in_words():
    with pytest.raises(ValueError, match="exactly one character"):
        WedgeDecoder("us", gs_substitute="~~")
    with pytest.raises(ValueError, match="char_timeout"):
        WedgeDecoder("us", char_timeout=0)
    with pytest.raises(KeyError, match="unknown keyboard layout"):
        WedgeDecoder("xx")


ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(text=ASCII | st.lists(ASCII, min_size=1, max_size=4).map(GS.join),
       layout=st.sampled_from(["us", "de", "fr"]), gs=st.sampled_from(["ctrl", "alt"]))
def test_any_ascii_scan_round_trips_through_key_events(text, layout, gs):
    assert decode(text, layout, gs=gs) == [text]


EVENT = st.tuples(st.sampled_from([0, 1, 4, 17, 2, 3]), st.integers(0, 130) | st.integers(-5, 2**31),
                  st.integers(-1, 3), st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 5))


@settings(max_examples=300, deadline=None)
@given(events=st.lists(EVENT, max_size=200), layout=st.sampled_from(["us", "de", "fr"]),
       sub=st.sampled_from([None, "~", "^"]), max_length=st.integers(1, 20))
def test_decoder_is_total_on_any_event_sequence(events, layout, sub, max_length):
    d = WedgeDecoder(layout, gs_substitute=sub, max_length=max_length, terminators=["enter", "tab"])
    for type_, code, value, t in events:
        for o in d.feed(type_, code, value, t):
            assert isinstance(o, (Scan, ScanRejected))
            if isinstance(o, Scan):
                assert 0 < len(o.text) <= max_length
    d.tick(1e9)
    d.flush()
