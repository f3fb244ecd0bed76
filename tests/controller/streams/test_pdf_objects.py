"""The lazy PDF object reader under the PDF index: cross-reference streams and object streams read like
classic tables, and what qpdf would have to repair is an error naming the byte offset."""

from __future__ import annotations

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.errors import StreamError
from controller.streams import pdf
from controller.streams.base import EngineeringPlan, PrintJobPlan
from controller.streams.pdf_objects import PdfObjects, PdfString, PdfSyntaxError, Ref, Stream, parse_value
from tests.controller.streams.fuzzkit import check_damaged, damaged
from tests.controller.streams.streamkit import STREAMS, pieces_view, sample_sidecar

PDF_DIR = STREAMS / "pdf"


def _compressed(name: str, tmp_path):
    """The sample saved by qpdf with a cross-reference stream and its objects packed into object streams."""
    out = tmp_path / f"{name}-objstm.pdf"
    with pikepdf.open(PDF_DIR / name) as doc:
        doc.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    assert b"/ObjStm" in out.read_bytes() and b"/XRef" in out.read_bytes()
    return out


@pytest.mark.parametrize("name", ["outline.pdf", "dpart.pdf", "gs_pdfwrite.pdf"])
def test_object_streams_and_a_cross_reference_stream_index_as_the_classic_file_does(name, tmp_path):
    classic = pdf.READER.index(PDF_DIR / name, job_id="J1")
    packed = pdf.READER.index(_compressed(name, tmp_path), job_id="J1")
    assert pieces_view(packed) == pieces_view(classic)
    assert [p.first_page for p in packed.pieces] == [p.first_page for p in classic.pieces]


def test_page_labels_in_an_object_stream_still_give_the_boundaries(tmp_path):
    packed = _compressed("labels.pdf", tmp_path)
    index = pdf.READER.index(packed, job_id="J1", sidecar=sample_sidecar())
    assert [p.piece_id for p in index.pieces] == [e.piece_id for e in sample_sidecar()]


def test_an_incremental_update_is_read_newest_first(tmp_path):
    src = tmp_path / "updated.pdf"
    with pikepdf.open(PDF_DIR / "outline.pdf") as doc:
        first = doc.Root.Outlines.First
        first.Title = pikepdf.String("RENAMED 30301 | NEW NAME")
        doc.save(src)
    base = (PDF_DIR / "outline.pdf").read_bytes()
    # the same change as an appended update: a new version of the object and a /Prev-linked xref
    with PdfObjects(PDF_DIR / "outline.pdf") as objs:
        root = objs.resolve(objs.trailer["Root"])
        ref = objs.resolve(root["Outlines"])["First"]
        item = objs.resolve(ref)
        size, startxref = objs.objects, int(base[base.rindex(b"startxref") + 9:].split()[0])
    body = bytearray(base)
    at = len(body)
    fields = b" ".join(b"/%s %d %d R" % (k.encode(), v.num, v.gen) for k, v in item.items() if isinstance(v, Ref))
    dest = b"/Dest [%d %d R /Fit]" % (item["Dest"][0].num, item["Dest"][0].gen)
    body += b"%d %d obj\n<< %s %s /Title (RENAMED 30301 | NEW NAME) >>\nendobj\n" % (ref.num, ref.gen, fields, dest)
    xref = len(body)
    body += b"xref\n%d 1\n%010d %05d n \ntrailer\n<< /Size %d /Root %d %d R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        ref.num, at, ref.gen, size, objs.trailer["Root"].num, objs.trailer["Root"].gen, startxref, xref)
    updated = tmp_path / "appended.pdf"
    updated.write_bytes(bytes(body))
    index = pdf.READER.index(updated, job_id="J1")
    assert index.pieces[0].piece_id == "RENAMED" and index.pieces[0].recipient == ("NEW NAME",)
    assert [p.piece_id for p in index.pieces[1:]] == [p.piece_id for p in pdf.READER.index(src, job_id="J1").pieces[1:]]


def test_a_stream_length_that_misses_endstream_is_an_error_at_the_stream(tmp_path):
    data = (PDF_DIR / "outline.pdf").read_bytes()
    with PdfObjects(PDF_DIR / "outline.pdf") as objs:
        root = objs.resolve(objs.trailer["Root"])
        page = objs.resolve(objs.resolve(root["Pages"])["Kids"][0])
        contents = page["Contents"]
        stream = objs.resolve(contents)
        assert isinstance(stream, Stream)
        at = objs.offset_of(contents)
    head = data[at:stream.data_offset]
    wrong = head.replace(b"/Length %d" % stream.length, b"/Length %d" % (stream.length - 1))
    assert wrong != head and len(wrong) == len(head)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(data[:at] + wrong + data[stream.data_offset:])
    with pytest.raises(StreamError, match="endstream") as err:
        pdf.READER.index(bad, job_id="J1")
    assert err.value.offset == stream.data_offset + stream.length - 1


