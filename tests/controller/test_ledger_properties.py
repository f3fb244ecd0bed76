"""Property tests: over random event sequences, the state table is always the fold of the event log,
and refused events leave no trace."""

import asyncio
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from controller.errors import PieceError
from controller.ledger import Ledger, fold
from controller.model import PieceEvent, PieceEventKind, PieceState, next_state

PIECES = [f"p{i}" for i in range(5)]

event_st = st.builds(
    lambda piece, kind, dev: PieceEvent(
        kind, piece, job_id="j" if kind is PieceEventKind.INDEXED else None,
        device=None if dev is None else "dev", device_seq=dev,
    ),
    st.sampled_from(PIECES),
    st.sampled_from(list(PieceEventKind)),
    st.one_of(st.none(), st.integers(0, 6)),
)
# events arrive singly or in batches (all-or-nothing)
step_st = st.lists(event_st, min_size=1, max_size=4).map(tuple) | event_st


def model_apply(states, marks, events):
    """What the ledger must do: apply a batch all-or-nothing; return the number of events applied."""
    trial, trial_marks, applied = dict(states), set(marks), 0
    for e in events:
        mark = (e.device, e.device_seq) if e.device_seq is not None else None
        if mark in trial_marks:
            continue
        to = next_state(trial.get(e.piece_id), e.kind)
        if to is None:
            return 0, False
        trial[e.piece_id] = to
        if mark:
            trial_marks.add(mark)
        applied += 1
    states.clear(), states.update(trial), marks.clear(), marks.update(trial_marks)
    return applied, True


async def submit(ledger, step):
    if isinstance(step, tuple):
        return await ledger.append_many(step, batch=0)
    return await ledger.append(step)


async def run(path, windows):
    """Each window's steps are submitted at once, so the writer folds them into one group commit;
    the outcome must be as if they had been applied one after another, in order."""
    states: dict[str, PieceState] = {}
    marks: set = set()
    expected_events = 0
    async with Ledger(path) as ledger:
        for window in windows:
            outcomes = await asyncio.gather(*(submit(ledger, step) for step in window), return_exceptions=True)
            for step, outcome in zip(window, outcomes):
                batch = step if isinstance(step, tuple) else (step,)
                n, ok = model_apply(states, marks, batch)
                if isinstance(outcome, PieceError):
                    assert not ok, f"the ledger refused {batch} which the model accepts"
                else:
                    assert not isinstance(outcome, BaseException), outcome
                    assert ok, f"the ledger accepted {batch} which the model refuses"
                expected_events += n
            assert await ledger.event_count() == expected_events
            assert await ledger.verify() == []
        counts = await ledger.counts_by_state()
    con = sqlite3.connect(path)
    try:
        log = [(pid, PieceEventKind(kind)) for pid, kind in con.execute("SELECT piece_id, kind FROM events ORDER BY seq")]
        table = {pid: PieceState(s) for pid, s in con.execute("SELECT piece_id, state FROM pieces")}
    finally:
        con.close()
    assert table == fold(log) == states
    by_state: dict[PieceState, int] = {}
    for s in states.values():
        by_state[s] = by_state.get(s, 0) + 1
    assert counts == ({"j": by_state} if by_state else {})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(step_st, min_size=1, max_size=6), min_size=1, max_size=12))
def test_state_table_is_the_fold_of_the_log(windows):
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp) / "l.sqlite", windows))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(list(PieceEventKind))), max_size=30))
def test_fold_refuses_exactly_the_sequences_the_state_machine_refuses(pairs):
    states: dict = {}
    legal = True
    for pid, kind in pairs:
        to = next_state(states.get(pid), kind)
        if to is None:
            legal = False
            break
        states[pid] = to
    try:
        assert fold(pairs) == states and legal
    except PieceError:
        assert not legal
