"""decode() is total: any text, any AIM prefix, any symbology name gives one well-formed result."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.decode import decode
from gateway.decode.aim import _BY_AIM, _FAMILY

KINDS = {"gs1", "tracking", "epc", "text"}
AIM_PREFIXES = [f"]{code}" for code in _BY_AIM] + [f"]{letter}{m}" for letter in _FAMILY for m in "09z"]
# Characters that steer the decoder: digits, GS, brackets, URI and tracking letters.
PIECES = st.sampled_from(list("0123456789") * 6 + list("\x1d()/?=&%#:.-_ ZzAEGMTBCDUSXJ") + ["{GS}", "<GS>"])
GS1_LIKE = st.lists(PIECES, max_size=60).map("".join)

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(result, text):
    assert json.loads(json.dumps(result, ensure_ascii=False)) == result
    assert result["input"] == text
    assert result["kind"] in KINDS
    assert isinstance(result["valid"], bool)
    if not result["valid"]:
        assert isinstance(result["error"], str) and result["error"]
    assert "internal decoder error" not in result.get("error", "")
    if "identity" in result:
        assert result["valid"] and ":" in result["identity"]
    assert list(result)[:3] == ["input", "kind", "valid"]


@FAST
@given(st.text())
@example("\x00\x1d\x1f\ud800")
@example("]")
@example("]C1\x1d")
@example("(")
@example("(01)")
@example("https://")
@example("https://id.gs1.org/01/")
@example("urn:epc:id:")
def test_any_text(text):
    check(decode(text), text)


@FAST
@given(st.sampled_from(AIM_PREFIXES), GS1_LIKE)
def test_any_aim_prefix_with_gs1_like_data(prefix, body):
    text = prefix + body
    check(decode(text), text)


@FAST
@given(GS1_LIKE, st.one_of(st.none(), st.text(max_size=20),
                                                             st.sampled_from(["EAN13", "code128", "gs1-128", "]E0"])))
def test_digit_heavy_text_with_symbology_names(body, symbology):
    check(decode(body, symbology=symbology), body)


@FAST
@given(st.from_regex(r"https?://[a-z.]{1,12}(/[0-9A-Za-z%]{1,16}){0,6}(\?([0-9a-z]{1,4}=[0-9A-Za-z%]{0,8}&?){0,3})?",
                     fullmatch=True))
def test_uri_shapes(text):
    check(decode(text), text)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["0", "\x1d", "A", "1Z", "]C101", "(01)", "https://a/01/"]), st.integers(8000, 200_000))
def test_huge_inputs_are_quick_and_total(seed, size):
    text = (seed * (size // len(seed) + 1))[:size]
    check(decode(text), text)


def test_bytes_are_tolerated():
    r = decode(b"0109506000134352")  # type: ignore[arg-type]
    assert r["kind"] == "gs1" and r["valid"]
