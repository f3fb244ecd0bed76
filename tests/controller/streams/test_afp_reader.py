"""The AFP reader: FOP streams, the afplib samples, and synthetic streams for each rule."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from controller.errors import StreamError
from controller.model import Plex
from controller.streams.afp import AfpReader, TleMapping, _real_offsets, iter_fields, structured_field as sf, tle
from controller.streams.base import StreamFormat
from tests.controller.streams.afp_build import document, form_map_resource, group, name8, page

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "streams" / "afp"
AFPLIB = sorted((FIX / "afplib").glob("*.afp"))


def _write(tmp_path: Path, data: bytes, name: str = "s.afp") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _sidecar(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _imm_per_group(path: Path) -> list[str | None]:
    """The medium map each top-level group invokes, by a plain walk independent of the reader."""
    data = path.read_bytes()
    out, depth = [], 0
    for f in iter_fields(data):
        if f.name == "BNG":
            depth += 1
            if depth == 1:
                out.append(None)
        elif f.name == "ENG":
            depth -= 1
        elif f.name == "IMM" and depth:
            out[-1] = bytes(data[f.data_start:f.data_start + 8]).decode("cp500").strip()
    return out


def test_fop_statements_index_matches_the_composition_index_file():
    path = FIX / "fop_statements.afp"
    idx = AfpReader().index(path, job_id="J1")
    rows = _sidecar(FIX / "fop_statements.csv")
    assert idx.format is StreamFormat.AFP
    assert [p.piece_id for p in idx.pieces] == [r["piece"] for r in rows]
    assert [p.pages for p in idx.pieces] == [int(r["page_count"]) for r in rows]
    assert [p.first_page + 1 for p in idx.pieces] == [int(r["first_page"]) for r in rows]
    assert [p.postal_code for p in idx.pieces] == [r["postal_code"] for r in rows]
    assert [p.recipient for p in idx.pieces] == [(r["address1"], r["address2"], r["address3"]) for r in rows]
    assert [p.inserts for p in idx.pieces] == [frozenset(int(x) for x in r["inserts"].split()) for r in rows]
    assert all(p.index["ACCOUNT"].startswith("AC") for p in idx.pieces)
    assert idx.pages == sum(p.pages for p in idx.pieces)
    assert [p.sequence for p in idx.pieces] == list(range(len(rows)))


def test_fop_medium_maps_from_the_embedded_form_map_give_sheets():
    path = FIX / "fop_statements.afp"
    idx = AfpReader().index(path, job_id="J1")
    maps = _imm_per_group(path)
    assert set(maps) == {"DUPLEX", "SIMPLEX"}
    for piece, mm in zip(idx.pieces, maps, strict=True):
        if mm == "DUPLEX":
            assert (piece.plex, piece.sheets) == (Plex.DUPLEX, math.ceil(piece.pages / 2))
        else:
            assert (piece.plex, piece.sheets) == (Plex.SIMPLEX, piece.pages)
    assert idx.sheets == sum(p.sheets for p in idx.pieces)


def test_an_external_form_map_is_described_by_configuration():
    path = FIX / "fop_statements.afp"
    idx = AfpReader(medium_maps={"DUPLEX": Plex.SIMPLEX}).index(path, job_id="J1")
    assert all(p.plex is Plex.SIMPLEX and p.sheets == p.pages for p in idx.pieces)


def test_without_medium_maps_pages_are_simplex_sheets():
    idx = AfpReader().index(FIX / "fop_plain.afp", job_id="J2")
    assert len(idx.pieces) == 6
    assert all(p.plex is Plex.SIMPLEX and p.sheets == p.pages for p in idx.pieces)


def test_duplex_by_default_without_imm_refuses_a_piece_starting_on_a_back_side():
    idx_plain = AfpReader().index(FIX / "fop_plain.afp", job_id="J2")
    odd_before = next(i for i, p in enumerate(idx_plain.pieces) if p.pages % 2) + 1
    with pytest.raises(StreamError, match="back of the previous piece") as info:
        AfpReader(default_plex=Plex.DUPLEX).index(FIX / "fop_plain.afp", job_id="J2")
    assert info.value.piece_id == idx_plain.pieces[odd_before].piece_id
    assert info.value.offset is not None


def test_a_piece_without_postal_code_is_refused_naming_it():
    with pytest.raises(StreamError, match="no postal code") as info:
        AfpReader().index(FIX / "fop_nozip.afp", job_id="J3")
    assert info.value.piece_id == "P0300002"
    assert info.value.path.endswith("fop_nozip.afp") and info.value.offset > 0


def test_lenient_quarantines_the_piece_without_postal_code_and_keeps_the_others():
    idx = AfpReader().index(FIX / "fop_nozip.afp", job_id="J3", lenient=True)
    assert [p.piece_id for p in idx.pieces] == ["P0300001", "P0300003"]
    assert len(idx.quarantined) == 1
    q = idx.quarantined[0]
    assert q.piece_id == "P0300002" and "postal code" in q.reason and q.offset is not None


@pytest.mark.parametrize("path", AFPLIB, ids=[p.name for p in AFPLIB])
def test_afplib_samples_walk_cleanly(path):
    idx = AfpReader().index(path, job_id="X")
    assert idx.pieces == () and idx.quarantined == ()
    lay = AfpReader().layout(path)
    assert lay.fields == sum(1 for _ in iter_fields(path.read_bytes()))


@pytest.mark.parametrize("name", ["fop_statements.afp", "fop_plain.afp"])
def test_the_windowed_chain_finds_the_same_fields_as_a_plain_walk(name):
    data = (FIX / name).read_bytes()
    plain = [f.offset for f in iter_fields(data)]
    arr = np.frombuffer(data, dtype=np.uint8)
    for window in (64, 1000, 1 << 20):
        found = np.concatenate(list(_real_offsets(arr, len(data), window=window))).tolist()
        assert found == plain


def test_5a_bytes_inside_field_data_are_not_taken_for_fields(tmp_path):
    # NOP data made of what looks like structured field headers, some pointing at real fields
    decoy = b"".join(b"\x5a\x00\x10\xd3\xa8\xad\x00\x00\x00" + bytes([k]) for k in range(40))
    decoy += b"\x5a\x00\x08\xd3\xa9\xaf\x00\x00\x00"
    data = document(group("A1", 2, inner=sf("NOP", decoy)), group("A2", 1))
    idx = AfpReader().index(_write(tmp_path, data), job_id="J")
    assert [(p.piece_id, p.pages) for p in idx.pieces] == [("A1", 2), ("A2", 1)]


def test_nested_groups_belong_to_their_top_level_piece(tmp_path):
    inner = group(None, 2, zip_code=None, tles=(("SECTION", "terms"),), name="SUB1")
    data = document(group("N1", 1, inner=inner), group("N2", 1))
    idx = AfpReader().index(_write(tmp_path, data), job_id="J")
    assert [(p.piece_id, p.pages) for p in idx.pieces] == [("N1", 3), ("N2", 1)]
    assert idx.pieces[0].index == {"SECTION": "terms"}


def test_tle_names_are_mapped_by_configuration(tmp_path):
    g = group(None, 1, zip_code=None, tles=(("KUNDE", "K-77"), ("PLZ", "10115"), ("ANSCHRIFT1", "ERIKA"),
                                            ("BEILAGEN", "3;5")), name="PGP00001")
    mapping = TleMapping(piece_id=("KUNDE",), postal_code=("PLZ",), recipient=r"ANSCHRIFT\d", inserts=("BEILAGEN",))
    idx = AfpReader(mapping).index(_write(tmp_path, document(g)), job_id="J")
    p = idx.pieces[0]
    assert (p.piece_id, p.postal_code, p.recipient, p.inserts) == ("K-77", "10115", ("ERIKA",), frozenset({3, 5}))


def test_the_group_name_is_the_piece_id_when_no_tle_names_it(tmp_path):
    idx = AfpReader().index(_write(tmp_path, document(group(None, 1, name="GRP00042"))), job_id="J")
    assert idx.pieces[0].piece_id == "GRP00042"


def test_a_document_level_imm_stays_in_force_across_pieces(tmp_path):
    data = document(sf("IMM", name8("DUP")), group("D1", 3), group("D2", 2, imm="DUP"), group("D3", 2),
                    prolog=form_map_resource(("DUP", 2), ("SIM", 1)))
    idx = AfpReader().index(_write(tmp_path, data), job_id="J")
    assert [(p.pages, p.sheets, p.plex) for p in idx.pieces] == [(3, 2, Plex.DUPLEX), (2, 1, Plex.DUPLEX),
                                                                  (2, 1, Plex.DUPLEX)]
    assert idx.sheets == 4


def test_fields_with_extension_and_padding_are_read(tmp_path):
    n, v = "PIECE".encode("cp500"), "X9".encode("cp500")
    triplets = bytes([4 + len(n), 0x02, 0x0B, 0x00]) + n + bytes([4 + len(v), 0x36, 0, 0]) + v
    padded_tle = sf("TLE", b"\x03\xaa\xbb" + triplets + b"\0\0\x03", flags=0x88)
    g = sf("BNG", name8("G")) + padded_tle + tle("ZIP", "99999") + page() + sf("ENG", name8("G"))
    idx = AfpReader().index(_write(tmp_path, document(g)), job_id="J")
    assert idx.pieces[0].piece_id == "X9"


def test_a_ccsid_triplet_chooses_the_code_page(tmp_path):
    n, v = "ADDR1".encode("cp273"), "MÜLLER".encode("cp273")
    t = (bytes([6, 0x01, 0, 0, 0x01, 0x11]) + bytes([4 + len(n), 0x02, 0x0B, 0x00]) + n
         + bytes([4 + len(v), 0x36, 0, 0]) + v)  # CCSID 273
    g = sf("BNG", name8("G")) + tle("PIECE", "C1") + tle("ZIP", "1") + sf("TLE", t) + page() + sf("ENG", name8("G"))
    idx = AfpReader().index(_write(tmp_path, document(g)), job_id="J")
    assert idx.pieces[0].recipient == ("MÜLLER",)


@pytest.mark.parametrize("data, why", [
    (document(group("A", 1)[:-17]), "inside the page group"),
    (document(group("A", 1) + sf("ENG", name8("A"))), "without a begin"),
    (document(group("A", 1).replace(sf("EPG", name8("PG000001")), b"")), "inside the page"),
    (document(page(), group("A", 1)), "outside any named page group"),
    (document(group("A", 1), group("A", 2)), "appears twice"),
    (group("A", 1), "outside a document"),
    (document(group("A", 1))[:-3], "cut off|past the end"),
    (document(group("A", 1)) + b"\x00", "not 0x5A|cut off"),
    (document(group("A", 1), sf("BPG", name8("X")) + b"\x5a\x00\x03\xd3\xee\xee"), "below the minimum"),
    (document(group("A", 1, inner=sf("TLE", b"\x09\x02\x0b\x00"))), "triplet"),
])
def test_damaged_streams_are_refused_with_the_offset(tmp_path, data, why):
    with pytest.raises(StreamError, match=why) as info:
        AfpReader().index(_write(tmp_path, data), job_id="J")
    assert info.value.offset is not None and info.value.path.endswith("s.afp")


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(StreamError, match="empty"):
        AfpReader().index(_write(tmp_path, b""), job_id="J")


def test_a_missing_file_is_a_stream_error(tmp_path):
    with pytest.raises(StreamError, match="cannot read"):
        AfpReader().index(tmp_path / "nope.afp", job_id="J")


def test_lenient_reads_the_pieces_before_damage_and_quarantines_the_rest(tmp_path):
    data = document(group("A", 1), group("B", 2), group("C", 1))
    cut = data.index(tle("PIECE", "C")) + 5
    idx = AfpReader().index(_write(tmp_path, data[:cut]), job_id="J", lenient=True)
    assert [p.piece_id for p in idx.pieces] == ["A", "B"]
    assert len(idx.quarantined) == 1 and "not read" in idx.quarantined[0].reason
    assert idx.quarantined[0].offset is not None


def test_sniff_knows_afp_from_other_formats():
    r = AfpReader()
    assert r.sniff((FIX / "fop_statements.afp").read_bytes()[:64])
    assert not r.sniff(b"%PDF-1.7\n") and not r.sniff(b"%!PS-Adobe-3.0\n") and not r.sniff(b"\x1bE\x1b&l0O")


@pytest.mark.parametrize("name", ["fop_statements.afp", "fop_plain.afp"])
def test_the_bulk_walk_and_the_field_by_field_walk_agree(name, monkeypatch):
    from controller.streams import afp

    fast = AfpReader().index(FIX / name, job_id="J")
    monkeypatch.setattr(afp._Walker, "_groups_at_once", lambda self, *a: False)
    slow = AfpReader().index(FIX / name, job_id="J")
    assert fast == slow


def test_page_lists_from_the_bulk_walk_match_the_field_by_field_walk(monkeypatch):
    from controller.streams import afp

    def pages(lay):
        return [(g.start, g.end, g.page_list, g.imm_at_start, g.own_imm, g.content_at, g.last_imm) for g in lay.groups]

    fast = pages(AfpReader().layout(FIX / "fop_statements.afp", detail=True))
    monkeypatch.setattr(afp._Walker, "_groups_at_once", lambda self, *a: False)
    slow = pages(AfpReader().layout(FIX / "fop_statements.afp", detail=True))
    assert fast == slow and all(p[2] for p in fast)
