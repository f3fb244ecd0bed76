"""PDF streams: index by DParts, outline or page labels; reorder, split, stamp and re-index."""

from __future__ import annotations

import pikepdf
import pytest

from controller.errors import StreamError
from controller.streams import pdf
from controller.streams.base import EngineeringPlan, PrintJobPlan, StreamFormat
from tests.controller.streams.streamkit import (
    SAMPLE, STREAMS, expected_after, pieces_view, read_imb_bars, render_pdf, sample_sidecar, shuffled_plan,
)

PDF_DIR = STREAMS / "pdf"
WITH_METADATA = ["outline.pdf", "dpart.pdf", "gs_pdfwrite.pdf"]


def expected_sample() -> list[tuple]:
    from controller.model import Plex

    return [(p.piece_id, p.pages, p.pages, Plex.SIMPLEX, p.recipient, p.postal_code) for p in SAMPLE]


@pytest.mark.parametrize("name", WITH_METADATA)
def test_index_gives_the_composed_pieces_with_recipients(name):
    index = pdf.READER.index(PDF_DIR / name, job_id="J1")
    assert index.format is StreamFormat.PDF
    assert pieces_view(index) == expected_sample()
    assert index.pages == sum(p.pages for p in SAMPLE)
    firsts = [p.first_page for p in index.pieces]
    assert firsts == [sum(q.pages for q in SAMPLE[:k]) for k in range(len(SAMPLE))]


def test_page_labels_give_boundaries_and_a_sidecar_gives_recipients():
    index = pdf.READER.index(PDF_DIR / "labels.pdf", job_id="J1", sidecar=sample_sidecar())
    assert pieces_view(index) == expected_sample()


def test_a_piece_without_postal_code_fails_the_import_naming_it():
    with pytest.raises(StreamError) as err:
        pdf.READER.index(PDF_DIR / "labels.pdf", job_id="J1")
    assert err.value.piece_id == "P00001" and err.value.page == 1
    assert "postal code" in str(err.value)


def test_lenient_import_quarantines_each_bad_piece_with_its_reason():
    index = pdf.READER.index(PDF_DIR / "labels.pdf", job_id="J1", lenient=True)
    assert index.pieces == ()
    assert [q.piece_id for q in index.quarantined] == [p.piece_id for p in SAMPLE]
    assert all("postal code" in q.reason for q in index.quarantined)


def test_sidecar_that_disagrees_with_the_stream_is_an_error():
    entries = sample_sidecar()
    entries[3] = type(entries[3])(entries[3].piece_id, entries[3].first_page + 1, entries[3].pages,
                                  entries[3].recipient, entries[3].postal_code)
    with pytest.raises(StreamError) as err:
        pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1", sidecar=entries)
    assert err.value.piece_id == SAMPLE[3].piece_id


def test_duplex_viewer_preference_halves_the_sheets(tmp_path):
    src = tmp_path / "duplex.pdf"
    with pikepdf.open(PDF_DIR / "outline.pdf") as doc:
        doc.Root.ViewerPreferences = pikepdf.Dictionary(Duplex=pikepdf.Name.DuplexFlipLongEdge)
        doc.save(src)
    index = pdf.READER.index(src, job_id="J1")
    assert [p.sheets for p in index.pieces] == [(p.pages + 1) // 2 for p in SAMPLE]


def test_custom_title_pattern_reads_another_tools_titles(tmp_path):
    src = tmp_path / "titles.pdf"
    with pikepdf.open(PDF_DIR / "outline.pdf") as doc:
        with doc.open_outline() as outline:
            for item, p in zip(outline.root, SAMPLE):
                item.title = f"Account {p.piece_id} zip={p.postal_code}"
        doc.save(src)
    reader = pdf.PdfReader(pdf.PdfReadOptions(title_pattern=r"Account (?P<piece>\S+) zip=(?P<postal>\d+)"))
    index = reader.index(src, job_id="J1")
    assert [(p.piece_id, p.postal_code) for p in index.pieces] == [(p.piece_id, p.postal_code) for p in SAMPLE]


@pytest.mark.parametrize("name", WITH_METADATA)
def test_reorder_split_stamp_and_reindex_gives_the_same_pieces_in_the_new_order(name, tmp_path):
    index = pdf.READER.index(PDF_DIR / name, job_id="J1")
    plan = shuffled_plan(index, seed=7, jobs=3)
    files = pdf.WRITER.write(index, plan, tmp_path)
    assert [f.name for f in files] == [f"{j.name}.pdf" for j in plan.jobs]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in files)
    for job, f in zip(plan.jobs, files):
        again = pdf.READER.index(f, job_id="J1")
        assert pieces_view(again) == expected_after(index, job.piece_ids)
        # each split file holds its own pages only, not the whole source behind an unreachable tree
        with pikepdf.open(f) as out:
            assert len(out.pages) == sum(p.pages for p in again.pieces)
        twins = pdf.read_page_twins(f)
        codes = [t["ControlCode"] for t in twins if t and "ControlCode" in t]
        want = [plan.stamps[(pid, s)].control_code for pid in job.piece_ids
                for s in range(1, again.pieces[job.piece_ids.index(pid)].sheets + 1)]
        assert codes == want


