"""The byte-for-byte PDF writer (controller.streams.pdf_copy) against the pikepdf writer: the same pieces,
pages, sheets, recipients, pads, stamps, twins and rendered pages; files qpdf finds no fault in; a split
that copies only each job's own objects."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pytest

from controller.errors import StreamError
from controller.streams import pdf
from controller.streams.base import EngineeringPlan, PrintJobPlan
from tests.controller.streams.streamkit import ROOT, STREAMS, expected_after, generator, pieces_view, render_pdf, \
    sample_sidecar, shuffled_plan

PDF_DIR = STREAMS / "pdf"
SOURCES = ["outline.pdf", "dpart.pdf", "gs_pdfwrite.pdf"]


def _qpdf() -> str:
    exe = shutil.which("qpdf")
    if exe is None:
        pytest.skip("qpdf is not installed")
    return exe


def _write(index, plan, out: Path, *, copy: bool) -> list[Path]:
    writer = pdf.PdfWriter()
    writer.copy_objects = copy
    return writer.write(index, plan, out)


def _assert_qpdf_clean(path: Path) -> None:
    check = subprocess.run([_qpdf(), "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors" in check.stdout
    assert "WARNING" not in check.stdout + check.stderr, check.stdout + check.stderr


def _same_as_pikepdf(index, plan, tmp_path: Path, *, render: int = 0) -> list[Path]:
    """Write the plan both ways; every job must re-index to the plan's pieces both ways, the copied file
    must pass qpdf's check, and its first `render` pages must render as the pikepdf file's do."""
    ours = _write(index, plan, tmp_path / "copy", copy=True)
    theirs = _write(index, plan, tmp_path / "pikepdf", copy=False)
    assert [f.name for f in ours] == [f.name for f in theirs]
    for job, a, b in zip(plan.jobs, ours, theirs):
        again, peer = pdf.READER.index(a, job_id="J1"), pdf.READER.index(b, job_id="J1")
        assert pieces_view(again) == pieces_view(peer) == expected_after(index, job.piece_ids)
        assert again.pages == peer.pages and again.sheets == peer.sheets
        assert pdf.read_page_twins(a) == pdf.read_page_twins(b)
        _assert_qpdf_clean(a)
        for page in range(1, min(render, again.pages) + 1):
            (tmp_path / "ra").mkdir(exist_ok=True)
            (tmp_path / "rb").mkdir(exist_ok=True)
            assert np.array_equal(render_pdf(a, page, 50, tmp_path / "ra"), render_pdf(b, page, 50, tmp_path / "rb"))
    return ours


def test_the_copying_writer_is_the_one_used_without_stamps(tmp_path):
    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    (out,) = pdf.WRITER.write(index, shuffled_plan(index, seed=1, jobs=1, stamps=False), tmp_path)
    # the copying writer numbers the new page tree 1 and the catalog 2; qpdf (pikepdf) keeps neither there
    with pikepdf.open(out) as doc:
        assert doc.Root.objgen == (2, 0) and doc.Root.Pages.objgen == (1, 0)


@pytest.mark.peer
@pytest.mark.parametrize("keep_layout", [False, True], ids=["walked", "layout"])
@pytest.mark.parametrize("name", SOURCES)
def test_reorder_and_split_give_the_pikepdf_writers_pieces_and_pages(name, keep_layout, tmp_path):
    # with the layout the index kept, the writer reads no page and no content stream's dictionary again
    index = pdf.READER.index(PDF_DIR / name, job_id="J1", keep_layout=keep_layout)
    assert (index.layout is not None) == keep_layout
    for jobs in (1, 3):
        _same_as_pikepdf(index, shuffled_plan(index, seed=11 + jobs, jobs=jobs, stamps=False), tmp_path / str(jobs),
                         render=3 if jobs == 1 else 0)


@pytest.mark.peer
def test_a_page_label_source_keeps_its_labels(tmp_path):
    index = pdf.READER.index(PDF_DIR / "labels.pdf", job_id="J1", sidecar=sample_sidecar())
    plan = shuffled_plan(index, seed=6, jobs=2, stamps=False)
    for job, f in zip(plan.jobs, _same_as_pikepdf(index, plan, tmp_path)):
        with pikepdf.open(f) as doc:
            nums = list(doc.Root.PageLabels.Nums)
        starts = [int(x) for x in nums[0::2]]
        prefixes = [str(x.P) for x in nums[1::2]]
        by_id = {p.piece_id: p for p in index.pieces}
        assert prefixes == [by_id[pid].index.get("label") or f"{pid}-" for pid in job.piece_ids]
        assert starts == [sum(by_id[q].pages for q in job.piece_ids[:k]) for k in range(len(job.piece_ids))]


def test_the_copying_writer_is_the_one_used_with_stamps(tmp_path):
    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    plan = shuffled_plan(index, seed=3, jobs=1)
    (out,) = pdf.WRITER.write(index, plan, tmp_path)
    with pikepdf.open(out) as doc:
        assert doc.Root.objgen == (2, 0) and doc.Root.Pages.objgen == (1, 0)
    assert [t["ControlCode"] for t in pdf.read_page_twins(out) if t] == [
        plan.stamps[(pid, s)].control_code for pid in plan.jobs[0].piece_ids
        for s in range(1, next(p for p in index.pieces if p.piece_id == pid).sheets + 1)]


def test_a_stamped_split_does_not_import_pikepdf(tmp_path):
    code = ("import sys; from pathlib import Path; from controller.streams import pdf; "
            "from tests.controller.streams.streamkit import shuffled_plan; "
            "index = pdf.READER.index(Path(sys.argv[1]), job_id='J1'); "
            "files = pdf.WRITER.write(index, shuffled_plan(index, seed=3, jobs=2), Path(sys.argv[2])); "
            "print(len(files), 'pikepdf' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code, str(PDF_DIR / "dpart.pdf"), str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["2", "False"]


@pytest.mark.peer
@pytest.mark.parametrize("keep_layout", [False, True], ids=["walked", "layout"])
@pytest.mark.parametrize("name", SOURCES)
def test_stamped_reorder_and_split_give_the_pikepdf_writers_pages_twins_and_drawing(name, keep_layout, tmp_path):
    index = pdf.READER.index(PDF_DIR / name, job_id="J1", keep_layout=keep_layout)
    for jobs in (1, 3):
        _same_as_pikepdf(index, shuffled_plan(index, seed=21 + jobs, jobs=jobs), tmp_path / str(jobs),
                         render=4 if jobs == 1 else 0)


def _nested(src: Path, dst: Path) -> None:
    """The source's pages under two intermediate nodes, which hold /MediaBox, /Resources and /Rotate 0 for
    them (the pages lose their own), the root holding a /CropBox for all."""
    with pikepdf.open(src) as doc:
        root = doc.Root.Pages
        pages = [p.obj for p in doc.pages]
        half = len(pages) // 2
        nodes = []
        for part in (pages[:half], pages[half:]):
            node = doc.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Pages, Parent=root, Count=len(part),
                                                        Kids=pikepdf.Array(part), MediaBox=pikepdf.Array([0, 0, 612, 792]),
                                                        Resources=part[0].Resources, Rotate=0))
            for page in part:
                page.Parent = node
                for key in ("/MediaBox", "/Resources", "/Rotate", "/CropBox"):
                    if key in page:
                        del page[key]
            nodes.append(node)
        root.Kids = pikepdf.Array(nodes)
        root.CropBox = pikepdf.Array([0, 0, 612, 792])
        doc.save(dst)


@pytest.mark.peer
@pytest.mark.parametrize("stamps", [False, True], ids=["unstamped", "stamped"])
def test_pages_under_a_nested_tree_get_what_they_inherited(stamps, tmp_path):
    src = tmp_path / "nested.pdf"
    _nested(PDF_DIR / "outline.pdf", src)
    index = pdf.READER.index(src, job_id="J1")
    files = _same_as_pikepdf(index, shuffled_plan(index, seed=8, jobs=2, stamps=stamps), tmp_path, render=2)
    for f in files:
        with pikepdf.open(f) as out:
            assert "/MediaBox" not in out.Root.Pages and "/Resources" not in out.Root.Pages
            for page in out.pages:
                assert page.obj.Parent == out.Root.Pages
                assert list(page.obj.MediaBox) == [0, 0, 612, 792] and list(page.obj.CropBox) == [0, 0, 612, 792]
                assert "/Font" in page.obj.Resources and page.obj.Rotate == 0


def _gs_render(path: Path, page: int, out: Path) -> bytes:
    exe = shutil.which("gs")
    if exe is None:
        pytest.skip("Ghostscript is not installed")
    subprocess.run([exe, "-q", "-dBATCH", "-dNOPAUSE", "-dSAFER", "-sDEVICE=pgmraw", "-r50", f"-dFirstPage={page}",
                    f"-dLastPage={page}", f"-sOutputFile={out}", str(path)], check=True, timeout=120)
    return out.read_bytes()


@pytest.mark.peer
@pytest.mark.parametrize("stamps", [False, True], ids=["unstamped", "stamped"])
def test_ghostscript_renders_the_copied_pages_as_the_pikepdf_writers(stamps, tmp_path):
    src = tmp_path / "nested.pdf"
    _nested(PDF_DIR / "gs_pdfwrite.pdf", src)
    index = pdf.READER.index(src, job_id="J1")
    plan = shuffled_plan(index, seed=12, jobs=1, stamps=stamps)
    (ours,) = _write(index, plan, tmp_path / "copy", copy=True)
    (theirs,) = _write(index, plan, tmp_path / "pikepdf", copy=False)
    for page in (1, 2, index.pages):
        a = _gs_render(ours, page, tmp_path / f"a{page}.pgm")
        assert a == _gs_render(theirs, page, tmp_path / f"b{page}.pgm")
        assert min(a[64:]) < 128  # not a blank page (past the PGM header)


@pytest.mark.peer
@pytest.mark.parametrize("keep_layout", [False, True], ids=["walked", "layout"])
@pytest.mark.parametrize("qpdf_args", [["--object-streams=generate"], ["--linearize"],
                                       ["--object-streams=generate", "--linearize"]])
def test_a_source_qpdf_rewrote_gives_the_same_jobs(qpdf_args, keep_layout, tmp_path):
    src = tmp_path / "src.pdf"
    subprocess.run([_qpdf(), *qpdf_args, str(PDF_DIR / "dpart.pdf"), str(src)], check=True, timeout=60)
    index = pdf.READER.index(src, job_id="J1", keep_layout=keep_layout)
    assert pieces_view(index) == pieces_view(pdf.READER.index(PDF_DIR / "dpart.pdf", job_id="J1"))
    _same_as_pikepdf(index, shuffled_plan(index, seed=4, jobs=2, stamps=False), tmp_path, render=2)


@pytest.mark.peer
def test_a_layout_kept_from_a_file_since_rewritten_is_not_used(tmp_path):
    """The index kept the page table of one file; the file was then replaced by qpdf with the same pages at
    other object numbers and offsets: the writer must read the file as it is now."""
    src = tmp_path / "src.pdf"
    shutil.copyfile(PDF_DIR / "gs_pdfwrite.pdf", src)
    index = pdf.READER.index(src, job_id="J1", keep_layout=True)
    assert index.layout is not None and index.layout.streams  # the content streams it checked, kept
    rewritten = tmp_path / "rewritten.pdf"
    subprocess.run([_qpdf(), "--object-streams=generate", "--linearize", str(src), str(rewritten)], check=True,
                   timeout=60)
    rewritten.replace(src)
    assert pieces_view(pdf.READER.index(src, job_id="J1")) == pieces_view(index)
    _same_as_pikepdf(index, shuffled_plan(index, seed=8, jobs=2, stamps=False), tmp_path, render=3)


@pytest.mark.peer
@pytest.mark.parametrize("stamps", [False, True], ids=["unstamped", "stamped"])
def test_a_nested_tree_in_object_streams_gives_the_same_jobs(stamps, tmp_path):
    nested, src = tmp_path / "nested.pdf", tmp_path / "src.pdf"
    _nested(PDF_DIR / "gs_pdfwrite.pdf", nested)
    subprocess.run([_qpdf(), "--object-streams=generate", str(nested), str(src)], check=True, timeout=60)
    index = pdf.READER.index(src, job_id="J1")
    _same_as_pikepdf(index, shuffled_plan(index, seed=9, jobs=3, stamps=stamps), tmp_path, render=1)


def _duplex(src: Path, dst: Path) -> None:
    with pikepdf.open(src) as doc:
        doc.Root.ViewerPreferences = pikepdf.Dictionary(Duplex=pikepdf.Name.DuplexFlipLongEdge)
        doc.save(dst)


@pytest.mark.peer
@pytest.mark.parametrize("stamps", [False, True], ids=["unstamped", "stamped"])
@pytest.mark.parametrize("name", ["outline.pdf", "dpart.pdf"])
def test_odd_duplex_pieces_get_the_same_pads_as_the_pikepdf_writer(name, stamps, tmp_path):
    src = tmp_path / "duplex.pdf"
    _duplex(PDF_DIR / name, src)
    index = pdf.READER.index(src, job_id="J1")
    odd = {p.piece_id for p in index.pieces if p.pages % 2}
    assert odd
    files = _same_as_pikepdf(index, shuffled_plan(index, seed=10, jobs=2, stamps=stamps), tmp_path,
                             render=5 if stamps else 0)
    for f in files:
        again = pdf.READER.index(f, job_id="J1")
        twins = pdf.read_page_twins(f)
        pads = [k for k, t in enumerate(twins) if t and t.get("Pad") == "true"]
        assert len(pads) == sum(1 for p in again.pieces if p.piece_id in odd)
        assert again.pages == 2 * again.sheets
        # every piece starts on a front side, and only fronts carry a code
        assert [bool(t and "ControlCode" in t) for t in twins] == [stamps and k % 2 == 0 for k in range(len(twins))]
        # a padded job read again and reordered once more keeps its pieces and pads
        (second,) = _write(again, shuffled_plan(again, seed=2, jobs=1, stamps=False), tmp_path / f"again-{f.stem}",
                           copy=True)
        third = pdf.READER.index(second, job_id="J1")
        assert sorted(pieces_view(third)) == sorted(pieces_view(again)) and third.pages == again.pages
        _assert_qpdf_clean(second)


@pytest.mark.peer
def test_a_split_copies_only_each_jobs_own_objects(tmp_path):
    src = tmp_path / "run.pdf"
    generator.make_reportlab_pdf(src, generator.sample_pieces(40))
    # a link on the first page to the last one: in a job without the last page it must not drag it along
    with pikepdf.open(src, allow_overwriting_input=True) as doc:
        first, last = doc.pages[0].obj, doc.pages[-1].obj
        first.Annots = doc.make_indirect(pikepdf.Array([doc.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10], Border=[0, 0, 0],
            Dest=pikepdf.Array([last, pikepdf.Name.Fit]), P=first))]))
        doc.save(src)
    index = pdf.READER.index(src, job_id="J1")
    plan = EngineeringPlan(jobs=tuple(PrintJobPlan(f"p{k:03d}", (p.piece_id,)) for k, p in enumerate(index.pieces)))
    files = _same_as_pikepdf(index, plan, tmp_path)
    size = src.stat().st_size
    for piece, f in zip(index.pieces, files):
        assert f.stat().st_size < size / 10
        with pikepdf.open(f) as doc:
            assert len(doc.pages) == piece.pages
            objects = sum(1 for _ in doc.objects)
            assert objects < 40  # its pages, their content, fonts, outline, DParts: not the source's ~200
    with pikepdf.open(files[0]) as doc:  # the first piece's job: the link's target is in the last one
        annot = doc.pages[0].obj.Annots[0]
        assert annot.P == doc.pages[0].obj
        assert annot.Dest[0] is None  # the page it pointed at is in another job


def test_a_reference_written_inside_a_string_is_not_renumbered(tmp_path):
    src = tmp_path / "src.pdf"
    with pikepdf.open(PDF_DIR / "outline.pdf") as doc:
        doc.docinfo["/Title"] = pikepdf.String("see 3 0 R (and 5 0 R) \\ here")
        doc.docinfo["/Keywords"] = pikepdf.Array([pikepdf.String("7 0 R")])
        doc.save(src)
    index = pdf.READER.index(src, job_id="J1")
    (out,) = _write(index, shuffled_plan(index, seed=5, jobs=1, stamps=False), tmp_path / "out", copy=True)
    with pikepdf.open(out) as doc:
        assert str(doc.docinfo.Title) == "see 3 0 R (and 5 0 R) \\ here"
        assert [str(x) for x in doc.docinfo.Keywords] == ["7 0 R"]


def test_a_damaged_object_a_page_needs_is_an_error_naming_the_file_and_page(tmp_path):
    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    data = bytearray((PDF_DIR / "outline.pdf").read_bytes())
    with pikepdf.open(PDF_DIR / "outline.pdf") as doc:
        font = next(iter(doc.pages[0].Resources.Font.values())).objgen[0]
    at = data.index(b"\n%d 0 obj" % font) + 1
    data[at:at + len(str(font))] = b"9" * len(str(font))  # the font object's header now names another object
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(data))
    index = pdf.READER.index(bad, job_id="J1")  # the index never reads fonts
    ids = [p.piece_id for p in index.pieces]
    plan = EngineeringPlan(jobs=(PrintJobPlan("one", (ids[1], ids[0])), PrintJobPlan("two", tuple(ids[2:]))))
    with pytest.raises(StreamError, match="damaged PDF") as err:
        pdf.WRITER.write(index, plan, tmp_path / "out")
    assert err.value.path == str(bad)
    assert err.value.page == index.pieces[1].first_page + 1  # the first page written that needs the font
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("name", SOURCES)
def test_every_objects_copied_bytes_parse_to_what_the_reader_reads(name, tmp_path):
    from controller.streams.pdf_objects import PdfObjects, Ref, Stream, parse_value

    variants = [PDF_DIR / name]
    if shutil.which("qpdf"):
        variants.append(tmp_path / "objstm.pdf")
        subprocess.run(["qpdf", "--object-streams=generate", str(PDF_DIR / name), str(variants[-1])], check=True,
                       timeout=60)
    for path in variants:
        with PdfObjects(path) as doc:
            streams = 0
            for num in range(1, doc.objects):
                got = doc.source_of(Ref(num, 0))
                value = doc.resolve(Ref(num, 0))
                if got is None:
                    assert value is None
                    continue
                text, data = got
                parsed = parse_value(text + b" ", 0, 0)[0]
                if isinstance(value, Stream):
                    streams += 1
                    assert parsed == value.dict
                    assert data == doc.read(value.data_offset, value.length)
                else:
                    assert data is None and parsed == value
            assert streams


def test_page_references_between_pages_survive_the_page_shapes_only_within_a_job(tmp_path):
    # pages of one shape are renumbered through a token table (pdf_copy._Source.shape_of); a page that refers
    # to another page must still get that page's new number, or null when the page is in another job
    src = tmp_path / "linked.pdf"
    with pikepdf.open(PDF_DIR / "outline.pdf") as doc:
        pages = [p.obj for p in doc.pages]
        for a, b in zip(pages, pages[1:]):
            a.Foo = b
        doc.save(src)
    index = pdf.READER.index(src, job_id="J1", keep_layout=True)
    plan = EngineeringPlan(jobs=tuple(PrintJobPlan(f"p{k:03d}", (p.piece_id,)) for k, p in enumerate(index.pieces)))
    files = pdf.WRITER.write(index, plan, tmp_path / "out")
    linked = 0
    for piece, f in zip(index.pieces, files):
        with pikepdf.open(f) as doc:
            objs = [p.obj for p in doc.pages]
            assert len(objs) == piece.pages
            for k, page in enumerate(objs):
                last_of_file = piece.first_page + k + 1 == index.pages
                if k + 1 < len(objs):
                    assert page.get("/Foo").objgen == objs[k + 1].objgen
                    linked += 1
                elif not last_of_file:
                    assert page.get("/Foo") is None  # the next page is in another job: null
        _assert_qpdf_clean(f)
    assert linked > 0
