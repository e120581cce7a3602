"""The AI table from GS1's Barcode Syntax Dictionary (gateway/decode/gs1_syntax/, see its SOURCE.md).

Cross-checked against biip's public API (`GS1ApplicationIdentifier.extract`), an independent
copy of GS1's AI list: every AI's FNC1 need and length limits must agree.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from gateway.decode import decode, gs1_ai, gs1_checks
from gateway.decode.checksums import gs1_alpha_pair

ROOT = Path(__file__).resolve().parent.parent
FOLDER = resources.files("gateway.decode").joinpath("gs1_syntax")

# biip's regexes spell out what the dictionary leaves to a linter: "-" (hyphen), "1/3"
# (posinseqslash), GRAI's leading 0 (zero); all-"1" values cannot fit those.
_LINTER_SHAPED = {"4330", "4331", "4332", "4333", "7258", "8003"}


def test_the_dictionary_is_gs1s_file_with_its_licence():
    text = FOLDER.joinpath("gs1-syntax-dictionary.txt").read_text("utf-8")
    assert text.startswith("# GS1 Barcode Syntax Dictionary") and "Apache License, Version 2.0" in text
    assert "gs1/gs1-syntax-engine" in FOLDER.joinpath("SOURCE.md").read_text("utf-8")
    assert len(gs1_ai.AI_TABLE) >= 536


def test_decoding_does_not_import_biip():
    code = "import sys, gateway.decode.gs1_ai as m; m.lookup('01'); print('biip' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_agrees_with_biips_public_api():
    extract = pytest.importorskip("biip.gs1_application_identifiers").GS1ApplicationIdentifier.extract
    for ai, spec in gs1_ai.AI_TABLE.items():
        theirs = extract(ai)
        assert theirs.ai == ai
        assert theirs.separator_required == spec.fnc1_required, ai
        pattern = re.compile(theirs.pattern)
        assert not pattern.fullmatch(ai + "1" * (spec.max_len + 1)), ai
        assert spec.min_len == 1 or not pattern.fullmatch(ai + "1" * (spec.min_len - 1)), ai
        if ai not in _LINTER_SHAPED:
            assert pattern.fullmatch(ai + "1" * spec.max_len), ai


def test_addendum_only_has_ais_gs1s_file_lacks():
    ours = gs1_ai.parse_dictionary(FOLDER.joinpath("addendum.txt").read_text("utf-8"))
    gs1s = {e.ai for e in gs1_ai.parse_dictionary(FOLDER.joinpath("gs1-syntax-dictionary.txt").read_text("utf-8"))}
    assert ours and not {e.ai for e in ours} & gs1s


def test_dictionary_lines_are_parsed():
    line = "8003        !?  N1,zero N13,csum,gcppos1 [X..16]  dlpkey                # GRAI\n" \
           "3100-3102  * ?  N6                                req=01,02 ex=310n  # NET WEIGHT (kg)"
    grai, *weights = gs1_ai.parse_dictionary(line)
    assert (grai.ai, grai.title, grai.key, grai.dl_attribute, grai.fnc1_required) == ("8003", "GRAI", True, True, True)
    assert [(c.charset, c.min_len, c.max_len, c.optional, c.linters) for c in grai.components] == [
        ("N", 1, 1, False, ("zero",)), ("N", 13, 13, False, ("csum", "gcppos1")), ("X", 1, 16, True, ())]
    assert grai.attributes == ("dlpkey",) and (grai.min_len, grai.max_len) == (14, 30)
    assert [w.ai for w in weights] == ["3100", "3101", "3102"] and not weights[0].fnc1_required
    assert grai.pattern.fullmatch("0" + "1" * 13) and grai.pattern.fullmatch("0" * 14 + "AB")


@pytest.mark.parametrize("ai,value,error", [
    ("4321", "2", "neither 0 (no) nor 1 (yes)"),
    ("4330", "001250+", "must be '-'"),
    ("8014", "332", "not a digit"),  # "3" and its check pair "32": all digits
    ("7241", "11", "not an AIDC media type"),
    ("7258", "3/2", "not a position in a sequence"),
    ("8014", "MUDI1ZZ", "check characters"),
])
def test_component_linters(ai, value, error):
    with pytest.raises(Exception, match=re.escape(error)):
        gs1_checks.check_value(gs1_ai.AI_TABLE[ai], value)


@pytest.mark.parametrize("ai,value", [("4321", "1"), ("4330", "001250-"), ("4330", "001250"), ("7241", "85"),
                                      ("7258", "2/3"), ("8014", "MUDI1" + gs1_alpha_pair("MUDI1"))])
def test_component_linters_pass(ai, value):
    gs1_checks.check_value(gs1_ai.AI_TABLE[ai], value)


def test_addendum_ai_reads():
    r = decode("]C1" + "01" + "09506000134352" + "8040" + "490154203237518")
    assert r["valid"] and r["ais"]["8040"] == "490154203237518"
