"""A PostScript stream whose piece structure is damaged by one byte is refused, never read as other pieces.

Pieces start at `%%PMC-Piece:` comments and a padded duplex stream carries a blank `%%Page: pad N` page with a
`%%PMC-Pad: PIECE` comment after each odd piece. One flipped bit in a marker's keyword used to drop the marker
silently, and its pages were read as part of the piece before (its address lines ignored); one in a pad comment
made the pad a page of the piece before; one in the setup's `/Duplex true` made every piece simplex. Each gave
a whole, self-consistent index. Now an address line must follow a piece marker on its page, a `%%PMC-` comment
must be one of ours, a page labelled pad must carry the pad comment and the comment must name the piece before
it, and the setup's /Duplex must be followed by true or false (and a /Tumble come with a /Duplex). Here every
bit of those bytes is flipped: each such file gives either a StreamError that says where, or exactly the
pieces of the whole file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller.errors import StreamError
from controller.streams import ps
from tests.controller.streams import fuzzkit
from tests.controller.streams.fuzzkit import bit_flips, refused_or_unchanged
from tests.controller.streams.streamkit import STREAMS


def pieces_of(path: Path) -> list[tuple]:
    return fuzzkit.pieces_of(ps.READER, path)


def check(tmp_path: Path, source: Path, offsets) -> int:
    return refused_or_unchanged(ps.READER, source, bit_flips(source.read_bytes(), offsets), tmp_path / "damaged.ps")


@pytest.fixture(scope="module")
def padded(tmp_path_factory) -> Path:
    return fuzzkit.padded_output(ps, STREAMS / "ps" / "statements_duplex.ps", tmp_path_factory.mktemp("padded"),
                                 b"%%PMC-Pad: ")


def test_every_damaged_piece_marker_keyword_is_refused_or_changes_nothing(tmp_path, padded):
    data = padded.read_bytes()
    # the newline before it and "%%PMC-Piece:" (the space after is where the ID begins: a value)
    offsets = [i for m in re.finditer(rb"\n%%PMC-Piece: ", data) for i in range(m.start(), m.end() - 1)]
    assert len(offsets) == 6 * 13
    assert check(tmp_path, padded, offsets) > len(offsets) * 4


def test_every_damaged_pad_page_is_refused_or_changes_nothing(tmp_path, padded):
    data = padded.read_bytes()
    offsets = [i for m in re.finditer(rb"%%Page: pad \d+\n%%PMC-Pad: \S+\n", data) for i in range(m.start(), m.end())]
    assert len(offsets) > 2 * 30
    assert check(tmp_path, padded, offsets) > len(offsets) * 2


def test_every_damaged_duplex_setting_is_refused_or_changes_nothing(tmp_path):
    source = STREAMS / "ps" / "statements_duplex.ps"
    m = re.search(rb"/Duplex true /Tumble false", source.read_bytes())
    assert check(tmp_path, source, range(m.start(), m.end())) > 8 * 10


def test_address_lines_whose_marker_is_lost_name_their_page(tmp_path):
    data = (STREAMS / "ps" / "statements.ps").read_bytes()
    at = [m.start() for m in re.finditer(rb"%%PMC-Piece: ", data)][3]
    path = tmp_path / "lost.ps"
    path.write_bytes(data[:at] + b"%%PMC-Pieec: " + data[at + 13:])
    with pytest.raises(StreamError, match=r"unknown comment"):
        pieces_of(path)
    path.write_bytes(data[:at] + b"%%PMB-Piece: " + data[at + 13:])
    with pytest.raises(StreamError, match=r"address lines on page \d+, where no piece starts"):
        pieces_of(path)


def test_a_prolog_that_reads_duplex_and_tumble_is_not_taken_for_damage(tmp_path):
    data = (STREAMS / "ps" / "statements.ps").read_bytes()
    path = tmp_path / "reads.ps"
    path.write_bytes(data.replace(b"%%EndProlog\n", b"/pmcplex { currentpagedevice /Duplex get currentpagedevice "
                                                    b"/Tumble get } bind def\n%%EndProlog\n", 1))
    assert b"/Tumble get" in path.read_bytes()
    assert [(x[0], x[4]) for x in pieces_of(path)] == \
        [(x[0], x[4]) for x in pieces_of(STREAMS / "ps" / "statements.ps")]
