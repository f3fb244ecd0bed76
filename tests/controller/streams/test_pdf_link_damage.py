"""A PDF whose outline or document part links are damaged is refused, never read as other pieces.

Outline entries and document parts (DParts) are where a PDF's pieces start. A /Next lost to one flipped byte
used to end the outline walk early and fold every piece after it into one, under the first one's recipient and
postal code; a DPart's /Start flipped to another page's number moved pages between pieces. Both gave a whole,
self-consistent index, so the random fuzzing did not tell. Now every outline entry's /Prev must name the entry
whose /Next led to it and the walk must end at the outline's /Last; each DPart must end (/End) before the next
one starts, with only pad pages between. Here every digit of every such link is flipped, and every link's key
renamed: each such file gives either a StreamError that says where, or exactly the pieces of the whole file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller.errors import StreamError
from controller.streams import pdf
from tests.controller.streams import fuzzkit
from tests.controller.streams.fuzzkit import refused_or_unchanged
from tests.controller.streams.streamkit import STREAMS

LINK = re.compile(rb"/(First|Last|Next|Prev|Start|End|DParts|DPartRootNode)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+\d+[\x00\t\n\x0c\r ]+R")


def pieces_of(path: Path) -> list[tuple]:
    return fuzzkit.pieces_of(pdf.READER, path)


def damaged_links(data: bytes):
    for m in LINK.finditer(data):
        yield f"{m.group(1).decode()} key renamed at byte {m.start()}", data[:m.start() + 2] + b"~" + data[m.start() + 3:]
        for i in range(m.start(2), m.end(2)):
            for digit in b"0123456789":
                if digit != data[i]:
                    yield f"{m.group(1).decode()} digit {chr(data[i])}->{chr(digit)} at byte {i}", \
                        data[:i] + bytes([digit]) + data[i + 1:]


@pytest.mark.parametrize("name", ["outline.pdf", "gs_pdfwrite.pdf", "dpart.pdf"])
def test_every_damaged_outline_or_dpart_link_is_refused_or_changes_nothing(tmp_path, name):
    source = STREAMS / "pdf" / name
    refused = refused_or_unchanged(pdf.READER, source, damaged_links(source.read_bytes()), tmp_path / "damaged.pdf")
    assert refused > 100  # the links were found and damaged; most damage is refused


def test_an_outline_cut_short_names_where_it_ends_and_its_last(tmp_path):
    data = (STREAMS / "pdf" / "outline.pdf").read_bytes()
    nexts = [m.start() for m in LINK.finditer(data) if m.group(1) == b"Next"]
    at = nexts[len(nexts) // 2]
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[:at + 1] + b"Nexu" + data[at + 5:])
    with pytest.raises(StreamError, match=r"the outline's entries end at \d+ 0 R .* its /Last is \d+ 0 R"):
        pieces_of(path)
