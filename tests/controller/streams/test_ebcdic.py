"""The cp1146 and cp285 codecs made from Java's tables (controller/streams/ebcdic.py)."""

from __future__ import annotations

import codecs
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from controller.streams import ebcdic

ROOT = Path(__file__).resolve().parents[3]
ALL = bytes(range(256))

# byte -> character, as Java's "Cp1146" decodes it (IBM01146), where Python's cp500 says otherwise
JAVA_CP1146_NOT_CP500 = {0x4A: "$", 0x4F: "|", 0x5A: "!", 0x5B: "£", 0x5F: "¬", 0x9F: "€", 0xA1: "¯",
                         0xB1: "[", 0xBA: "^", 0xBB: "]", 0xBC: "~"}


@pytest.mark.parametrize("name", ["cp1146", "cp285"])
def test_every_byte_round_trips(name):
    text = ALL.decode(name)
    assert len(text) == 256 and len(set(text)) == 256
    assert text.encode(name) == ALL


def test_the_characters_that_differ_from_cp500_decode_as_java_says():
    differ = {b: ch for b in range(256) if (ch := bytes([b]).decode("cp1146")) != bytes([b]).decode("cp500")}
    assert differ == JAVA_CP1146_NOT_CP500
    assert "$12.50 £3 €4".encode("cp1146") == b"\x4a\xf1\xf2\x4b\xf5\xf0\x40\x5b\xf3\x40\x9f\xf4"


def test_cp285_is_cp1146_without_the_euro():
    a, b = ALL.decode("cp285"), ALL.decode("cp1146")
    assert [(i, a[i], b[i]) for i in range(256) if a[i] != b[i]] == [(0x9F, "¤", "€")]
    with pytest.raises(UnicodeEncodeError):
        "€".encode("cp285")


@pytest.mark.parametrize("alias", ["IBM-1146", "ibm01146", "CCSID01146", "IBM285", "ibm_285"])
def test_ibm_names_find_the_codecs(alias):
    assert codecs.lookup(alias).name in ("cp1146", "cp285")


def test_incremental_and_stream_interfaces_agree_with_decode():
    dec = codecs.getincrementaldecoder("cp1146")()
    assert dec.decode(ALL[:100]) + dec.decode(ALL[100:], final=True) == ALL.decode("cp1146")
    enc = codecs.getincrementalencoder("cp1146")()
    assert enc.encode("£$") == b"\x5b\x4a"


def test_x15_is_next_line_so_no_two_bytes_share_a_character():
    # Java decodes both X'15' and X'25' as U+000A; the codec follows IBM's tables and Python's cp500 for X'15'
    assert b"\x15\x25".decode("cp1146") == "\x85\n" == b"\x15\x25".decode("cp500")


@pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")
def test_the_committed_tables_match_java(capsys):
    spec = importlib.util.spec_from_file_location("make_ebcdic_tables", ROOT / "fixtures/streams/make_ebcdic_tables.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        assert module.main(["--check"]) == 0, capsys.readouterr().out
    finally:
        del sys.modules[spec.name]


def test_the_ccsid_table_names_the_codecs():
    assert ebcdic.CCSIDS == {1146: "cp1146", 285: "cp285"}
    from controller.streams.afp import _CCSID

    assert _CCSID[1146] == "cp1146" and _CCSID[285] == "cp285"


# written by Apache FOP (fixtures/streams/make_afp.py): TLE values with $ £ € ! | [ ], in FOP's default
# encoding (Cp1146, no CCSID triplet) and with encoding="1146" / "500" (a CCSID triplet)
FOP_CURRENCY = ROOT / "fixtures" / "streams" / "afp" / "fop_currency.afp"


def _fop_tles(encoding: str) -> list[dict[str, str]]:
    from controller.streams.afp import AfpReader, TleMapping

    index = AfpReader(TleMapping(encoding=encoding)).index(FOP_CURRENCY, job_id="FOP")
    assert [p.piece_id for p in index.pieces] == ["P0400001", "P0400002"]
    return [dict(p.index) for p in index.pieces]


def test_fop_wrote_its_triplet_less_tle_values_in_cp1146():
    data = FOP_CURRENCY.read_bytes()
    assert "$1,234.50 DUE".encode("cp1146") in data and "£12 €3 !|[]^~¬".encode("cp1146") in data


def test_fop_tles_decode_right_when_the_mapping_says_cp1146():
    for tles in _fop_tles("cp1146"):
        assert tles["BALANCE"] == "$1,234.50 DUE"
        assert tles["NOTE"] == "£12 €3 !|[]^~¬"


@pytest.mark.parametrize("encoding", ["cp500", "cp1146"])
def test_fop_tles_with_a_ccsid_triplet_decode_right_whatever_the_mapping_says(encoding):
    for tles in _fop_tles(encoding):
        assert tles["BALANCE_1146"] == "$7.25 £8"
        assert tles["BALANCE_500"] == "$7.25 £8 [!]"


def test_the_default_mapping_reads_triplet_less_tles_as_cp500():
    # the reader cannot tell FOP's files from other producers'; TleMapping(encoding="cp1146") is the choice
    for tles in _fop_tles("cp500"):
        assert tles["BALANCE"] == "[1,234.50 DUE"
