"""The AFP index's bulk walk (pieces built a column at a time, TLE names numbered from their bytes,
values stripped with numpy) must give exactly what the field-by-field walk gives, for any mix of
TLE sets, value padding, insert lists, missing postal codes, empty and repeated piece IDs, and
windows that cut groups apart."""

from __future__ import annotations

import functools
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from controller.errors import StreamError
from controller.streams import afp
from controller.streams.afp import AfpReader, TleMapping
from tests.controller.streams.afp_build import document, group

REAL_OFFSETS = afp._real_offsets
NAMES = ["ACCOUNT", "ADDR1", "ADDR2", "ADDR3", "NAME", "INSERTS", "PIECE", "ZIP", "A-VERY-LONG-NAME",
         "SIXTEEN-CHARS-XY", "X"]
VALUES = st.text(alphabet="AB9 $,;\t\n", max_size=8)


@st.composite
def streams(draw):
    groups = []
    for k in range(draw(st.integers(1, 25))):
        pid = draw(st.sampled_from([f"P{k:04d}", f" P{k:04d} ", "", "P0000"]))  # blank-padded, empty, repeated
        zip_code = draw(st.sampled_from(["12345", " 12345  ", "", None]))
        extra = draw(st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=4))
        if draw(st.booleans()):
            extra.append(("INSERTS", draw(st.sampled_from(["1,2", "3", "", "x"]))))
        groups.append(group(pid if pid else None, pages=draw(st.integers(1, 3)), zip_code=zip_code,
                            tles=tuple(extra), name=f"G{k:07d}"))
    return document(*groups)


def _index(path, lenient):
    try:
        return AfpReader(TleMapping()).index(path, job_id="J", lenient=lenient)
    except StreamError as exc:
        return ("error", str(exc), exc.offset, exc.piece_id)


@settings(max_examples=int(os.environ.get("PMC_HYPOTHESIS_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=streams(), lenient=st.booleans(), window=st.sampled_from([1 << 20, 64, 300]))
def test_bulk_and_field_by_field_walks_agree(tmp_path, monkeypatch, data, lenient, window):
    path = tmp_path / "s.afp"
    path.write_bytes(data)
    with monkeypatch.context() as m:
        m.setattr(afp, "_real_offsets", functools.partial(REAL_OFFSETS, window=window))  # windows cut groups
        fast = _index(path, lenient)
    with monkeypatch.context() as m:
        m.setattr(afp._Walker, "_groups_at_once", lambda self, *a: False)
        slow = _index(path, lenient)
    assert fast == slow


def test_the_column_path_is_taken_for_mixed_templates(tmp_path, monkeypatch):
    """Groups of three TLE shapes in one window go through columns() once, not piece by piece."""
    shapes = [(("ADDR1", "A"),), (("ADDR1", "A"), ("ADDR2", "B")), (("ACCOUNT", "7"), ("INSERTS", "1 2"))]
    data = document(*(group(f"P{k:03d}", tles=shapes[k % 3]) for k in range(30)))
    path = tmp_path / "m.afp"
    path.write_bytes(data)
    calls = {"columns": 0, "fast": 0}
    cols, fast = afp._IndexSink.columns, afp._IndexSink.fast
    monkeypatch.setattr(afp._IndexSink, "columns", lambda self, *a: calls.__setitem__("columns", calls["columns"] + 1)
                        or cols(self, *a))
    monkeypatch.setattr(afp._IndexSink, "fast", lambda self, *a: calls.__setitem__("fast", calls["fast"] + 1)
                        or fast(self, *a))
    idx = AfpReader().index(path, job_id="J")
    assert calls == {"columns": 1, "fast": 0}
    assert [p.piece_id for p in idx.pieces] == [f"P{k:03d}" for k in range(30)]
    assert [p.sequence for p in idx.pieces] == list(range(30))
    assert idx.pieces[1].recipient == ("A", "B") and idx.pieces[2].inserts == frozenset({1, 2})
    assert idx.pieces[2].index == {"ACCOUNT": "7"} and idx.pieces[0].index == {} and idx.pieces[0].recipient == ("A",)


@pytest.mark.parametrize("bad", ["P001", ""])
def test_a_repeated_or_missing_piece_id_falls_back_and_is_named(tmp_path, bad):
    data = document(*(group(p) for p in ["P000", "P001", bad if bad else None]))
    path = tmp_path / "d.afp"
    path.write_bytes(data)
    with pytest.raises(StreamError) as err:
        AfpReader().index(path, job_id="J")
    assert ("appears twice" in str(err.value)) if bad else ("has no piece ID" in str(err.value) or err.value.piece_id)
    lenient = AfpReader().index(path, job_id="J", lenient=True)
    assert [p.piece_id for p in lenient.pieces][:2] == ["P000", "P001"]
    assert len(lenient.pieces) + len(lenient.quarantined) == 3
