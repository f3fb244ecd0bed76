"""The simulator reads the twins the stream writers stamp (PDF, PostScript, AFP, PCL): stream in, sheets out.

The stream writers live in controller/ and the simulator may not import them; this test is where the
two meet: a fixture stream is indexed, stamped in order by its writer, sent over IPP, and the output
stack must hold every stamped control code, in order.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from controller.streams.base import SheetStamp, plan_in_order
from controller.streams.registry import index_stream, write_stream
from drivers.controlcode import ControlCode, encode as encode_code, job_token, piece_token
from drivers.ipp import IppPrinter, JobState
from simulators.printer import SimIppPrinter
from simulators.printer_documents import DEFAULT_READERS, read_rendered

STREAMS = Path(__file__).resolve().parents[2] / "fixtures" / "streams"
CASES = [
    ("pdf/dpart.pdf", "application/pdf"),
    ("ps/statements.ps", "application/postscript"),
    ("afp/fop_statements.afp", "application/vnd.ibm.modcap"),
    ("pcl/statements.pcl", "application/vnd.hp-pcl"),
    ("pcl/statements_duplex.pcl", "application/vnd.hp-pcl"),
]


@pytest.mark.parametrize("stream, mime", CASES, ids=[c[0] for c in CASES])
async def test_output_stack_holds_every_stamped_control_code_in_order(stream: str, mime: str, tmp_path: Path):
    source = STREAMS / stream
    if not source.is_file():
        pytest.skip(f"{stream} is not in fixtures/streams yet")
    index = index_stream(source, job_id="SIMT")
    token = job_token(index.job_id)
    stamps = {}
    for seq, piece in enumerate(index.pieces):
        for sheet in range(1, piece.sheets + 1):
            code = encode_code(ControlCode(token, piece_token(seq), sheet, piece.sheets))
            stamps[(piece.piece_id, sheet)] = SheetStamp(piece.piece_id, sheet, code)
    plan = plan_in_order(index, [p.piece_id for p in index.pieces])
    plan = type(plan)(jobs=plan.jobs, stamps=stamps)
    [written] = write_stream(index, plan, tmp_path)
    expected = [s.control_code for s in stamps.values()]

    async with SimIppPrinter(speed=50000) as sim, IppPrinter(sim.url) as client:
        job = await client.print_job(written.read_bytes(), document_format=mime)
        done = await client.wait_for_job(job.job_id, poll=0.01, timeout=60)
    assert done.state == JobState.COMPLETED
    # the writer pads an odd-page duplex piece with a blank page: the stream written holds the pages printed
    assert done.impressions_completed == index_stream(written, job_id="SIMT").pages >= index.pages
    assert [s.control_code for s in sim.state.output if s.control_code] == expected


@pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript is not installed")
@pytest.mark.parametrize("stream, mime", CASES[:2], ids=[c[0] for c in CASES[:2]])
async def test_rendered_pages_show_the_same_codes_as_their_twins(stream: str, mime: str, tmp_path: Path):
    """Ghostscript draws the page, zxing-cpp reads the DataMatrix: the camera's view agrees with the twin."""
    index = index_stream(STREAMS / stream, job_id="SIMR")
    token = job_token(index.job_id)
    stamps = {(p.piece_id, s): SheetStamp(p.piece_id, s, encode_code(ControlCode(token, piece_token(i), s, p.sheets)))
              for i, p in enumerate(index.pieces) for s in range(1, p.sheets + 1)}
    plan = plan_in_order(index, [p.piece_id for p in index.pieces])
    [written] = write_stream(index, type(plan)(jobs=plan.jobs, stamps=stamps), tmp_path)
    readers = {**DEFAULT_READERS, mime: read_rendered}
    # the printer renders the document before it answers Print-Job: Ghostscript and zxing on a busy machine take
    # longer than the client's default 10 s
    async with SimIppPrinter(speed=50000, readers=readers) as sim, IppPrinter(sim.url, timeout=60) as client:
        job = await client.print_job(written.read_bytes(), document_format=mime)
        await client.wait_for_job(job.job_id, poll=0.01, timeout=60)
    drawn = [s.control_code for s in sim.state.output if s.control_code]
    assert drawn == [s.control_code for s in stamps.values()]