def test_an_object_moved_from_where_the_cross_reference_puts_it_is_an_error(tmp_path):
    data = (PDF_DIR / "outline.pdf").read_bytes()
    bad = tmp_path / "bad.pdf"
    k = data.index(b"\n4 0 obj")
    bad.write_bytes(data[:k] + b"\n" + data[k:])  # every object after it one byte further than the xref says
    with pytest.raises(StreamError, match="damaged PDF") as err:
        pdf.READER.index(bad, job_id="J1")
    assert err.value.offset is not None and err.value.offset > 0


def test_values_parse_as_pdf_says():
    value, end = parse_value(b"<< /A [1 -2 3.5 .5 (x\\(y\\)\\101) <4142 43> /N#41me true null] /R 12 0 R >> rest", 0, 0)
    assert value == {"A": [1, -2, 3.5, 0.5, b"x(y)A", b"ABC", "NAme", True, None], "R": Ref(12, 0)}
    assert end == len(b"<< /A [1 -2 3.5 .5 (x\\(y\\)\\101) <4142 43> /N#41me true null] /R 12 0 R >>")
    assert PdfString(b"\xfe\xff\x00P\x00M\x00C").text() == "PMC"
    assert PdfString(b"caf\xe9 \x80").text() == "caf\u00e9 \u2022"
    with pytest.raises(PdfSyntaxError):
        parse_value(b"<< /A 1 ] >>", 0, 0)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=damaged((PDF_DIR / "dpart.pdf").read_bytes()))
