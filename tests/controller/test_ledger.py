import asyncio
import sqlite3

import pytest

from controller.errors import (
    DuplicatePieceError,
    IllegalTransitionError,
    LedgerError,
    PieceError,
    UnknownPieceError,
)
from controller.ledger import Ledger
from controller.model import PieceEvent, PieceEventKind as K, PieceState as S

LIFE = [K.SORTED, K.SPOOLED, K.PRINTED, K.INSERTED, K.MAILED]


@pytest.fixture
async def ledger(tmp_path):
    async with Ledger(tmp_path / "ledger.sqlite") as ledger:
        yield ledger


async def index(ledger, n, job="j1"):
    return await ledger.append_many([PieceEvent(K.INDEXED, f"{job}-{i}", job_id=job) for i in range(n)])


async def test_a_piece_walks_its_life_cycle_and_keeps_its_history(ledger):
    await index(ledger, 1)
    for kind in LIFE:
        await ledger.append(PieceEvent(kind, "j1-0", container="T1" if kind is K.SORTED else None))
    record = await ledger.piece("j1-0")
    assert (record.state, record.container, record.events) == (S.MAILED, "T1", 6)
    history = await ledger.history("j1-0")
    assert [h.kind for h in history] == [K.INDEXED, *LIFE]
    assert [h.from_state for h in history] == [None, S.INDEXED, S.SORTED, S.SPOOLED, S.PRINTED, S.INSERTED]
    assert [h.seq for h in history] == sorted(h.seq for h in history)
    assert await ledger.verify() == []


async def test_refused_transition_names_piece_state_and_event_and_leaves_no_trace(ledger):
    await index(ledger, 1)
    before = await ledger.event_count()
    with pytest.raises(IllegalTransitionError) as err:
        await ledger.append(PieceEvent(K.PRINTED, "j1-0"))
    assert err.value.piece_id == "j1-0" and err.value.state == "indexed" and err.value.event == "printed"
    assert "j1-0" in str(err.value) and "indexed" in str(err.value) and "printed" in str(err.value)
    assert await ledger.event_count() == before
    assert (await ledger.piece("j1-0")).state is S.INDEXED


async def test_event_for_unknown_piece_is_refused(ledger):
    with pytest.raises(UnknownPieceError):
        await ledger.append(PieceEvent(K.SORTED, "nobody"))
    assert await ledger.piece("nobody") is None


async def test_indexing_a_piece_twice_is_refused(ledger):
    await index(ledger, 1)
    with pytest.raises(IllegalTransitionError):
        await ledger.append(PieceEvent(K.INDEXED, "j1-0", job_id="j1"))


async def test_second_insertion_of_a_mailed_piece_is_a_duplicate_alarm(ledger):
    await index(ledger, 1)
    for kind in LIFE:
        await ledger.append(PieceEvent(kind, "j1-0"))
    with pytest.raises(DuplicatePieceError):
        await ledger.append(PieceEvent(K.INSERTED, "j1-0", device="ins-1"))


async def test_device_event_replayed_after_reconnect_changes_nothing(ledger):
    await index(ledger, 2)
    for kind in LIFE[:3]:
        await ledger.append(PieceEvent(kind, "j1-0"))
    first = await ledger.append(PieceEvent(K.INSERTED, "j1-0", device="ins-1", device_seq=41))
    count = await ledger.event_count()
    again = await ledger.append(PieceEvent(K.INSERTED, "j1-0", device="ins-1", device_seq=41))
    assert again.duplicate and not first.duplicate
    assert (again.seq, again.to_state) == (first.seq, S.INSERTED)
    assert await ledger.event_count() == count
    # the same number from another device is another event
    await ledger.append(PieceEvent(K.SORTED, "j1-1", device="ins-2", device_seq=41))
    assert await ledger.event_count() == count + 1


async def test_replay_inside_one_batch_is_applied_once(ledger):
    await index(ledger, 1)
    applied = await ledger.append_many([
        PieceEvent(K.SORTED, "j1-0", device="d", device_seq=1),
        PieceEvent(K.SORTED, "j1-0", device="d", device_seq=1),
    ])
    assert [a.duplicate for a in applied] == [False, True]
    assert (await ledger.piece("j1-0")).events == 2


async def test_a_batch_is_all_or_nothing(ledger):
    await index(ledger, 3)
    before = await ledger.event_count()
    with pytest.raises(IllegalTransitionError):
        await ledger.append_many([
            PieceEvent(K.SORTED, "j1-0"),
            PieceEvent(K.SORTED, "j1-1", device="d", device_seq=7),
            PieceEvent(K.MAILED, "j1-2"),  # illegal: the batch must leave no trace
        ], batch=0)
    assert await ledger.event_count() == before
    assert {(await ledger.piece(p)).state for p in ("j1-0", "j1-1", "j1-2")} == {S.INDEXED}
    # the device mark of the refused batch was not kept either
    assert not (await ledger.append(PieceEvent(K.SORTED, "j1-1", device="d", device_seq=7))).duplicate


