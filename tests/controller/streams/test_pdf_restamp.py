"""A stamped print job cut or reordered again without new stamps keeps each page's twin: the code
drawn on the page and its machine-readable twin must not part (a fleet remainder cut from a stamped
job file relied on it)."""

from pathlib import Path

import pytest

from controller.commands.stream import control_code_stamps
from controller.streams.base import EngineeringPlan, PrintJobPlan
from controller.streams.pdf import PdfWriter, read_page_twins
from controller.streams.registry import index_stream

OUTLINE = Path(__file__).resolve().parents[3] / "fixtures" / "streams" / "pdf" / "outline.pdf"


@pytest.mark.parametrize("copy", [True, False], ids=["byte-copy", "pikepdf"])
def test_twins_survive_an_unstamped_rewrite(tmp_path, copy):
    idx = index_stream(OUTLINE)
    ids = [p.piece_id for p in idx.pieces]
    stamped = PdfWriter().write(idx, EngineeringPlan((PrintJobPlan("s", tuple(ids)),), control_code_stamps(idx)),
                                tmp_path / "a")[0]
    before = read_page_twins(stamped)
    assert all(t and t.get("ControlCode") for t in before)

    again = index_stream(stamped)
    order = tuple(reversed(ids))
    writer = PdfWriter()
    writer.copy_objects = copy
    out = writer.write(again, EngineeringPlan((PrintJobPlan("r", order),), {}), tmp_path / "b")[0]
    by_piece = {}
    for twin in before:
        by_piece.setdefault(twin["PieceID"], []).append(twin["ControlCode"])
    assert [t["ControlCode"] for t in read_page_twins(out)] == [c for pid in order for c in by_piece[pid]]
