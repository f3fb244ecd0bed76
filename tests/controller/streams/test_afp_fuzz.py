"""Damaged AFP: random truncation and byte flips give a StreamError with an offset, never another
exception, a hang or a partial import (strict), and lenient imports never lose a piece silently."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from controller.errors import StreamError
from controller.streams.afp import AfpReader
from controller.streams.base import StreamIndex
from tests.controller.streams.afp_build import document, form_map_resource, group, name8
from controller.streams.afp import structured_field as sf

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "streams" / "afp"
SOURCES = {
    "fop": (FIX / "fop_statements.afp").read_bytes(),
    "synthetic": document(sf("IMM", name8("DUP")), group("A", 2), group("B", 3, imm="SIM"),
                          group("C", 1, inner=group(None, 2, zip_code=None, name="SUB")), group("D", 2, imm="DUP"),
                          prolog=form_map_resource(("DUP", 2), ("SIM", 1))),
}
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _index(data: bytes, lenient: bool) -> StreamIndex:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.afp"
        path.write_bytes(data)
        return AfpReader().index(path, job_id="F", lenient=lenient)


def _strict(data: bytes) -> StreamIndex | StreamError:
    try:
        return _index(data, lenient=False)
    except StreamError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(data), str(exc)
        assert exc.path and exc.path.endswith("fuzz.afp")
        return exc


@SETTINGS
@given(st.sampled_from(sorted(SOURCES)), st.data())
def test_a_truncation_is_a_stream_error_with_an_offset_never_a_partial_index(name, data):
    src = SOURCES[name]
    cut = data.draw(st.integers(0, len(src) - 1))
    result = _strict(src[:cut])
    if isinstance(result, StreamIndex):
        # cut where a complete print-file resource group ends: a valid resource file, and no half a piece
        assert (result.pages, result.pieces) == (0, ())


@SETTINGS
@given(st.sampled_from(sorted(SOURCES)), st.data())
def test_byte_flips_parse_or_fail_with_an_offset(name, data):
    src = bytearray(SOURCES[name])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(src) - 1))
        src[i] = data.draw(st.integers(0, 255).filter(lambda b, old=src[i]: b != old))
    result = _strict(bytes(src))
    if isinstance(result, StreamIndex):
        assert result.pages >= sum(p.pages for p in result.pieces)
        assert len({p.piece_id for p in result.pieces}) == len(result.pieces)


@SETTINGS
@given(st.sampled_from(sorted(SOURCES)), st.data())
def test_lenient_imports_account_for_every_group_they_saw(name, data):
    src = SOURCES[name]
    clean = _index(src, lenient=False)
    cut = data.draw(st.integers(1, len(src) - 1))
    idx = _index(src[:cut], lenient=True)
    ids = [p.piece_id for p in idx.pieces]
    # what was read is a prefix of the clean stream's pieces, exactly as indexed there
    assert list(idx.pieces) == list(clean.pieces[:len(ids)])
    # and the damage is on record, with where it is (a cut just after the resource group is no damage:
    # a valid resource file, with no pages)
    assert idx.quarantined or (idx.pages, idx.pieces) == (0, ())
    assert all(q.offset is not None for q in idx.quarantined)
