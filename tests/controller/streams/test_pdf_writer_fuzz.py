"""Fuzz the PDF writer behind the reader: a damaged source the index accepts is written (stamped or not, with
or without the layout the index keeps) or refused with a StreamError; never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.errors import StreamError
from controller.streams import pdf
from tests.controller.streams.fuzzkit import damaged
from tests.controller.streams.streamkit import STREAMS, shuffled_plan

SOURCES = {name: (STREAMS / "pdf" / name).read_bytes() for name in ("outline.pdf", "dpart.pdf", "gs_pdfwrite.pdf")}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SOURCES)), st.booleans(), st.booleans(), st.integers(1, 3), st.data())
def test_a_damaged_source_is_written_or_refused_with_a_stream_error(name, keep_layout, stamps, jobs, data):
    raw = data.draw(damaged(SOURCES[name]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.pdf"
        path.write_bytes(raw)
        try:
            index = pdf.READER.index(path, job_id="J1", keep_layout=keep_layout)
        except StreamError:
            return
        plan = shuffled_plan(index, seed=len(raw), jobs=min(jobs, len(index.pieces)), stamps=stamps)
        try:
            files = pdf.WRITER.write(index, plan, Path(tmp) / "out")
        except StreamError as exc:
            assert exc.path == str(path)
            return
        assert len(files) == len(plan.jobs) and all(f.stat().st_size > 0 for f in files)