def test_a_damaged_file_with_object_streams_is_an_error_or_a_whole_index(data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("objstm")
    src = tmp / "src.pdf"
    with pikepdf.open(PDF_DIR / "dpart.pdf") as doc:
        doc.save(src, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    packed = src.read_bytes()
    # the same damage, placed in the packed file: flips and truncation where the strategy put them
    cut = min(len(data), len(packed))
    damaged_bytes = bytes(a ^ b ^ c for a, b, c in zip(data[:cut], (PDF_DIR / "dpart.pdf").read_bytes()[:cut],
                                                       packed[:cut]))
    if len(data) >= len((PDF_DIR / "dpart.pdf").read_bytes()):
        damaged_bytes += packed[cut:]
    path = tmp / "damaged.pdf"
    path.write_bytes(damaged_bytes)
    check_damaged(pdf.READER, path)


def _many_pages(tmp_path, pages: int):
    """A flat page tree whose /Kids array is longer than the reader's window, three pieces by page labels."""
    doc = pikepdf.new()
    for _ in range(pages):
        doc.add_blank_page()
    doc.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array([
        0, pikepdf.Dictionary(S=pikepdf.Name.D, P=pikepdf.String("A-")),
        5000, pikepdf.Dictionary(S=pikepdf.Name.D, P=pikepdf.String("B-")),
        pages - 1, pikepdf.Dictionary(S=pikepdf.Name.D, P=pikepdf.String("C-"))]))
    out = tmp_path / "many.pdf"
    doc.save(out)
    return out


def test_a_page_tree_node_with_thousands_of_kids_is_read_a_window_at_a_time(tmp_path):
    path = _many_pages(tmp_path, 9000)
    kids = path.read_bytes()
    assert kids.index(b"/Kids") and len(kids) > 9000 * 8
    index = pdf.READER.index(path, job_id="J1", lenient=True)
    assert index.pages == 9000
    assert [(q.piece_id, q.page) for q in index.quarantined] == [("A", 1), ("B", 5001), ("C", 9000)]  # no postal codes
    index = pdf.PdfReader(pdf.PdfReadOptions(require_postal=False)).index(path, job_id="J1")
    assert [(p.piece_id, p.first_page, p.pages) for p in index.pieces] == [("A", 0, 5000), ("B", 5000, 3999),
                                                                            ("C", 8999, 1)]


def test_something_else_among_thousands_of_kids_is_an_error_where_it_is(tmp_path):
    path = _many_pages(tmp_path, 9000)
    data = path.read_bytes()
    start = data.index(b"/Kids")
    refs = list(__import__("re").finditer(rb"(\d+) 0 R", data[start:start + 200_000]))
    victim = refs[7400]  # past the first 64 kB window
    at = start + victim.start()
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(data[:at] + b"/" + data[at + 1:])
    with pytest.raises(StreamError, match="something else") as err:
        pdf.READER.index(bad, job_id="J1")
    assert err.value.offset == at or err.value.offset == at - 1


def _one_object_pdf(path, body: bytes):
    head = b"%PDF-1.7\n"
    obj = b"1 0 obj\n" + body + b"\nendobj\n"
    xref = len(head) + len(obj)
    path.write_bytes(head + obj + b"xref\n0 2\n0000000000 65535 f \n%010d 00000 n \n" % len(head)
                     + b"trailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref)


def test_an_object_longer_than_the_read_window_parses_wherever_its_tokens_fall(tmp_path):
    # an escaped string sends the object to the full parser, which reads 4 kB at a time: somewhere in this
    # range the window ends inside "<<", inside the hex string or inside a name
    for pad in range(2030, 2060):
        body = b"<< /T (a\\(b) /P [" + b"0 " * pad + b"] /D << /H <4142> /Name /Value >> >>"
        path = tmp_path / f"obj{pad}.pdf"
        _one_object_pdf(path, body)
        with PdfObjects(path) as objs:
            value = objs.resolve(Ref(1, 0))
        assert value["T"] == b"a(b" and len(value["P"]) == pad
        assert value["D"] == {"H": b"AB", "Name": "Value"}, pad


def test_an_indirect_page_count_is_followed(tmp_path):
    src = tmp_path / "count.pdf"
    with pikepdf.open(PDF_DIR / "outline.pdf") as doc:
        doc.Root.Pages.Count = doc.make_indirect(pikepdf.Object.parse(b"27"))
        doc.save(src)
    assert pieces_view(pdf.READER.index(src, job_id="J1")) == pieces_view(pdf.READER.index(PDF_DIR / "outline.pdf",
                                                                                           job_id="J1"))


def test_an_empty_filter_array_is_no_filter(tmp_path):
    path = tmp_path / "stream.pdf"
    _one_object_pdf(path, b"<< /Length 3 /Filter [] >>\nstream\nabc\nendstream")
    with PdfObjects(path) as objs:
        stream = objs.resolve(Ref(1, 0))
        assert isinstance(stream, Stream) and objs.stream_data(stream) == b"abc"


def test_a_node_of_thousands_of_kids_kept_for_the_writer_gives_the_same_pages(tmp_path):
    # keep_layout walks the tree with what each page inherits: the node's own entries and its /Kids come
    # apart (PdfObjects.node_parts) rather than through a full parse
    path = _many_pages(tmp_path, 9000)
    reader = pdf.PdfReader(pdf.PdfReadOptions(require_postal=False))
    index = reader.index(path, job_id="J1", keep_layout=True)
    with PdfObjects(path) as objs:
        root = objs.resolve(objs.trailer["Root"])
        node, kids = objs.node_parts(root["Pages"])
        assert "Kids" not in node and node["Count"] == 9000 and len(kids) == 9000
        assert kids == objs.resolve(root["Pages"])["Kids"]
    assert [r for r, _, _ in index.layout.pages] == kids
    order = [p.piece_id for p in reversed(index.pieces)]
    (out,) = pdf.WRITER.write(index, EngineeringPlan(jobs=(PrintJobPlan("all", tuple(order)),)), tmp_path / "out")
    again = reader.index(out, job_id="J1")
    assert [(p.piece_id, p.pages) for p in again.pieces] == [("C", 1), ("B", 3999), ("A", 5000)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 45), st.sampled_from(b"0123456789 nf\r\nx%")), max_size=3))
def test_cross_reference_rows_are_checked_as_the_row_pattern_says(flips):
    from controller.streams.pdf_objects import _XREF_ROWS, _xref_rows_ok

    rows = bytearray(b"0000000123 00000 n\r\n0000000000 65535 f \n0000004567 00002 n \r")
    for at, byte in flips:
        rows[at] = byte
    assert _xref_rows_ok(bytes(rows), 3) == (_XREF_ROWS.fullmatch(bytes(rows)) is not None)


def test_free_entries_and_generations_in_a_cross_reference_table_are_kept(tmp_path):
    head = b"%PDF-1.7\n"
    obj = b"2 3 obj\n<< /A 1 >>\nendobj\n"
    xref = len(head) + len(obj)
    path = tmp_path / "gen.pdf"
    path.write_bytes(head + obj + b"xref\n0 3\n0000000000 65535 f \n0000000000 00001 f \n%010d 00003 n \n" % len(head)
                     + b"trailer\n<< /Size 3 /Root 2 3 R >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    with PdfObjects(path) as objs:
        assert objs.resolve(Ref(2, 3)) == {"A": 1}
        assert objs.resolve(Ref(2, 0)) is None and objs.resolve(Ref(1, 1)) is None
        assert objs.offset_of(Ref(2, 3)) == len(head)