async def test_refused_batch_does_not_affect_batches_committed_with_it(ledger):
    await index(ledger, 4)
    good = ledger.append_many([PieceEvent(K.SORTED, "j1-0"), PieceEvent(K.SORTED, "j1-1")])
    bad = ledger.append_many([PieceEvent(K.SORTED, "j1-2"), PieceEvent(K.PRINTED, "j1-3")])
    results = await asyncio.gather(good, bad, return_exceptions=True)
    assert len(results[0]) == 2 and isinstance(results[1], IllegalTransitionError)
    states = [(await ledger.piece(f"j1-{i}")).state for i in range(4)]
    assert states == [S.SORTED, S.SORTED, S.INDEXED, S.INDEXED]
    assert await ledger.verify() == []


async def test_concurrent_appends_are_group_committed_and_each_answered(ledger):
    await index(ledger, 300)
    events = [PieceEvent(K.SORTED, f"j1-{i}") for i in range(300)]
    events += [PieceEvent(K.MAILED, f"j1-{i}") for i in range(10)]  # illegal: refused one by one
    results = await asyncio.gather(*(ledger.append(e) for e in events), return_exceptions=True)
    assert sum(isinstance(r, PieceError) for r in results) == 10
    assert {r.to_state for r in results[:300]} == {S.SORTED}
    assert await ledger.counts_by_state("j1") == {"j1": {S.SORTED: 300}}
    assert await ledger.verify() == []


async def test_queries_counts_containers_and_rejects(ledger):
    await index(ledger, 6, "a")
    await index(ledger, 2, "b")
    for i in range(6):
        await ledger.append(PieceEvent(K.SORTED, f"a-{i}", container="T1" if i < 4 else "T2"))
        await ledger.append(PieceEvent(K.SPOOLED, f"a-{i}"))
    await ledger.append(PieceEvent(K.DIVERTED, "a-1", reason="no read"))
    await ledger.append(PieceEvent(K.DIVERTED, "a-2", reason="double feed"))
    await ledger.append(PieceEvent(K.REPRINT_QUEUED, "a-2"))
    await ledger.append(PieceEvent(K.DIVERTED, "a-3"))
    await ledger.append(PieceEvent(K.PULLED, "a-3"))
    counts = await ledger.counts_by_state()
    assert counts == {
        "a": {S.SPOOLED: 3, S.DIVERTED: 1, S.REPRINT_QUEUED: 1, S.PULLED: 1},
        "b": {S.INDEXED: 2},
    }
    assert [p.piece_id for p in await ledger.pieces_in_container("T1")] == ["a-0", "a-1", "a-2", "a-3"]
    assert [p.piece_id for p in await ledger.open_rejects()] == ["a-1", "a-2"]
    assert await ledger.open_rejects("b") == []
    # a reprint goes round again and leaves the reject queue
    for kind in (K.SPOOLED, K.PRINTED, K.INSERTED, K.MAILED):
        await ledger.append(PieceEvent(kind, "a-2", device="lp-2"))
    assert [p.piece_id for p in await ledger.open_rejects()] == ["a-1"]
    history = await ledger.history("a-1")
    assert history[-1].reason == "no read"
    assert await ledger.verify() == []


async def test_event_data_round_trips(ledger):
    await ledger.append(PieceEvent(K.INDEXED, "p", job_id="j", data={"pages": 3, "zip": "12345"}))
    assert (await ledger.history("p"))[0].data == {"pages": 3, "zip": "12345"}


async def test_a_piece_stays_in_its_job(ledger):
    await index(ledger, 1)
    with pytest.raises(PieceError, match="belongs to job j1"):
        await ledger.append(PieceEvent(K.SORTED, "j1-0", job_id="other"))


async def test_reopened_ledger_continues_where_it_stopped(tmp_path):
    path = tmp_path / "l.sqlite"
    async with Ledger(path) as ledger:
        await index(ledger, 3)
        await ledger.append(PieceEvent(K.SORTED, "j1-0", device="d", device_seq=1))
    async with Ledger(path) as ledger:
        assert (await ledger.piece("j1-0")).state is S.SORTED
        assert (await ledger.append(PieceEvent(K.SORTED, "j1-0", device="d", device_seq=1))).duplicate
        applied = await ledger.append(PieceEvent(K.SORTED, "j1-1"))
        assert applied.seq == 5
        assert await ledger.verify() == []


async def test_verify_finds_a_state_table_that_disagrees_with_the_log(tmp_path):
    path = tmp_path / "l.sqlite"
    async with Ledger(path) as ledger:
        await index(ledger, 2)
    con = sqlite3.connect(path)
    con.execute("UPDATE pieces SET state = 'mailed' WHERE piece_id = 'j1-1'")
    con.commit()
    con.close()
    async with Ledger(path) as ledger:
        problems = await ledger.verify()
    assert any("j1-1" in p for p in problems)


