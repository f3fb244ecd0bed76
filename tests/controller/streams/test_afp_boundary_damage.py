"""An AFP stream whose structure is damaged by one byte is refused, never read as other pieces.

One flipped bit in a structured field's length can make the field swallow the fields after it and land on the
start of a later one: the chain of lengths still holds, and an ENG and BNG (or an EPG and BPG) swallowed
together used to fold two pieces into one, or move a page between pieces. A TLE whose identifier or attribute
name is damaged used to vanish, and its piece was imported under its page group name; an IMM or medium map
whose name is damaged used to give the default medium map's plex. Each gave a whole, self-consistent index.
Now an end field must name what its begin field named (ENG/BNG, EPG/BPG, EDT/BDT, EMM/BMM), medium maps must
begin and end in pairs, an IMM must invoke a medium map the file defines (when it defines any), and a file's
pieces take their IDs all from TLEs or all from group names. Here every bit of those bytes is flipped: each
such file gives either a StreamError that says where, or exactly the pieces of the whole file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.errors import StreamError
from controller.streams import afp
from controller.streams.afp import AfpReader, TleMapping, iter_fields
from tests.controller.streams import fuzzkit
from tests.controller.streams.fuzzkit import bit_flips, refused_or_unchanged
from tests.controller.streams.streamkit import STREAMS

AFP_DIR = STREAMS / "afp"


def pieces_of(path: Path, reader: AfpReader) -> list[tuple]:
    return fuzzkit.pieces_of(reader, path)


def check(tmp_path: Path, source: Path, offsets, reader: AfpReader = afp.READER) -> int:
    return refused_or_unchanged(reader, source, bit_flips(source.read_bytes(), offsets), tmp_path / "damaged.afp",
                                offset_only=True)


@pytest.mark.parametrize("name", ["fop_plain.afp", "fop_currency.afp"])
def test_every_damaged_field_length_is_refused_or_changes_nothing(tmp_path, name):
    source = AFP_DIR / name
    fields = list(iter_fields(source.read_bytes()))
    assert check(tmp_path, source, [f.offset + k for f in fields for k in (1, 2)]) > len(fields)


def test_every_damaged_tle_identifier_or_piece_id_name_is_refused_or_changes_nothing(tmp_path):
    source = AFP_DIR / "fop_statements.afp"
    data = source.read_bytes()
    offsets = []
    for f in iter_fields(data):
        if f.name == "TLE" and data[f.data_start + 4:f.data_start + 9] == "PIECE".encode("cp500"):
            offsets += range(f.offset + 3, f.offset + 6)  # the field identifier
            offsets += range(f.data_start, f.data_start + 9)  # the name triplet: length, id, type, name
    assert len(offsets) == 24 * 12
    assert check(tmp_path, source, offsets) > len(offsets) * 4


def test_every_damaged_medium_map_or_imm_is_refused_or_changes_nothing(tmp_path):
    source = AFP_DIR / "fop_statements.afp"
    data = source.read_bytes()
    offsets = []
    for f in iter_fields(data):
        if f.name in ("BMM", "EMM"):
            offsets += range(f.offset + 3, f.offset + 6)  # the field identifier
        if f.name in ("BMM", "EMM") or f.name == "IMM" and f.offset < 8000:
            offsets += range(f.data_start, f.data_start + 8)  # the map's name
    assert check(tmp_path, source, offsets) > len(offsets) * 4


def test_a_length_that_swallows_an_eng_and_bng_names_the_eng_that_does_not_match(tmp_path):
    data = (AFP_DIR / "fop_currency.afp").read_bytes()
    bag = next(f for f in iter_fields(data) if f.name == "BAG")
    path = tmp_path / "folded.afp"
    path.write_bytes(data[:bag.offset + 1] + bytes([data[bag.offset + 1] ^ 0x04]) + data[bag.offset + 2:])
    with pytest.raises(StreamError, match=r"end of page \(EPG\) names another page|names another group"):
        pieces_of(path, afp.READER)


def test_pieces_named_by_group_names_throughout_are_still_read(tmp_path):
    source = AFP_DIR / "fop_nozip.afp"
    reader = AfpReader(TleMapping(require_postal_code=False, piece_id=("NO_SUCH_TLE",)))
    names = pieces_of(source, reader)
    assert len(names) == 3 and all(pid.startswith("PGP") for pid, *_ in names)


def test_an_end_field_whose_length_swallows_whole_page_groups_is_refused(tmp_path):
    data = (AFP_DIR / "fop_statements.afp").read_bytes()
    fields = list(iter_fields(data))
    bngs = {f.offset for f in fields if f.name == "BNG"}
    # an ENG whose length, one bit higher, ends it exactly where a later page group begins: the groups between
    # vanish, the chain of lengths holds and every BNG still meets its own ENG
    eng = next(f for f in fields if f.name == "ENG" and f.end + 0x2000 in bngs)
    path = tmp_path / "swallowed.afp"
    path.write_bytes(data[:eng.offset + 1] + bytes([data[eng.offset + 1] | 0x20]) + data[eng.offset + 2:])
    with pytest.raises(StreamError, match=r"ENG of length \d+: what follows its name is not triplets") as exc:
        pieces_of(path, afp.READER)
    assert exc.value.offset == eng.offset
