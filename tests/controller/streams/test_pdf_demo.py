"""The engineering demo and the stamp planner, on every one of our formats."""

from __future__ import annotations

import pytest

from controller.streams import pdf
from controller.streams.paged import plan_stamps
from controller.streams.pdf_demo import engineer_demo
from tests.controller.streams.streamkit import SAMPLE, STREAMS


@pytest.mark.parametrize("name", ["pdf/outline.pdf", "ps/statements_duplex.ps", "pcl/statements.pcl"])
def test_engineer_demo_writes_jobs_in_postal_order_that_reread_as_planned(name, tmp_path):
    result = engineer_demo(STREAMS / name, tmp_path, jobs=3)
    assert len(result.files) == 3 and result.pieces == len(SAMPLE)
    by_id = {p.piece_id: p for p in SAMPLE}
    assert [by_id[pid].postal_code for pid in result.order] == sorted(p.postal_code for p in SAMPLE)
    duplex = "duplex" in name
    assert result.sheets_stamped == sum((p.pages + 1) // 2 if duplex else p.pages for p in SAMPLE)


def test_plan_stamps_codes_decode_to_piece_sheet_and_count():
    from drivers.controlcode import decode, piece_token

    index = pdf.READER.index(STREAMS / "pdf" / "outline.pdf", job_id="RUN7")
    stamps = plan_stamps(index, imb_bars={index.pieces[0].piece_id: "T" * 65})
    assert len(stamps) == index.sheets
    for p in index.pieces:
        for s in range(1, p.sheets + 1):
            code = decode(stamps[(p.piece_id, s)].control_code)
            assert (code.job, code.piece, code.sheet, code.of) == ("RUN7", piece_token(p.sequence), s, p.sheets)
    assert stamps[(index.pieces[0].piece_id, 1)].imb_bars == "T" * 65
    assert all(st.imb_bars is None for key, st in stamps.items() if key != (index.pieces[0].piece_id, 1))