async def test_a_ledger_of_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "l.sqlite"
    async with Ledger(path):
        pass
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(LedgerError, match="schema version 99"):
        async with Ledger(path):
            pass


async def test_a_closed_ledger_refuses_writes(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    await ledger.start()
    await ledger.aclose()
    with pytest.raises(LedgerError, match="not open"):
        await ledger.append(PieceEvent(K.INDEXED, "p", job_id="j"))


async def test_one_group_with_a_refused_batch_applies_the_rest_as_if_in_order(tmp_path):
    """Requests the writer folds into one commit: a refused batch must not leak its piece states or
    device marks into the requests after it in the same group."""
    from controller.ledger import _Request, _Writer

    path = tmp_path / "l.sqlite"
    async with Ledger(path) as ledger:
        await index(ledger, 2)
    writer = _Writer(path)  # its thread is not started: the group is committed here, deterministically
    loop = asyncio.get_running_loop()

    def request(events, atomic):
        return _Request(tuple(events), atomic, loop.create_future(), loop)

    refused = request([PieceEvent(K.SORTED, "j1-0", device="d", device_seq=1), PieceEvent(K.MAILED, "j1-1")], True)
    same_mark = request([PieceEvent(K.SORTED, "j1-1", device="d", device_seq=1)], False)
    same_piece = request([PieceEvent(K.SORTED, "j1-0")], False)
    replay = request([PieceEvent(K.SORTED, "j1-1", device="d", device_seq=1)], False)
    try:
        writer._commit_group([refused, same_mark, same_piece, replay])
    finally:
        writer.con.close()
    await asyncio.sleep(0.05)
    with pytest.raises(IllegalTransitionError):
        refused.future.result()
    assert not same_mark.future.result().duplicate
    assert same_piece.future.result().from_state is S.INDEXED
    assert replay.future.result().duplicate and replay.future.result().seq == same_mark.future.result().seq
    async with Ledger(path) as ledger:
        assert await ledger.verify() == []
        assert await ledger.event_count() == 4


async def test_two_writers_on_one_file_see_each_others_commits(tmp_path):
    path = tmp_path / "l.sqlite"
    async with Ledger(path) as a, Ledger(path) as b:
        await a.append(PieceEvent(K.INDEXED, "p", job_id="j"))
        await b.append(PieceEvent(K.SORTED, "p"))  # a's writer must not trust what it remembers of p
        applied = await a.append(PieceEvent(K.SPOOLED, "p"))
        assert applied.from_state is S.SORTED
        with pytest.raises(IllegalTransitionError):
            await b.append(PieceEvent(K.SORTED, "p"))
        assert await a.verify() == []


async def test_histories_of_many_pieces_equal_their_histories_one_by_one(ledger):
    await index(ledger, 7)
    await index(ledger, 3, job="j2")
    for i in range(0, 7, 2):
        await ledger.append(PieceEvent(K.SORTED, f"j1-{i}", container=f"T{i}"))
    await ledger.append_many([PieceEvent(K.SPOOLED, f"j1-{i}", device="lp-1", data={"print_job": "pj"})
                              for i in range(0, 7, 2)])
    await ledger.append(PieceEvent(K.SORTED, "j2-1"))
    wanted = [*(f"j1-{i}" for i in range(7)), "j2-1", "j2-1", "nobody"]
    got = await ledger.histories(wanted, per_query=3)  # several statements, a repeated ID, an unknown one
    assert set(got) == set(wanted) - {"nobody"}
    for pid in got:
        assert got[pid] == await ledger.history(pid)
    assert [h.kind for h in got["j1-4"]] == [K.INDEXED, K.SORTED, K.SPOOLED] and got["j1-4"][-1].data == {
        "print_job": "pj"}
    assert await ledger.histories([]) == {}


async def test_records_of_many_pieces_equal_their_records_one_by_one_in_the_order_given(ledger):
    await index(ledger, 7)
    await index(ledger, 3, job="j2")
    for i in range(0, 7, 2):
        await ledger.append(PieceEvent(K.SORTED, f"j1-{i}", container=f"T{i}"))
    await ledger.append(PieceEvent(K.SORTED, "j2-1"))
    # several statements, an unknown ID among them, one given twice, not in the ledger's order
    wanted = ["j2-1", "nobody", *(f"j1-{i}" for i in reversed(range(7))), "j2-1", "j2-0"]
    got = await ledger.pieces(iter(wanted), per_query=3)
    assert list(got) == list(dict.fromkeys(wanted))
    for pid in got:
        assert got[pid] == await ledger.piece(pid)
    assert got["nobody"] is None  # as piece() says of a piece it does not hold
    assert (got["j1-4"].state, got["j1-4"].container, got["j1-4"].job_id) == (S.SORTED, "T4", "j1")
    assert (got["j2-0"].state, got["j2-0"].job_id) == (S.INDEXED, "j2")
    assert await ledger.pieces([]) == {}
