"""The PDF writer's output is all or nothing (controller.streams.paged.JobFiles), and duplex pieces start on a front side."""

from __future__ import annotations

import pytest

from controller.errors import StreamError
from controller.streams import pdf
from tests.controller.streams.streamkit import STREAMS, shuffled_plan

PDF_DIR = STREAMS / "pdf"


def test_a_job_that_cannot_be_renamed_into_place_leaves_no_print_job_behind(tmp_path):
    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    plan = shuffled_plan(index, seed=2, jobs=3)
    (tmp_path / f"{plan.jobs[1].name}.pdf").mkdir()  # the second job's final name is taken by a folder
    with pytest.raises(StreamError, match="cannot write print jobs") as err:
        pdf.WRITER.write(index, plan, tmp_path)
    assert err.value.path == index.path
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{plan.jobs[1].name}.pdf"]


def test_a_split_through_chunks_that_fails_leaves_neither_jobs_nor_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf, "_CHUNK_PAGES", 4)
    monkeypatch.setattr(pdf, "_CHUNK_JOBS", 2)
    index = pdf.READER.index(PDF_DIR / "outline.pdf", job_id="J1")
    plan = shuffled_plan(index, seed=4, jobs=len(index.pieces))
    (tmp_path / f"{plan.jobs[-1].name}.pdf").mkdir()
    with pytest.raises(StreamError, match="cannot write print jobs"):
        pdf.WRITER.write(index, plan, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{plan.jobs[-1].name}.pdf"]
