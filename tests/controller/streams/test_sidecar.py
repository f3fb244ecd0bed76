"""Index files beside a stream: CSV and JSON, strict parsing, and merging into an index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from controller.errors import StreamError
from controller.model import Piece
from controller.streams.afp import AfpReader
from controller.streams.sidecar import SidecarEntry, apply_sidecar, find_sidecar, parse_sidecar, read_sidecar, write_sidecar
from tests.controller.streams.afp_build import document, group

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "streams" / "afp"


def test_the_fop_fixture_index_file_reads_as_entries():
    entries = read_sidecar(FIX / "fop_statements.csv")
    assert len(entries) == 24
    e = entries[0]
    assert e.first_page == 0 and e.pages >= 1 and len(e.recipient) == 3 and e.postal_code.isdigit()
    assert all(b.first_page == a.first_page + a.pages for a, b in zip(entries, entries[1:]))


def test_find_sidecar_looks_beside_the_stream(tmp_path):
    stream = tmp_path / "run.afp"
    stream.write_bytes(b"x")
    assert find_sidecar(stream) is None
    (tmp_path / "run.csv").write_text("piece,first_page,page_count\nA,1,1\n")
    assert find_sidecar(stream) == tmp_path / "run.csv"
    (tmp_path / "run.afp.idx.json").write_text("[]")
    assert find_sidecar(stream) == tmp_path / "run.afp.idx.json"


def test_column_synonyms_recipient_block_and_extra_values():
    text = ("ID,Start_Page,Pages,Recipient,ZIP,Selections,Account\n"
            "A,1,2,ANN LEE|1 MAIN ST|TOWN IL 62701,62701000101,1;3,AC1\n"
            "B,3,1,BO LI,,,AC2\n")
    a, b = parse_sidecar(text, kind="csv")
    assert (a.piece_id, a.first_page, a.pages, a.recipient, a.postal_code, a.inserts, dict(a.index)) == \
        ("A", 0, 2, ("ANN LEE", "1 MAIN ST", "TOWN IL 62701"), "62701000101", frozenset({1, 3}), {"Account": "AC1"})
    assert (b.postal_code, b.inserts) == (None, frozenset())


def test_json_lists_and_piece_objects_read_alike():
    rows = [{"piece": "A", "first_page": 1, "page_count": 1, "recipient": ["X", "Y"], "postal_code": "1",
             "inserts": [2]}]
    for text in (json.dumps(rows), json.dumps({"pieces": rows})):
        (e,) = parse_sidecar(text, kind="json")
        assert (e.recipient, e.inserts) == (("X", "Y"), frozenset({2}))


@pytest.mark.parametrize("text, why", [
    ("piece,first_page,page_count\nA,1,1\nA,2,1\n", "twice"),
    ("piece,first_page,page_count\nA,1,2\nB,2,1\n", "overlaps"),
    ("piece,first_page,page_count\nA,1,1\nB,3,1\n", "in no piece"),
    ("piece,first_page,page_count\nA,0,1\n", "count from 1"),
    ("piece,first_page,page_count\nA,1,x\n", "not a whole number"),
    ("piece,first_page\nA,1\n", "page count"),
    ("piece,first_page,page_count,inserts\nA,1,1,two\n", "station"),
    ("piece,first_page,page_count\nA,1,1,extra\n", "more cells"),
])
def test_bad_index_files_are_refused_naming_the_line(text, why):
    with pytest.raises(StreamError, match=why):
        parse_sidecar(text, kind="csv")


def test_bad_json_names_the_position():
    with pytest.raises(StreamError, match="not valid JSON") as info:
        parse_sidecar('[{"piece": "A",', kind="json")
    assert info.value.offset is not None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.lists(st.text("ABC XYZ,|0123", min_size=1, max_size=12).map(str.strip)
                                                      .filter(lambda s: s and "|" not in s), max_size=3),
                          st.frozensets(st.integers(1, 9), max_size=3)), min_size=1, max_size=8),
       st.sampled_from(["csv", "json"]))
def test_written_index_files_read_back_the_same(tmp_path_factory, specs, kind):
    pieces, first = [], 0
    for i, (pages, lines, inserts) in enumerate(specs):
        pieces.append(Piece(f"P{i}", "J", i, pages, pages, first_page=first, recipient=tuple(lines),
                            postal_code=f"{i:05d}", inserts=inserts, index={"ACCOUNT": f"A{i}"}))
        first += pages
    path = write_sidecar(pieces, tmp_path_factory.mktemp("sc") / f"x.{kind}")
    back = read_sidecar(path)
    assert [(e.piece_id, e.first_page, e.pages, e.recipient, e.postal_code, e.inserts, e.index["ACCOUNT"]) for e in back] \
        == [(p.piece_id, p.first_page, p.pages, p.recipient, p.postal_code, p.inserts, p.index["ACCOUNT"]) for p in pieces]


def _afp(tmp_path: Path, *groups: bytes) -> Path:
    p = tmp_path / "s.afp"
    p.write_bytes(document(*groups))
    return p


def test_an_afp_stream_takes_postal_codes_it_lacks_from_its_index_file(tmp_path):
    path = _afp(tmp_path, group("A", 2, zip_code=None), group("B", 1, zip_code="22222"))
    entries = [SidecarEntry("A", 0, 2, ("ANN",), "11111"), SidecarEntry("B", 2, 1, ("BOB",), "99999")]
    idx = AfpReader().index(path, job_id="J", sidecar=entries)
    assert [(p.piece_id, p.postal_code, p.recipient) for p in idx.pieces] == [("A", "11111", ("ANN",)),
                                                                             ("B", "22222", ("BOB",))]


def test_an_index_file_that_disagrees_on_pages_is_refused_or_quarantined(tmp_path):
    path = _afp(tmp_path, group("A", 2), group("B", 1))
    entries = [SidecarEntry("A", 0, 1), SidecarEntry("B", 1, 2)]
    with pytest.raises(StreamError, match="index file gives pages") as info:
        AfpReader().index(path, job_id="J", sidecar=entries)
    assert info.value.piece_id == "A"
    idx = AfpReader().index(path, job_id="J", sidecar=entries, lenient=True)
    assert idx.pieces == () and {q.piece_id for q in idx.quarantined} == {"A", "B"}


def test_an_index_file_naming_a_piece_the_stream_lacks_is_refused(tmp_path):
    path = _afp(tmp_path, group("A", 1))
    with pytest.raises(StreamError, match="does not hold"):
        AfpReader().index(path, job_id="J", sidecar=[SidecarEntry("A", 0, 1), SidecarEntry("Z", 1, 1)])


def test_without_postal_code_in_stream_or_file_the_piece_is_refused(tmp_path):
    path = _afp(tmp_path, group("A", 1, zip_code=None))
    with pytest.raises(StreamError, match="no postal code"):
        AfpReader().index(path, job_id="J", sidecar=[SidecarEntry("A", 0, 1)])


def test_apply_sidecar_keeps_the_stream_values():
    from controller.streams.base import StreamFormat, StreamIndex
    idx = StreamIndex("x", StreamFormat.AFP, "J", 1, 1, (Piece("A", "J", 0, 1, 1, recipient=("S",), postal_code="1"),))
    out = apply_sidecar(idx, [SidecarEntry("A", 0, 1, ("F",), "2", frozenset({3}), {"K": "v"})])
    p = out.pieces[0]
    assert (p.recipient, p.postal_code, p.inserts, dict(p.index)) == (("S",), "1", frozenset({3}), {"K": "v"})


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["csv", "json"]))
def test_any_text_parses_or_is_a_stream_error(text, kind):
    try:
        entries = parse_sidecar(text, kind=kind)
    except StreamError:
        return
    assert all(e.pages >= 1 and e.first_page >= 0 for e in entries)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_damaged_index_files_parse_or_fail_plainly(data):
    good = (FIX / "fop_statements.csv").read_text()
    cut = data.draw(st.integers(0, len(good)))
    flip = data.draw(st.integers(0, max(cut - 1, 0)))
    ch = data.draw(st.sampled_from([",", "\n", '"', "x", "0", ""]))
    text = good[:cut]
    text = text[:flip] + ch + text[flip + 1:]
    try:
        parse_sidecar(text, kind="csv")
    except StreamError as exc:
        assert "line" in str(exc) or "header" in str(exc) or "piece" in str(exc)
