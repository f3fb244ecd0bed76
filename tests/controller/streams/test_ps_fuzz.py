"""Fuzz the PostScript reader: truncation and byte flips give a StreamError with an offset or page, or a whole index."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from controller.streams import ps
from tests.controller.streams.fuzzkit import check_damaged, damaged
from tests.controller.streams.streamkit import STREAMS

SOURCES = {name: (STREAMS / "ps" / name).read_bytes() for name in ("statements.ps", "statements_duplex.ps")}


def _run(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.ps"
        path.write_bytes(data)
        check_damaged(ps.READER, path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(SOURCES["statements.ps"]))
def test_damaged_postscript(data):
    _run(data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(SOURCES["statements_duplex.ps"]))
def test_damaged_duplex_postscript(data):
    _run(data)


def test_every_truncation_past_the_prolog_is_an_error(tmp_path):
    data = SOURCES["statements.ps"]
    path = tmp_path / "cut.ps"
    start = data.index(b"%%Page:")
    for cut in range(start, len(data) - 7, (len(data) - start) // 50):
        path.write_bytes(data[:cut])
        assert check_damaged(ps.READER, path) is None, f"a file cut at byte {cut} was accepted"
