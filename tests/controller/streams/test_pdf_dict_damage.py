"""A dictionary damaged into other printable PDF characters is refused, by the index or by the writer.

The fast path reads page and content-stream dictionaries by their text and only the keys it needs
(`PdfObjects.plain_objects`); before, a page dictionary with a `>>` too many, a key without its value or a
keyword where a value belongs passed the index and was copied into the print jobs as it was, for the printer
to meet. Now each new shape of text (digits read as 0) must parse whole once, and a text that does not goes to
the general parser, which names the damage and its offset. A damaged object only the writer copies (a font)
is refused by the writer the same way.
"""

from __future__ import annotations

import re
import pytest

from controller.errors import StreamError
from controller.streams import pdf
from controller.streams.pdf_objects import PdfObjects
from tests.controller.streams.streamkit import STREAMS, shuffled_plan

SOURCE = STREAMS / "pdf" / "outline.pdf"

# (what, old, new): same length, so the cross-reference still points at every object
DAMAGES = [
    ("a >> too many", b" /Trans <<\n\n>> \n", b" /Trans <<\n\n>>>\n"),
    ("a key without its value", b"/Rotate 0 ", b"/Rotate   "),
    ("a keyword where a value belongs", b"/Rotate 0 ", b"/Rotate R "),
    ("a key's slash lost", b"/MediaBox [", b"xMediaBox ["),
    ("an array not closed", b"612 792 ]", b"612 792 /"),
]


def page_objects(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each page object's text."""
    out = []
    for m in re.finditer(rb"\d+ 0 obj\s*<<", data):
        end = data.index(b"endobj", m.start())
        if b"/Type /Page\n" in data[m.start():end]:
            out.append((m.start(), end))
    return out


@pytest.mark.parametrize("what,old,new", DAMAGES, ids=[d[0] for d in DAMAGES])
@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_page_dictionary_damaged_into_printable_characters_is_refused_with_its_offset(tmp_path, what, old, new,
                                                                                         which):
    data = SOURCE.read_bytes()
    pages = page_objects(data)
    assert len(pages) > 20
    start, end = pages[{"first": 0, "middle": len(pages) // 2, "last": -1}[which]]
    at = data.index(old, start, end)
    path = tmp_path / "damaged.pdf"
    path.write_bytes(data[:at] + new + data[at + len(old):])
    for keep_layout in (False, True):
        with pytest.raises(StreamError) as caught:
            pdf.READER.index(path, job_id="J1", keep_layout=keep_layout)
        assert caught.value.offset is not None and start <= caught.value.offset <= end + 6, \
            f"{what}: the error names another place: {caught.value} (the object is at {start}..{end})"


def test_the_same_page_text_whole_is_read_as_before(tmp_path):
    """The check leaves sound files alone: every page of the fixture reads, and the objects' shapes were
    parsed once each, not once per object."""
    index = pdf.READER.index(SOURCE, job_id="J1")
    assert index.pages == len(page_objects(SOURCE.read_bytes()))
    with PdfObjects(SOURCE) as doc:
        from controller.streams.pdf_objects import Ref
        refs = [Ref(int(m.group(1)), 0) for m in re.finditer(rb"(\d+) 0 obj", SOURCE.read_bytes())]
        texts = [t for _, t, _, _, _ in doc.plain_objects(refs) if t]
        assert len(texts) > 40
        assert len(doc._sound) < len(texts) / 3


def test_a_damaged_font_the_index_never_reads_is_refused_by_the_writer(tmp_path):
    data = SOURCE.read_bytes()
    old = b"/Name /F1 /Subtype"
    at = data.index(old)
    path = tmp_path / "damaged.pdf"
    path.write_bytes(data[:at] + b"/Name /F1 >> btype" + data[at + len(old):])  # a >> too many, a word astray
    index = pdf.READER.index(path, job_id="J1")  # the index reads no fonts
    plan = shuffled_plan(index, seed=3, jobs=2, stamps=False)
    with pytest.raises(StreamError) as caught:
        pdf.WRITER.write(index, plan, tmp_path / "out")
    assert caught.value.path == str(path)
    assert "font" in str(caught.value).lower() or caught.value.offset is not None or caught.value.page is not None


@pytest.mark.parametrize("old,new", [(b"/Parent", b">>arent"), (b"/Dest [", b"/Dest /"), (b"/Prev ", b"/Prev>")],
                         ids=["a >> too many", "an array lost its bracket", "a key glued to a >"])
def test_an_outline_entry_damaged_into_printable_characters_is_refused_with_its_offset(tmp_path, old, new):
    data = SOURCE.read_bytes()
    titles = [m.start() for m in re.finditer(rb"/Title \(", data)]
    at = data.rindex(b" obj", 0, titles[len(titles) // 2])
    entry = data.rindex(b"\n", 0, at), data.index(b"endobj", at)
    j = data.index(old, entry[0])
    assert j < entry[1]
    path = tmp_path / "damaged.pdf"
    path.write_bytes(data[:j] + new + data[j + len(old):])
    with pytest.raises(StreamError) as caught:
        pdf.READER.index(path, job_id="J1")
    assert caught.value.offset is not None and entry[0] <= caught.value.offset <= entry[1] + 6, caught.value
