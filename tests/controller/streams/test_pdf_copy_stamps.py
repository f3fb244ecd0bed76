"""Stamps through the copying writer on pages of unusual shape, against the pikepdf writer: contents as an
array, an indirect array or none at all, content that leaves its graphics state changed, a MediaBox that is
indirect, offset, A4 or only the page tree root's, a page the writer must parse; and a job stamped again."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest

from controller.streams import pdf
from controller.streams.base import EngineeringPlan, PrintJobPlan
from tests.controller.streams.streamkit import STREAMS, render_pdf, shuffled_plan
from tests.controller.streams.test_pdf_copy import _same_as_pikepdf

PDF_DIR = STREAMS / "pdf"
A4 = [0, 0, 595, 842]


def _odd_shapes(dst: Path) -> None:
    with pikepdf.open(PDF_DIR / "outline.pdf") as doc:
        pages = [p.obj for p in doc.pages]
        pages[0].Contents = pikepdf.Array([pages[0].Contents])
        pages[1].Contents = doc.make_indirect(pikepdf.Array([
            pages[1].Contents, doc.make_stream(b"0 0 1 rg 100 100 50 50 re f\n")]))
        del pages[2]["/Contents"]
        pages[3].MediaBox = doc.make_indirect(pikepdf.Array([10, 20, 622, 812]))
        pages[4].MediaBox = pikepdf.Array([0, 0, 595.28, 841.89])
        pages[4].Note = pikepdf.String("not 1 0 R (a string: the page is parsed)")
        # content leaving a scaled, grey graphics state behind: the stamp must not move or change colour
        pages[5].Contents = pikepdf.Array([pages[5].Contents, doc.make_stream(b"q 2 0 0 2 0 0 cm 0.5 g\n")])
        doc.Root.Pages.MediaBox = pikepdf.Array(A4)  # the rest inherit theirs from the root
        for page in pages[6:]:
            del page["/MediaBox"]
        doc.save(dst)


def _in_order(index, stamps) -> EngineeringPlan:
    return EngineeringPlan(jobs=(PrintJobPlan("job-001", tuple(p.piece_id for p in index.pieces)),), stamps=stamps)


@pytest.mark.peer
@pytest.mark.parametrize("keep_layout", [False, True], ids=["walked", "layout"])
def test_pages_of_unusual_shape_are_stamped_as_the_pikepdf_writer_stamps_them(keep_layout, tmp_path):
    src = tmp_path / "odd.pdf"
    _odd_shapes(src)
    index = pdf.READER.index(src, job_id="J1", keep_layout=keep_layout)
    plan = _in_order(index, shuffled_plan(index, seed=1, jobs=1).stamps)
    (out,) = _same_as_pikepdf(index, plan, tmp_path, render=8)
    with pikepdf.open(out) as doc:
        for page in doc.pages[:8]:
            contents = page.obj.Contents
            assert isinstance(contents, pikepdf.Array) and contents[0].read_bytes() == b"q\n"
            assert contents[-1].read_bytes().startswith(b"Q q 0 g ")
        assert len(doc.pages[2].obj.Contents) == 2  # no content of its own: the q stream and the stamp
        assert len(doc.pages[1].obj.Contents) == 4  # the indirect array's two streams between them


@pytest.mark.peer
def test_the_datamatrix_sits_in_the_top_right_corner_of_each_pages_own_box(tmp_path):
    import zxingcpp

    src = tmp_path / "odd.pdf"
    _odd_shapes(src)
    index = pdf.READER.index(src, job_id="J1")
    plan = _in_order(index, shuffled_plan(index, seed=1, jobs=1).stamps)
    (out,) = pdf.WRITER.write(index, plan, tmp_path / "out")
    twins = pdf.read_page_twins(out)
    dpi = 150
    for page, box in ((4, [10, 20, 622, 812]), (5, [0, 0, 595.28, 841.89]), (6, [0, 0, 612, 792]), (7, A4),
                      (index.pages, A4)):
        image = render_pdf(out, page, dpi, tmp_path)
        height, width = (box[3] - box[1]) * dpi / 72, (box[2] - box[0]) * dpi / 72
        assert abs(image.shape[0] - height) <= 1 and abs(image.shape[1] - width) <= 1  # rendered in that box
        corner = image[:image.shape[0] // 8, image.shape[1] * 3 // 4:]
        reads = [r.text for r in zxingcpp.read_barcodes(corner, formats=zxingcpp.BarcodeFormat.DataMatrix)]
        assert reads == [twins[page - 1]["ControlCode"]]


@pytest.mark.peer
def test_a_stamped_job_stamped_again_gets_only_the_new_twins(tmp_path):
    index = pdf.READER.index(PDF_DIR / "dpart.pdf", job_id="J1")
    (first,) = pdf.WRITER.write(index, shuffled_plan(index, seed=2, jobs=1), tmp_path / "first")
    again = pdf.READER.index(first, job_id="J2")
    ids = [p.piece_id for p in again.pieces]
    # new stamps for every other piece: the rest lose the twins of the codes the new stamps cover up
    fresh = shuffled_plan(again, seed=3, jobs=1)
    stamps = {k: v for k, v in fresh.stamps.items() if ids.index(k[0]) % 2 == 0}
    plan = EngineeringPlan(jobs=fresh.jobs, stamps=stamps)
    (out,) = _same_as_pikepdf(again, plan, tmp_path / "again", render=3)
    by_id = {p.piece_id: p for p in again.pieces}
    want = []
    for pid in plan.jobs[0].piece_ids:
        want += [stamps[(pid, s)].control_code if (pid, s) in stamps else None for s in range(1, by_id[pid].sheets + 1)]
    assert [t and t["ControlCode"] for t in pdf.read_page_twins(out)] == want
