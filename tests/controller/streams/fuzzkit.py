"""Hypothesis strategies and the one property every stream reader must keep under damage."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from hypothesis import strategies as st

from controller.errors import StreamError
from controller.model import Plex
from controller.streams.base import StreamIndex


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """The bytes truncated somewhere, or with a few bytes flipped, or both."""
    out = bytearray(data)
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 8))):
            pos = draw(st.integers(0, len(out) - 1))
            out[pos] ^= draw(st.integers(1, 255))
    if draw(st.booleans()) or out == bytearray(data):
        out = out[: draw(st.integers(0, len(out) - 1))]
    return bytes(out)


def check_damaged(reader, path: Path, **kwargs) -> StreamIndex | None:
    """A StreamError that says where, or a whole, self-consistent index: never another exception. Pads
    (duplex) are allowed for."""
    try:
        index = reader.index(path, job_id="J1", **kwargs)
    except StreamError as exc:
        assert exc.offset is not None or exc.page is not None, f"StreamError without a place: {exc}"
        assert exc.path == str(path)
        return None
    # a duplex piece with an odd page count may be followed by a pad page (our writers pad every such piece
    # of a stream, or none): counted in the stream's pages, in no piece
    pads = [int(p.plex is Plex.DUPLEX and p.pages % 2 == 1) for p in index.pieces]
    total = sum(p.pages for p in index.pieces)
    padded = sum(pads) > 0 and index.pages == total + sum(pads)
    if not index.quarantined:
        assert index.pages == total + (sum(pads) if padded else 0)
    firsts = [p.first_page for p in index.pieces]
    assert firsts == sorted(firsts) and (not firsts or firsts[0] == 0)
    for a, pad, b in zip(index.pieces, pads, index.pieces[1:]):
        assert b.first_page == a.first_page + a.pages + (pad if padded else 0)
    assert [p.sequence for p in index.pieces] == list(range(len(index.pieces)))
    return index


def bit_flips(data: bytes, offsets) -> Iterator[tuple[str, bytes]]:
    """Every one-bit flip of the bytes at `offsets`, each named: (what, the damaged bytes)."""
    for i in sorted(set(offsets)):
        for bit in range(8):
            bad = data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1:]
            yield f"byte {i} {data[i:i + 1]!r}->{bad[i:i + 1]!r}", bad


def pieces_of(reader, path: Path, **kwargs) -> list[tuple]:
    """What a damaged copy of a stream must keep, if it is read at all: its pieces' boundaries, ids and plex
    (a damaged byte inside an address line or postal code is data no reader can tell from another)."""
    index = reader.index(path, job_id="J1", **kwargs)
    return [(p.piece_id, p.first_page, p.pages, p.sheets, p.plex) for p in index.pieces]


def refused_or_unchanged(reader, source: Path, damages: Iterable[tuple[str, bytes]], path: Path, *,
                         offset_only: bool = False, **kwargs) -> int:
    """Each damaged copy of `source` (written to `path`) gives a StreamError that says where (its byte offset,
    or with `offset_only` False its page), or exactly the source's pieces: never a whole, self-consistent index
    of other pieces (which the random fuzzing cannot tell from the source's). Returns how many were refused."""
    whole = pieces_of(reader, source, **kwargs)
    assert len(whole) > 1
    refused = 0
    for what, bad in damages:
        path.write_bytes(bad)
        try:
            got = pieces_of(reader, path, **kwargs)
        except StreamError as exc:
            assert exc.path == str(path), (what, exc)
            assert exc.offset is not None or (exc.page is not None and not offset_only), (what, exc)
            refused += 1
            continue
        assert got == whole, f"{what}: read as other pieces"
    return refused


def padded_output(module, source: Path, out_dir: Path, pad_mark: bytes) -> Path:
    """Our writer's output of a duplex sample (markers, stamps, a pad page after each odd piece): the file a
    damage test must also hold to, since our own outputs are read back by the fleet."""
    from tests.controller.streams.streamkit import shuffled_plan

    index = module.READER.index(source, job_id="J1")
    out = module.WRITER.write(index, shuffled_plan(index, seed=9, jobs=2), out_dir)[0]
    assert pad_mark in out.read_bytes()
    return out
