"""Fuzz the PDF reader: truncation and byte flips give a StreamError with an offset or page, or a whole index."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from controller.streams import pdf
from tests.controller.streams.fuzzkit import check_damaged, damaged
from tests.controller.streams.streamkit import STREAMS

SOURCES = {name: (STREAMS / "pdf" / name).read_bytes() for name in ("outline.pdf", "dpart.pdf", "gs_pdfwrite.pdf")}


def _run(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.pdf"
        path.write_bytes(data)
        check_damaged(pdf.READER, path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(SOURCES["outline.pdf"]))
def test_damaged_outline_pdf(data):
    _run(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(SOURCES["dpart.pdf"]))
def test_damaged_dpart_pdf(data):
    _run(data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(SOURCES["gs_pdfwrite.pdf"]))
def test_damaged_ghostscript_pdf(data):
    _run(data)


def test_every_truncation_point_of_the_xref_region_is_an_error(tmp_path):
    data = SOURCES["outline.pdf"]
    path = tmp_path / "cut.pdf"
    xref = data.rindex(b"xref")
    for cut in range(xref, len(data) - 1, max(1, (len(data) - xref) // 40)):
        path.write_bytes(data[:cut])
        assert check_damaged(pdf.READER, path) is None, f"a file cut at byte {cut} was accepted"