def test_page_label_stream_keeps_its_labels_through_the_writer(tmp_path):
    index = pdf.READER.index(PDF_DIR / "labels.pdf", job_id="J1", sidecar=sample_sidecar())
    plan = shuffled_plan(index, seed=3, jobs=1, stamps=False)
    (out,) = pdf.WRITER.write(index, plan, tmp_path)
    with pikepdf.open(out) as doc:
        del doc.Root["/DPartRoot"]
        del doc.Root["/Outlines"]
        doc.save(tmp_path / "labels-only.pdf")
    again = pdf.READER.index(tmp_path / "labels-only.pdf", job_id="J1", sidecar=[
        e for e in _reordered_sidecar(plan.jobs[0].piece_ids)])
    assert [p.piece_id for p in again.pieces] == list(plan.jobs[0].piece_ids)


def _reordered_sidecar(order):
    by_id = {e.piece_id: e for e in sample_sidecar()}
    page, out = 0, []
    for pid in order:
        e = by_id[pid]
        out.append(type(e)(pid, page, e.pages, e.recipient, e.postal_code))
        page += e.pages
    return out


def test_a_plan_naming_an_unknown_piece_writes_nothing(tmp_path):
    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    ids = tuple(p.piece_id for p in index.pieces)
    plan = EngineeringPlan(jobs=(PrintJobPlan("a", ids[:3]), PrintJobPlan("b", ids[3:] + ("NOPE",))))
    with pytest.raises(StreamError, match="NOPE"):
        pdf.WRITER.write(index, plan, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.peer
def test_stamped_page_renders_with_a_readable_datamatrix_and_imb(tmp_path):
    import zxingcpp

    from drivers.controlcode import decode

    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    plan = shuffled_plan(index, seed=11, jobs=1)
    (out,) = pdf.WRITER.write(index, plan, tmp_path)
    order = plan.jobs[0].piece_ids
    by_id = {p.piece_id: p for p in index.pieces}
    page = 1
    checked = 0
    for pid in order[:3]:
        image = render_pdf(out, page, 300, tmp_path)
        stamp = plan.stamps[(pid, 1)]
        reads = [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.DataMatrix)]
        assert reads == [stamp.control_code]
        assert decode(reads[0]).sheet == 1
        assert read_imb_bars(image, pdf.WRITER.layout.imb_left, pdf.WRITER.layout.imb_top, 300) == stamp.imb_bars
        page += by_id[pid].pages
        checked += 1
    assert checked == 3


