"""A run through the stages on real parts: a composed PDF stream, the ledger, the presort, the writers."""

import datetime as dt

import pytest

from controller import pipeline
from controller.commands.presort import load_tables, run_presort
from controller.errors import StreamError
from controller.ledger import Ledger
from controller.model import PieceState
from controller.streams.registry import index_stream
from mailsort.synthetic import synthetic_mailing
from simulators.composer import ComposedPiece, compose_statement_run


def compose(path, n, *, blank_every=0):
    pieces = []
    for i, mp in enumerate(synthetic_mailing(n, 7, bad_share=0.0)):
        postal = "" if blank_every and i % blank_every == blank_every - 1 else mp.postcode
        pieces.append(ComposedPiece(mp.piece_id, 1 + i % 3, postal, (f"NAME {i}", f"{i} MAIN ST", "TOWN")))
    compose_statement_run(path, pieces)
    return pieces


async def test_index_presort_engineer_keeps_every_piece_in_tray_order(tmp_path):
    composed = compose(tmp_path / "run.pdf", 400)
    async with Ledger(tmp_path / "l.sqlite") as ledger:
        index = await pipeline.import_stream(ledger, tmp_path / "run.pdf", job_id="R1")
        assert [p.piece_id for p in index.pieces] == [c.piece_id for c in composed]
        result, _summary = run_presort(pipeline.mail_pieces(index), "usps-fcm", load_tables("usps-fcm", None),
                                       pipeline.demo_options(dt.date(2026, 11, 23)), None)
        await pipeline.record_sort(ledger, result, "R1")
        run = pipeline.engineer(index, result, tmp_path / "out", job_id="R1", max_sheets=150)
        assert await ledger.counts_by_state("R1") == {"R1": {PieceState.SORTED: 400}}
        # trays are never split across print jobs, and every print job but oversize single trays fits
        tray_of = {}
        for job in run.print_jobs:
            for container in job.containers:
                assert container not in tray_of, f"tray {container} is split across print jobs"
                tray_of[container] = job.print_job_id
            for pid in job.piece_ids:
                record = await ledger.piece(pid)
                assert tray_of[record.container] == job.print_job_id
            assert job.sheets <= 150 or len(job.containers) == 1
        sort_order = [sp.piece_id for sp in result.sorted_pieces()]
        written = []
        for job, path in zip(run.print_jobs, run.files):
            again = index_stream(path, job_id="R1", sidecar=None)
            assert [p.piece_id for p in again.pieces] == list(job.piece_ids)
            assert sum(p.sheets for p in again.pieces) == job.sheets
            written += [p.piece_id for p in again.pieces]
        assert written == sort_order
        assert await ledger.verify() == []


async def test_a_stream_with_a_bad_piece_imports_nothing(tmp_path):
    compose(tmp_path / "run.pdf", 30, blank_every=10)
    async with Ledger(tmp_path / "l.sqlite") as ledger:
        with pytest.raises(StreamError, match="no postal code"):
            await pipeline.import_stream(ledger, tmp_path / "run.pdf", job_id="R1")
        assert await ledger.event_count() == 0
        index = await pipeline.import_stream(ledger, tmp_path / "run.pdf", job_id="R1", lenient=True)
        assert len(index.pieces) == 27 and len(index.quarantined) == 3
        assert all(q.piece_id and "postal" in q.reason for q in index.quarantined)
        assert await ledger.event_count() == 27
