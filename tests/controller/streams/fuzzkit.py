"""Hypothesis strategies and the one property every stream reader must keep under damage."""

from __future__ import annotations

from pathlib import Path

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