@pytest.mark.peer
def test_second_sheet_carries_its_own_code_and_no_imb(tmp_path):
    import zxingcpp

    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    plan = shuffled_plan(index, seed=5, jobs=1)
    (out,) = pdf.WRITER.write(index, plan, tmp_path)
    order = plan.jobs[0].piece_ids
    by_id = {p.piece_id: p for p in index.pieces}
    page = 1
    for pid in order:
        if by_id[pid].pages >= 2:
            break
        page += by_id[pid].pages
    image = render_pdf(out, page + 1, 200, tmp_path)
    reads = [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.DataMatrix)]
    assert reads == [plan.stamps[(pid, 2)].control_code]
    scale = 200 / 72
    lay = pdf.WRITER.layout
    band = image[int(lay.imb_top * scale):int((lay.imb_top + pdf.IMB_GEOMETRY["full"]) * scale),
                 int(lay.imb_left * scale):int((lay.imb_left + 65 * pdf.IMB_GEOMETRY["pitch"]) * scale)]
    assert (band < 128).sum() == 0


def test_sniff_knows_pdf_from_other_streams():
    assert pdf.READER.sniff((PDF_DIR / "outline.pdf").read_bytes()[:64])
    assert not pdf.READER.sniff((STREAMS / "ps" / "statements.ps").read_bytes()[:64])


def test_a_split_into_one_job_per_piece_keeps_every_piece_and_its_codes(tmp_path):
    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    plan = shuffled_plan(index, seed=21, jobs=len(index.pieces))
    files = pdf.WRITER.write(index, plan, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in files)  # nothing else left behind
    for job, f in zip(plan.jobs, files):
        again = pdf.READER.index(f, job_id="J1")
        assert pieces_view(again) == expected_after(index, job.piece_ids)
        assert [t["ControlCode"] for t in pdf.read_page_twins(f) if t] == [
            plan.stamps[(job.piece_ids[0], s)].control_code for s in range(1, again.pieces[0].sheets + 1)]


def test_pages_under_a_nested_tree_keep_what_they_inherited(tmp_path):
    src = tmp_path / "nested.pdf"
    with pikepdf.open(PDF_DIR / "outline.pdf") as doc:
        root = doc.Root.Pages
        pages = [p.obj for p in doc.pages]
        halves = [pages[:10], pages[10:]]
        nodes = []
        for half in halves:
            node = doc.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Pages, Parent=root, Count=len(half),
                                                        Kids=pikepdf.Array(half),
                                                        MediaBox=pikepdf.Array([0, 0, 612, 792]),
                                                        Resources=half[0].Resources))
            for page in half:
                page.Parent = node
                del page["/MediaBox"]
                del page["/Resources"]
            nodes.append(node)
        root.Kids = pikepdf.Array(nodes)
        doc.save(src)
    index = pdf.READER.index(src, job_id="J1")
    assert pieces_view(index) == expected_sample()
    plan = shuffled_plan(index, seed=8, jobs=2)
    for f in pdf.WRITER.write(index, plan, tmp_path / "out"):
        with pikepdf.open(f) as out:
            for page in out.pages:
                assert page.obj.Parent == out.Root.Pages
                assert list(page.obj.MediaBox) == [0, 0, 612, 792]
                assert "/Font" in page.obj.Resources


@pytest.mark.peer
def test_qpdf_finds_no_fault_in_written_print_jobs(tmp_path):
    import shutil
    import subprocess

    exe = shutil.which("qpdf")
    if exe is None:
        pytest.skip("qpdf is not installed")
    index = pdf.READER.index(PDF_DIR / "dpart.pdf", job_id="J1")
    for f in pdf.WRITER.write(index, shuffled_plan(index, seed=17, jobs=2), tmp_path):
        check = subprocess.run([exe, "--check", str(f)], capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "No syntax or stream encoding errors" in check.stdout
        assert subprocess.run([exe, "--show-npages", str(f)], capture_output=True, text=True,
                              timeout=60).stdout.strip() == str(pdf.READER.index(f, job_id="J1").pages)


def test_twins_of_a_file_that_cannot_be_read_are_a_stream_error(tmp_path):
    with pytest.raises(StreamError, match="cannot read") as err:
        pdf.read_page_twins(tmp_path / "gone.pdf")
    assert err.value.path == str(tmp_path / "gone.pdf")
