"""An outline title that does not match the piece pattern: an error naming the page, or in lenient mode
a quarantined piece that keeps its pages out of its neighbours."""

import pytest

from controller.errors import StreamError
from controller.streams.pdf import READER
from simulators.composer import ComposedPiece, compose_statement_run


def test_an_unreadable_title_is_an_error_or_a_quarantined_piece(tmp_path):
    path = tmp_path / "run.pdf"
    compose_statement_run(path, [
        ComposedPiece("A1", 2, "30301123456", ("ANNA", "1 MAIN ST", "TOWN")),
        ComposedPiece("B2", 3, "not a postcode", ("BEN", "2 MAIN ST", "TOWN")),
        ComposedPiece("C3", 1, "30302123456", ("CARLA", "3 MAIN ST", "TOWN")),
    ])
    with pytest.raises(StreamError, match="does not match the piece pattern") as err:
        READER.index(path, job_id="J")
    assert err.value.page == 3
    index = READER.index(path, job_id="J", lenient=True)
    assert [(p.piece_id, p.first_page, p.pages) for p in index.pieces] == [("A1", 0, 2), ("C3", 5, 1)]
    (q,) = index.quarantined
    assert q.page == 3 and "B2 not a postcode" in q.reason
