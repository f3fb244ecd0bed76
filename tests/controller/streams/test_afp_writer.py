"""The AFP writer: reorder, split and stamp, then re-read with our own reader."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from controller.errors import StreamError
from controller.model import Plex
from controller.streams.afp import STAMP_TLE, AfpReader, WRITER, read_stamps, structured_field as sf
from controller.streams.afp_writer import AfpWriter
from controller.streams.base import EngineeringPlan, PrintJobPlan, SheetStamp, plan_in_order
from drivers.controlcode import ControlCode, decode, encode, job_token, piece_token
from tests.controller.streams.afp_build import document, form_map_resource, group, name8

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "streams" / "afp"


def _same_piece(a, b) -> bool:
    strip = dict(sequence=0, first_page=0)
    return dataclasses.replace(a, **strip) == dataclasses.replace(b, **strip)


def _shuffled(ids, seed=7):
    ids = list(ids)
    random.Random(seed).shuffle(ids)
    return ids


def test_reordered_fop_stream_reads_back_as_the_same_pieces_in_the_new_order(tmp_path):
    idx = AfpReader().index(FIX / "fop_statements.afp", job_id="J1")
    order = _shuffled(p.piece_id for p in idx.pieces)
    (out,) = WRITER.write(idx, plan_in_order(idx, order), tmp_path)
    back = AfpReader().index(out, job_id="J1")
    assert [p.piece_id for p in back.pieces] == order
    by_id = {p.piece_id: p for p in idx.pieces}
    assert all(_same_piece(p, by_id[p.piece_id]) for p in back.pieces)
    assert (back.pages, back.sheets) == (idx.pages, idx.sheets)
    assert out.stat().st_size == (FIX / "fop_statements.afp").stat().st_size


def test_split_files_each_carry_the_prolog_and_read_back(tmp_path):
    idx = AfpReader().index(FIX / "fop_statements.afp", job_id="J1")
    order = _shuffled([p.piece_id for p in idx.pieces], seed=3)
    cuts = [order[:5], order[5:17], order[17:]]
    plan = EngineeringPlan(jobs=tuple(PrintJobPlan(f"tray-{i}", tuple(c)) for i, c in enumerate(cuts)))
    paths = WRITER.write(idx, plan, tmp_path)
    assert [p.name for p in paths] == ["tray-0.afp", "tray-1.afp", "tray-2.afp"]
    by_id = {p.piece_id: p for p in idx.pieces}
    for path, cut in zip(paths, cuts):
        back = AfpReader().index(path, job_id="J1")  # duplex needs the form map from the prolog
        assert [p.piece_id for p in back.pieces] == cut
        assert all(_same_piece(p, by_id[p.piece_id]) for p in back.pieces)


def test_a_moved_piece_gets_the_medium_map_that_was_in_force_where_it_stood(tmp_path):
    src = tmp_path / "in.afp"
    src.write_bytes(document(sf("IMM", name8("DUP")), group("A", 2), group("B", 3, imm="SIM"), group("C", 2),
                             group("D", 4, imm="DUP"), group("E", 1),
                             prolog=form_map_resource(("DUP", 2), ("SIM", 1))))
    idx = AfpReader().index(src, job_id="J")
    assert [(p.piece_id, p.plex, p.sheets) for p in idx.pieces] == [
        ("A", Plex.DUPLEX, 1), ("B", Plex.SIMPLEX, 3), ("C", Plex.SIMPLEX, 2), ("D", Plex.DUPLEX, 2),
        ("E", Plex.DUPLEX, 1)]
    order = ["E", "C", "A", "D", "B"]
    (out,) = WRITER.write(idx, plan_in_order(idx, order), tmp_path / "out")
    back = AfpReader().index(out, job_id="J")
    assert [(p.piece_id, p.plex, p.sheets) for p in back.pieces] == [
        ("E", Plex.DUPLEX, 1), ("C", Plex.SIMPLEX, 2), ("A", Plex.DUPLEX, 1), ("D", Plex.DUPLEX, 2),
        ("B", Plex.SIMPLEX, 3)]


def test_a_piece_on_the_default_medium_map_cannot_follow_one_that_invokes_a_map(tmp_path):
    src = tmp_path / "in.afp"
    src.write_bytes(document(group("A", 1), group("B", 1, imm="SIM"), prolog=form_map_resource(("SIM", 1))))
    idx = AfpReader().index(src, job_id="J")
    with pytest.raises(StreamError, match="default medium map") as info:
        WRITER.write(idx, plan_in_order(idx, ["B", "A"]), tmp_path / "out")
    assert info.value.piece_id == "A"


def _stamps_for(idx):
    job = job_token(idx.job_id)
    stamps = {}
    for p in idx.pieces:
        for sheet in range(1, p.sheets + 1):
            code = ControlCode(job, piece_token(p.sequence), sheet, p.sheets, p.inserts)
            stamps[(p.piece_id, sheet)] = SheetStamp(p.piece_id, sheet, encode(code),
                                                     imb_bars="ADFT" * 16 + "A" if sheet == 1 else None)
    return stamps


def test_every_sheet_carries_its_control_code_as_a_page_level_tle(tmp_path):
    idx = AfpReader().index(FIX / "fop_statements.afp", job_id="RUN1")
    order = _shuffled([p.piece_id for p in idx.pieces], seed=11)
    plan = EngineeringPlan(jobs=(PrintJobPlan("job-001", tuple(order)),), stamps=_stamps_for(idx))
    (out,) = WRITER.write(idx, plan, tmp_path)
    back = AfpReader().index(out, job_id="RUN1")
    assert [p.piece_id for p in back.pieces] == order  # stamps do not disturb the index
    by_id = {p.piece_id: p for p in idx.pieces}
    assert all(_same_piece(p, by_id[p.piece_id]) for p in back.pieces)
    found = read_stamps(out)
    codes = {}
    for pid, page, name, value in found:
        if name == STAMP_TLE:
            codes.setdefault(pid, []).append(decode(value))
    for p in back.pieces:
        got = codes[p.piece_id]
        assert [(c.sheet, c.of) for c in got] == [(s, p.sheets) for s in range(1, p.sheets + 1)]
        assert all(c.piece == piece_token(by_id[p.piece_id].sequence) and c.selections == p.inserts for c in got)
    imbs = [(pid, page) for pid, page, name, _ in found if name != STAMP_TLE]
    assert sorted(imbs) == sorted((p.piece_id, 1) for p in idx.pieces)


def test_the_stamp_sits_on_the_first_page_of_each_duplex_sheet(tmp_path):
    src = tmp_path / "in.afp"
    src.write_bytes(document(group("A", 3, imm="DUP"), group("B", 1, imm="DUP"),
                             prolog=form_map_resource(("DUP", 2))))
    idx = AfpReader().index(src, job_id="J")
    plan = EngineeringPlan(jobs=(PrintJobPlan("j", ("B", "A")),), stamps=_stamps_for(idx))
    (out,) = WRITER.write(idx, plan, tmp_path / "o")
    pages = [(pid, page) for pid, page, name, _ in read_stamps(out) if name == STAMP_TLE]
    assert pages == [("B", 1), ("A", 1), ("A", 3)]


def test_the_writer_refuses_a_stream_changed_since_it_was_indexed(tmp_path):
    src = tmp_path / "in.afp"
    src.write_bytes(document(group("A", 1), group("B", 1)))
    idx = AfpReader().index(src, job_id="J")
    src.write_bytes(document(group("A", 2), group("B", 1)))
    with pytest.raises(StreamError, match="changed since"):
        WRITER.write(idx, plan_in_order(idx, ["B", "A"]), tmp_path / "o")


def test_a_plan_that_loses_a_piece_is_refused(tmp_path):
    idx = AfpReader().index(FIX / "fop_plain.afp", job_id="J")
    with pytest.raises(StreamError, match="in no print job"):
        AfpWriter().write(idx, plan_in_order(idx, [p.piece_id for p in idx.pieces][1:]), tmp_path)


def test_barcode_objects_carry_the_same_control_codes_as_the_twins(tmp_path):
    from controller.streams.afp_bcoca import DATAMATRIX, read_datamatrix_objects

    idx = AfpReader().index(FIX / "fop_plain.afp", job_id="RUN2")
    order = [p.piece_id for p in reversed(idx.pieces)]
    plan = EngineeringPlan(jobs=(PrintJobPlan("job-001", tuple(order)),), stamps=_stamps_for(idx))
    (out,) = AfpWriter(barcodes=True).write(idx, plan, tmp_path)
    back = AfpReader().index(out, job_id="RUN2")
    assert [p.piece_id for p in back.pieces] == order
    twins = [v for _, _, name, v in read_stamps(out) if name == STAMP_TLE]
    objects = read_datamatrix_objects(out.read_bytes())
    assert [k for k, _ in objects] == [DATAMATRIX] * len(twins) and len(twins) == back.sheets
    assert [v for _, v in objects] == twins
    assert all(decode(v) for v in twins)
