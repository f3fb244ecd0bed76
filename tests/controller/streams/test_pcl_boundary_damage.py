"""A PCL stream whose piece structure is damaged by one byte is refused, never read as other pieces.

Pieces start at `@PJL COMMENT PMC-Piece` lines in a PJL block (a UEL, PJL lines, `@PJL ENTER LANGUAGE=PCL`),
and a padded duplex stream carries a blank pad page (`ESC&n#W` with `\\x00PMC-Pad:PIECE`, a form feed) after
each odd piece. One flipped bit in a UEL or in a PJL line's `@PJL` ended the PJL block early: the rest of
it, marker included, was read as PCL text that made a page, and the marker was lost; one in a marker's keyword
dropped the marker; one in a pad record made the pad a page of the piece before. Each gave a whole,
self-consistent index with other piece boundaries. Now PJL lines may only follow a UEL, a PJL block that does
not enter a language must be followed by a UEL or PCL, a PJL line naming PMC- must be one of our comments,
address lines must follow a piece marker in their block, and a damaged pad record is refused. Here every bit
of those bytes is flipped: each such file gives either a StreamError that says where, or exactly the pieces
of the whole file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller.errors import StreamError
from controller.streams import pcl
from tests.controller.streams import fuzzkit
from tests.controller.streams.fuzzkit import bit_flips, refused_or_unchanged
from tests.controller.streams.streamkit import STREAMS


def pieces_of(path: Path) -> list[tuple]:
    return fuzzkit.pieces_of(pcl.READER, path)


def check(tmp_path: Path, source: Path, offsets) -> int:
    return refused_or_unchanged(pcl.READER, source, bit_flips(source.read_bytes(), offsets), tmp_path / "damaged.pcl")


@pytest.fixture(scope="module")
def padded(tmp_path_factory) -> Path:
    return fuzzkit.padded_output(pcl, STREAMS / "pcl" / "statements_duplex.pcl", tmp_path_factory.mktemp("padded"),
                                 b"\x00PMC-Pad:")


def pjl_block_offsets(data: bytes, at: int) -> list[int]:
    """The UEL at `at` and, of each PJL line after it, the keywords (up to a PMC- comment's value) and the line
    end (its values, a piece ID or an address, are data: damage there is not what this looks for)."""
    assert data[at:at + 9] == pcl.UEL
    out = list(range(at, at + 9))
    i = at + 9
    while data[i:i + 4] == b"@PJL":
        nl = data.index(b"\n", i)
        keywords = re.match(rb"@PJL [A-Z]+ (PMC-[A-Za-z]+ )?", data[i:nl])
        out += [*range(i, i + keywords.end()), nl - 1, nl]
        i = nl + 1
    return out


@pytest.mark.parametrize("block", [2])
def test_every_damaged_pjl_block_is_refused_or_changes_nothing(tmp_path, padded, block):
    data = padded.read_bytes()
    uels = [m.start() for m in re.finditer(re.escape(pcl.UEL), data)]
    offsets = pjl_block_offsets(data, uels[block])  # the UELs: the job header, then each piece; 2: mid-file
    assert check(tmp_path, padded, offsets) > len(offsets) * 2


def test_every_damaged_pad_record_is_refused_or_changes_nothing(tmp_path, padded):
    data = padded.read_bytes()
    offsets = [i for m in re.finditer(rb"\x1b&n\d+W\x00PMC-Pad:", data) for i in range(m.start(), m.end())]
    assert len(offsets) >= 2 * 16
    assert check(tmp_path, padded, offsets) > len(offsets) * 2


def test_a_pjl_block_cut_short_names_the_text_after_it(tmp_path):
    data = (STREAMS / "pcl" / "statements.pcl").read_bytes()
    at = data.index(b"@PJL COMMENT PMC-Piece P00002")
    path = tmp_path / "cut.pcl"
    path.write_bytes(data[:at] + b"@PJM" + data[at + 4:])
    with pytest.raises(StreamError, match=r"neither a PJL line nor PCL") as exc:
        pieces_of(path)
    assert exc.value.offset == at
