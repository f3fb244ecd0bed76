"""The PDF writer's output is all or nothing (controller.streams.paged.JobFiles), and duplex pieces start on a front side."""

from __future__ import annotations

import pytest

from controller.errors import StreamError
from controller.streams import pdf
from tests.controller.streams.streamkit import STREAMS, shuffled_plan

PDF_DIR = STREAMS / "pdf"


def test_a_job_that_cannot_be_renamed_into_place_leaves_no_print_job_behind(tmp_path):
    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    plan = shuffled_plan(index, seed=2, jobs=3)
    (tmp_path / f"{plan.jobs[1].name}.pdf").mkdir()  # the second job's final name is taken by a folder
    with pytest.raises(StreamError, match="cannot write print jobs") as err:
        pdf.WRITER.write(index, plan, tmp_path)
    assert err.value.path == index.path
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{plan.jobs[1].name}.pdf"]


def test_a_split_into_one_job_per_piece_that_fails_leaves_no_job(tmp_path):
    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    plan = shuffled_plan(index, seed=4, jobs=len(index.pieces))
    (tmp_path / f"{plan.jobs[-1].name}.pdf").mkdir()
    with pytest.raises(StreamError, match="cannot write print jobs"):
        pdf.WRITER.write(index, plan, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{plan.jobs[-1].name}.pdf"]


def _duplex_source(tmp_path):
    import pikepdf

    src = tmp_path / "duplex.pdf"
    with pikepdf.open(PDF_DIR / "outline.pdf") as doc:
        doc.Root.ViewerPreferences = pikepdf.Dictionary(Duplex=pikepdf.Name.DuplexFlipLongEdge)
        doc.save(src)
    return src


def _front_pages(index) -> list[int]:
    """1-based page number of each piece's first page, in file order."""
    return [p.first_page + 1 for p in index.pieces]


def test_duplex_pieces_with_odd_page_counts_are_padded_so_every_piece_starts_on_a_front_side(tmp_path):
    from controller.model import Plex

    index = pdf.READER.index(_duplex_source(tmp_path), job_id="J1")
    assert {p.plex for p in index.pieces} == {Plex.DUPLEX}
    odd = [p.piece_id for p in index.pieces if p.pages % 2]
    assert odd and len(odd) < len(index.pieces)  # the sample has both kinds
    plan = shuffled_plan(index, seed=9, jobs=2)
    files = pdf.WRITER.write(index, plan, tmp_path / "out")
    by_id = {p.piece_id: p for p in index.pieces}
    for job, f in zip(plan.jobs, files):
        again = pdf.READER.index(f, job_id="J1")
        assert [(p.piece_id, p.pages, p.sheets) for p in again.pieces] == [
            (pid, by_id[pid].pages, by_id[pid].sheets) for pid in job.piece_ids]
        assert all(page % 2 == 1 for page in _front_pages(again))
        assert again.sheets == sum(by_id[pid].sheets for pid in job.piece_ids)
        assert again.pages == 2 * again.sheets  # every sheet has both sides, pads included
        twins = pdf.read_page_twins(f)
        pads = [k for k, t in enumerate(twins) if t and t.get("Pad") == "true"]
        assert len(pads) == sum(1 for pid in job.piece_ids if by_id[pid].pages % 2)
        for k in pads:  # a pad is a back side, and the last page of the piece it pads
            piece = next(p for p in again.pieces if p.first_page <= k <= p.first_page + p.pages)
            assert k % 2 == 1 and k == piece.first_page + piece.pages
            assert twins[k]["PieceID"] == piece.piece_id and twins[k]["Sheet"] == str(piece.sheets)
        # the front of every sheet carries its piece's control code, in plan order; a pad carries none
        codes = [t.get("ControlCode") for t in twins[0::2]]
        assert codes == [plan.stamps[(pid, s)].control_code for pid in job.piece_ids
                         for s in range(1, by_id[pid].sheets + 1)]
        assert all("ControlCode" not in twins[k] for k in pads)


def test_a_padded_job_reordered_again_keeps_its_pieces_and_pads(tmp_path):
    index = pdf.READER.index(_duplex_source(tmp_path), job_id="J1")
    (first,) = pdf.WRITER.write(index, shuffled_plan(index, seed=1, jobs=1, stamps=False), tmp_path / "a")
    again = pdf.READER.index(first, job_id="J1")
    (second,) = pdf.WRITER.write(again, shuffled_plan(again, seed=2, jobs=1, stamps=False), tmp_path / "b")
    third = pdf.READER.index(second, job_id="J1")
    by_id = {p.piece_id: p for p in index.pieces}
    assert sorted((p.piece_id, p.pages, p.sheets) for p in third.pieces) == sorted(
        (p.piece_id, p.pages, p.sheets) for p in index.pieces)
    assert third.pages == 2 * sum(p.sheets for p in by_id.values())
    assert all(page % 2 == 1 for page in _front_pages(third))


def test_the_printer_simulator_and_the_fleet_count_the_same_impressions_for_a_padded_job(tmp_path):
    from controller.fleet_plan import impressions_of
    from simulators.printer_documents import read_pdf

    index = pdf.READER.index(_duplex_source(tmp_path), job_id="J1")
    plan = shuffled_plan(index, seed=5, jobs=1)
    (out,) = pdf.WRITER.write(index, plan, tmp_path / "out")
    pages = read_pdf(out.read_bytes())
    # the simulator prints two pages a sheet when duplex: a sheet's code is the first one on it
    sheets = [next((c for c in pages[k:k + 2] if c), None) for k in range(0, len(pages), 2)]
    assert sheets == [plan.stamps[(pid, s)].control_code for pid in plan.jobs[0].piece_ids
                      for s in range(1, next(p for p in index.pieces if p.piece_id == pid).sheets + 1)]
    assert len(pages) == sum(impressions_of(p) for p in index.pieces)


def test_a_pad_page_where_no_piece_needs_one_is_an_error_naming_the_piece(tmp_path):
    import pikepdf

    index = pdf.READER.index(_duplex_source(tmp_path), job_id="J1")
    (out,) = pdf.WRITER.write(index, shuffled_plan(index, seed=3, jobs=1, stamps=False), tmp_path / "out")
    again = pdf.READER.index(out, job_id="J1")
    even = next(p for p in again.pieces if p.pages % 2 == 0)
    bad = tmp_path / "bad.pdf"
    with pikepdf.open(out) as doc:
        pad = next(p.obj for p in doc.pages if "/PieceInfo" in p.obj)
        doc.pages[even.first_page].obj.PieceInfo = pad.PieceInfo  # a page of an even piece marked as a pad
        doc.save(bad)
    with pytest.raises(StreamError, match="pad page") as err:
        pdf.READER.index(bad, job_id="J1")
    assert err.value.piece_id == even.piece_id and err.value.page == even.first_page + 1
    lenient = pdf.READER.index(bad, job_id="J1", lenient=True)
    assert [q.piece_id for q in lenient.quarantined] == [even.piece_id]


def test_a_duplex_split_into_one_job_per_piece_pads_each_print_job_once(tmp_path):
    index = pdf.READER.index(_duplex_source(tmp_path), job_id="J1")
    plan = shuffled_plan(index, seed=13, jobs=len(index.pieces))
    files = pdf.WRITER.write(index, plan, tmp_path / "out")
    by_id = {p.piece_id: p for p in index.pieces}
    for job, f in zip(plan.jobs, files):
        (piece,) = pdf.READER.index(f, job_id="J1").pieces
        assert (piece.piece_id, piece.pages, piece.sheets) == (job.piece_ids[0], by_id[job.piece_ids[0]].pages,
                                                               by_id[job.piece_ids[0]].sheets)
        assert len(pdf.read_page_twins(f)) == 2 * piece.sheets


def test_a_padded_job_missing_one_pad_is_an_error_naming_the_piece(tmp_path):
    import pikepdf

    index = pdf.READER.index(_duplex_source(tmp_path), job_id="J1")
    (out,) = pdf.WRITER.write(index, shuffled_plan(index, seed=6, jobs=1, stamps=False), tmp_path / "out")
    again = pdf.READER.index(out, job_id="J1")
    odd = next(p for p in again.pieces[:-1] if p.pages % 2)
    bad = tmp_path / "bad.pdf"
    with pikepdf.open(out) as doc:
        del doc.pages[odd.first_page + odd.pages]  # its pad
        doc.save(bad)
    with pytest.raises(StreamError, match="no pad page") as err:
        pdf.READER.index(bad, job_id="J1")
    assert err.value.piece_id == odd.piece_id and err.value.page == odd.first_page + 1
