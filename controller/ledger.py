"""The piece ledger: an append-only event log with the current state folded from it.

SQLite in WAL mode (synchronous=NORMAL: a committed transaction survives a process crash; a power cut
may lose the last few). Two tables are written in the same transaction: `events`, append-only, one row
per applied transition, and `pieces`, each piece's current state. Nothing else keeps a piece's state.

Concurrency: one writer thread owns the write connection. Callers on the event loop hand it requests
and await a future; the writer takes everything queued, applies it in one transaction (group commit)
and resolves the futures only after the commit, so an awaited `append` means "durable". The event loop
never blocks on the database; reads run on a reader connection in a worker thread.

Validation happens before anything is written: a refused event raises a typed error naming the piece,
its state and the event, and leaves no trace. `append_many` is all-or-nothing (a savepoint per batch),
which is what a stream import needs. An event carrying a device's own event number (device, device_seq)
that was applied before is ignored and answered with the earlier result, so a replay changes nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from controller.errors import (
    DuplicatePieceError,
    IllegalTransitionError,
    LedgerError,
    PieceError,
    UnknownPieceError,
)
from controller.model import DUPLICATE_KINDS, TRANSITIONS, PieceEvent, PieceEventKind, PieceState, next_state

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# No index on events: a piece's history is a chain through prev_seq from pieces.last_seq, so the
# append-only log costs one B-tree append per event. Counts per job and state are kept in
# state_counts, updated with the group's deltas, and open rejects in their own small table, rather
# than indexes on pieces.state rewritten on every transition.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    piece_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    prev_seq INTEGER,
    device TEXT,
    device_seq INTEGER,
    container TEXT,
    reason TEXT,
    data TEXT,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS device_events (
    device TEXT NOT NULL,
    device_seq INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (device, device_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pieces (
    piece_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    state TEXT NOT NULL,
    container TEXT,
    events INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pieces_container ON pieces (container) WHERE container IS NOT NULL;
CREATE TABLE IF NOT EXISTS rejects (piece_id TEXT PRIMARY KEY, job_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_counts (
    job_id TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (job_id, state)
) WITHOUT ROWID;
"""

REJECT_STATES = (PieceState.DIVERTED, PieceState.REPRINT_QUEUED, PieceState.HAND_FINISHED)
_CHUNK = 500  # host parameters per IN (...) query
_MAX_GROUP = 4096  # requests folded into one transaction at most
_CACHE_ROWS = 200_000  # pieces rows the writer keeps in memory at most

# The state machine as plain strings for the writer's hot path: kind -> {from state or None: to state}
_NEXT: dict[str, dict[str | None, str]] = {
    kind.value: {(s.value if s is not None else None): to.value for s in allowed}
    for kind, (allowed, to) in TRANSITIONS.items()
}
_STATE = {s.value: s for s in PieceState}
_DUPLICATE_FROM = {PieceState.INSERTED.value, PieceState.MAILED.value}
_REJECT_VALUES = frozenset(s.value for s in REJECT_STATES)


class Applied(NamedTuple):
    """The ledger's answer to one event: its number and the transition it made.

    A NamedTuple rather than a dataclass: one is built per event on the bulk-import path."""

    seq: int
    piece_id: str
    kind: PieceEventKind
    from_state: PieceState | None
    to_state: PieceState
    duplicate: bool = False  # a device event applied before: nothing changed this time


@dataclass(frozen=True, slots=True)
class PieceRecord:
    piece_id: str
    job_id: str
    state: PieceState
    container: str | None
    events: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    seq: int
    kind: PieceEventKind
    from_state: PieceState | None
    to_state: PieceState
    device: str | None
    device_seq: int | None
    container: str | None
    reason: str | None
    data: dict | None
    at: float


_new_applied = tuple.__new__  # skips the NamedTuple's Python-level __new__ on the hot path

# A piece's current row while a group is applied:
# (job_id, state, container, events, last_seq, changed, container_changed, existed_before_the_group)
_Row = tuple


@dataclass(slots=True)
class _Request:
    events: Sequence[PieceEvent]
    atomic: bool  # True: all-or-nothing batch; False: a single event
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


_STOP = object()


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection with the pragmas the ledger relies on."""
    con = sqlite3.connect(os.fspath(path), check_same_thread=False, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 10000")
    mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise LedgerError(f"{path}: could not switch the ledger to WAL mode (got {mode!r})")
    con.execute("PRAGMA synchronous = NORMAL")
    return con


def _create_schema(con: sqlite3.Connection, path: object) -> None:
    con.executescript(_SCHEMA)
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    elif int(row[0]) != SCHEMA_VERSION:
        raise LedgerError(f"{path}: ledger schema version {row[0]}, this pmc reads version {SCHEMA_VERSION}")


class _Writer:
    """Owns the write connection; runs in its own thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con = connect(path)
        _create_schema(self.con, path)
        self.requests: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        # pieces rows this writer committed, so a group need not read them back; emptied whenever
        # another connection has committed (PRAGMA data_version moved) or a group failed
        self._cache: dict[str, tuple] = {}
        self._data_version: int | None = None
        self._committed_rows: dict[str, _Row | None] = {}
        self.thread = threading.Thread(target=self._run, name=f"ledger[{path.name}].writer", daemon=True)

    def _run(self) -> None:
        try:
            while True:
                first = self.requests.get()
                if first is _STOP:
                    return
                group = [first]
                stop = False
                while len(group) < _MAX_GROUP:
                    try:
                        nxt = self.requests.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop = True
                        break
                    group.append(nxt)
                self._commit_group(group)  # type: ignore[arg-type]
                if stop:
                    return
        finally:
            self.con.close()

    def _commit_group(self, group: list[_Request]) -> None:
        outcomes: list[object] = []
        try:
            self.con.execute("BEGIN IMMEDIATE")
            try:
                version = self.con.execute("PRAGMA data_version").fetchone()[0]
                if version != self._data_version:
                    self._cache.clear()
                    self._data_version = version
                outcomes = self._apply_group(group)
                self.con.execute("COMMIT")
            except BaseException:
                self._cache.clear()
                self.con.execute("ROLLBACK")
                raise
            self._remember(self._committed_rows)
        except Exception as exc:  # the database itself failed: nothing of the group was applied
            logger.exception("ledger %s: a group of %d requests failed to commit", self.path, len(group))
            err = LedgerError(f"{self.path}: write failed: {exc}")
            outcomes = [err] * len(group)
        for request, outcome in zip(group, outcomes):
            _resolve(request, outcome)

    def _remember(self, rows: dict[str, _Row | None]) -> None:
        cache = self._cache
        for pid, r in rows.items():
            if r is not None and r[5]:
                cache[pid] = r[:5]
        excess = len(cache) - _CACHE_ROWS
        if excess > 0:  # drop the oldest entries
            for pid in list(itertools.islice(iter(cache), excess)):
                del cache[pid]

    def _apply_group(self, group: list[_Request]) -> list[object]:
        con = self.con
        seq = con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        rows, marks = self._load(group)
        self._committed_rows = rows
        now = time.time()
        event_rows: list[tuple] = []
        mark_rows: list[tuple] = []
        outcomes: list[object] = []
        apply = self._apply
        for request in group:
            if request.atomic:
                saved = (seq, len(event_rows), len(mark_rows))
                undo: list[tuple[str, _Row | None]] = []
                results: list[Applied] = []
                try:
                    for event in request.events:
                        seq, applied = apply(event, seq, rows, marks, now, event_rows, mark_rows, undo)
                        results.append(applied)
                except PieceError as exc:
                    for pid, before in reversed(undo):
                        rows[pid] = before
                    for r in mark_rows[saved[2]:]:
                        del marks[(r[0], r[1])]
                    seq = saved[0]
                    del event_rows[saved[1]:]
                    del mark_rows[saved[2]:]
                    outcomes.append(exc)
                else:
                    outcomes.append(results)
            else:
                try:
                    seq, applied = apply(request.events[0], seq, rows, marks, now, event_rows, mark_rows, None)
                except PieceError as exc:
                    outcomes.append(exc)
                else:
                    outcomes.append(applied)
        if not event_rows:
            return outcomes
        con.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", event_rows)
        if mark_rows:
            con.executemany("INSERT INTO device_events VALUES (?,?,?)", mark_rows)
        # three statements so that SQLite touches the container index only when a container changes
        new_rows, moved, stepped = [], [], []
        for pid, r in rows.items():
            if r is None or not r[5]:
                continue
            if not r[7]:
                new_rows.append((pid, *r[:5]))
            elif r[6]:
                moved.append((r[1], r[2], r[3], r[4], pid))
            else:
                stepped.append((r[1], r[3], r[4], pid))
        if new_rows:
            con.executemany("INSERT INTO pieces VALUES (?,?,?,?,?,?)", new_rows)
        if moved:
            con.executemany("UPDATE pieces SET state = ?, container = ?, events = ?, last_seq = ? WHERE piece_id = ?", moved)
        if stepped:
            con.executemany("UPDATE pieces SET state = ?, events = ?, last_seq = ? WHERE piece_id = ?", stepped)
        deltas: dict[tuple[str, str], int] = {}
        entered, left = [], []
        for r in event_rows:
            job, frm, to = r[2], r[4], r[5]
            if frm is not None:
                deltas[(job, frm)] = deltas.get((job, frm), 0) - 1
                if frm in _REJECT_VALUES and to not in _REJECT_VALUES:
                    left.append((r[1],))
            deltas[(job, to)] = deltas.get((job, to), 0) + 1
            if to in _REJECT_VALUES and frm not in _REJECT_VALUES:
                entered.append((r[1], job))
        if entered:
            con.executemany("INSERT OR IGNORE INTO rejects VALUES (?,?)", entered)
        if left:
            con.executemany("DELETE FROM rejects WHERE piece_id = ?", left)
        con.executemany(
            "INSERT INTO state_counts VALUES (?,?,?) ON CONFLICT (job_id, state) DO UPDATE SET n = n + excluded.n",
            [(j, s, d) for (j, s), d in deltas.items() if d],
        )
        return outcomes

    def _load(self, group: list[_Request]) -> tuple[dict[str, _Row | None], dict[tuple[str, int], int]]:
        """Read the current rows of every piece and the device marks the group touches."""
        ids: dict[str, None] = {}
        devices: dict[str, set[int]] = {}
        for request in group:
            for event in request.events:
                ids[event.piece_id] = None
                if event.device_seq is not None and event.device is not None:
                    devices.setdefault(event.device, set()).add(event.device_seq)
        rows: dict[str, _Row | None] = {}
        cache = self._cache
        missing = []
        for pid in ids:
            hit = cache.get(pid)
            if hit is None:
                rows[pid] = None
                missing.append(pid)
            else:
                rows[pid] = (*hit, False, False, True)
        con = self.con
        for i in range(0, len(missing), _CHUNK):
            chunk = missing[i : i + _CHUNK]
            q = f"SELECT {_PIECE_COLS} FROM pieces WHERE piece_id IN ({','.join('?' * len(chunk))})"
            for pid, job, state, container, n, last in con.execute(q, chunk):
                rows[pid] = (job, state, container, n, last, False, False, True)
        marks: dict[tuple[str, int], int] = {}
        for device, seqs in devices.items():
            seq_list = list(seqs)
            for i in range(0, len(seq_list), _CHUNK):
                chunk = seq_list[i : i + _CHUNK]
                q = f"SELECT device_seq, seq FROM device_events WHERE device = ? AND device_seq IN ({','.join('?' * len(chunk))})"
                for dseq, seq in con.execute(q, [device, *chunk]):
                    marks[(device, dseq)] = seq
        return rows, marks

    def _apply(
        self,
        event: PieceEvent,
        seq: int,
        rows: dict[str, _Row | None],
        marks: dict[tuple[str, int], int],
        now: float,
        event_rows: list[tuple],
        mark_rows: list[tuple],
        undo: list[tuple[str, _Row | None]] | None,
    ) -> tuple[int, Applied]:
        pid = event.piece_id
        kind = event.kind
        mark = None
        if event.device_seq is not None and event.device is not None:
            mark = (event.device, event.device_seq)
            if mark in marks:
                return seq, self._earlier(marks[mark], event_rows)
        row = rows[pid]
        current = row[1] if row is not None else None
        kind_value = kind._value_
        to = _NEXT[kind_value].get(current)
        if to is None:
            if current is None:
                raise UnknownPieceError(pid, None, kind.value)
            if kind in DUPLICATE_KINDS and current in _DUPLICATE_FROM:
                raise DuplicatePieceError(pid, current, kind.value)
            raise IllegalTransitionError(pid, current, kind.value)
        if row is None:
            job_id = event.job_id
            if not job_id:
                raise PieceError(f"piece {pid}: an 'indexed' event needs a job_id", piece_id=pid)
            container = event.container
            n = 0
            prev = None
            existed = moved = False
        else:
            job_id = row[0]
            if event.job_id is not None and event.job_id != job_id:
                raise PieceError(f"piece {pid} belongs to job {job_id}, not {event.job_id}", piece_id=pid)
            if event.container is not None and event.container != row[2]:
                container, moved = event.container, True
            else:
                container, moved = row[2], row[6]
            n = row[3]
            prev = row[4]
            existed = row[7]
        seq += 1
        if undo is not None:
            undo.append((pid, row))
        rows[pid] = (job_id, to, container, n + 1, seq, True, moved, existed)
        data = json.dumps(dict(event.data), sort_keys=True, separators=(",", ":")) if event.data else None
        event_rows.append(
            (seq, pid, job_id, kind_value, current, to, prev, event.device, event.device_seq,
             event.container, event.reason, data, now)
        )
        if mark is not None:
            marks[mark] = seq
            mark_rows.append((mark[0], mark[1], seq))
        return seq, _new_applied(Applied, (seq, pid, kind, _STATE[current] if current else None, _STATE[to], False))

    def _earlier(self, seq: int, pending: list[tuple]) -> Applied:
        for r in reversed(pending):
            if r[0] == seq:
                row = r
                break
        else:
            row = self.con.execute(
                "SELECT seq, piece_id, job_id, kind, from_state, to_state FROM events WHERE seq = ?", (seq,)
            ).fetchone()
        return Applied(seq, row[1], PieceEventKind(row[3]), _STATE[row[4]] if row[4] else None, _STATE[row[5]], True)


def _resolve(request: _Request, outcome: object) -> None:
    def settle() -> None:
        if request.future.done():
            return
        if isinstance(outcome, BaseException):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)

    try:
        request.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the caller's loop is closed; the outcome is in the ledger all the same
        pass


class Ledger:
    """The piece ledger. Use as `async with Ledger(path) as ledger:`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._writer: _Writer | None = None
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()

    async def __aenter__(self) -> "Ledger":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        if self._writer is not None:
            raise LedgerError(f"{self.path}: ledger already open")
        try:
            self._writer = await asyncio.to_thread(_Writer, self.path)
            self._reader = await asyncio.to_thread(connect, self.path)
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot open the ledger: {exc}") from exc
        self._writer.thread.start()

    async def aclose(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.requests.put(_STOP)
            await asyncio.to_thread(writer.thread.join)
        reader, self._reader = self._reader, None
        if reader is not None:
            with self._read_lock:
                reader.close()

    # -- writes --------------------------------------------------------------------------------
    def _submit(self, events: Sequence[PieceEvent], atomic: bool) -> asyncio.Future:
        if self._writer is None:
            raise LedgerError(f"{self.path}: the ledger is not open")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._writer.requests.put(_Request(events, atomic, future, loop))
        return future

    async def append(self, event: PieceEvent) -> Applied:
        """Apply one event; returns once it is committed. Raises a PieceError if refused."""
        return await self._submit((event,), atomic=False)

    async def append_many(self, events: Iterable[PieceEvent], *, batch: int = 500) -> list[Applied]:
        """Apply events in batches of `batch`, each all-or-nothing; stops at the first refused batch.

        With batch=0 the whole iterable is one all-or-nothing batch (a stream import)."""
        events = list(events)
        if batch <= 0:
            batch = max(1, len(events))
        results: list[Applied] = []
        futures = [self._submit(events[i : i + batch], atomic=True) for i in range(0, len(events), batch)]
        try:
            for future in futures:
                results.extend(await future)
        except BaseException:
            for future in futures:  # later batches were applied or refused on their own; collect them
                if not future.done():
                    await asyncio.wait([future])
                if not future.cancelled():
                    future.exception()
            raise
        return results

    # -- reads ---------------------------------------------------------------------------------
    async def _read(self, fn, *args):  # noqa: ANN001 - internal helper
        if self._reader is None:
            raise LedgerError(f"{self.path}: the ledger is not open")
        reader = self._reader

        def run():
            with self._read_lock:
                return fn(reader, *args)

        return await asyncio.to_thread(run)

    async def piece(self, piece_id: str) -> PieceRecord | None:
        return await self._read(_piece, piece_id)

    async def pieces(self, piece_ids: Iterable[str], *, per_query: int = _CHUNK) -> dict[str, PieceRecord | None]:
        """Each piece's record as `piece` gives it, None for one the ledger does not hold, in one read for many
        pieces (as `histories`): keyed by every ID given, in the order given (one given twice, once)."""
        return await self._read(_pieces, list(piece_ids), per_query)

    async def counts_by_state(self, job_id: str | None = None) -> dict[str, dict[PieceState, int]]:
        """{job_id: {state: pieces}}, for one job or all."""
        return await self._read(_counts, job_id)

    async def pieces_in_container(self, container: str) -> list[PieceRecord]:
        return await self._read(_container, container)

    async def open_rejects(self, job_id: str | None = None) -> list[PieceRecord]:
        """Pieces diverted and not yet reprinted, finished by hand and scanned, or pulled."""
        return await self._read(_rejects, job_id)

    async def history(self, piece_id: str) -> list[HistoryEntry]:
        return await self._read(_history, piece_id)

    async def histories(self, piece_ids: Iterable[str], *, per_query: int = _CHUNK) -> dict[str, list[HistoryEntry]]:
        """Every event of each piece, as `history` gives it, in one read for many pieces (a resume
        reads tens of thousands: one call each spent its time handing over to the reader thread).
        Pieces the ledger does not hold are absent from the answer."""
        return await self._read(_histories, list(piece_ids), per_query)

    async def event_count(self) -> int:
        return await self._read(lambda con: con.execute("SELECT count(*) FROM events").fetchone()[0])

    async def verify(self) -> list[str]:
        """Problems found by folding the event log and comparing it with the state table; [] when sound."""
        return await self._read(verify_connection)


def _record(row: tuple) -> PieceRecord:
    return PieceRecord(row[0], row[1], PieceState(row[2]), row[3], row[4], row[5])


_PIECE_COLS = "piece_id, job_id, state, container, events, last_seq"


def _piece(con: sqlite3.Connection, piece_id: str) -> PieceRecord | None:
    row = con.execute(f"SELECT {_PIECE_COLS} FROM pieces WHERE piece_id = ?", (piece_id,)).fetchone()
    return _record(row) if row else None


def _pieces(con: sqlite3.Connection, piece_ids: list[str], per_query: int) -> dict[str, PieceRecord | None]:
    out: dict[str, PieceRecord | None] = dict.fromkeys(piece_ids)
    unique = list(out)
    step = max(per_query, 1)
    for i in range(0, len(unique), step):
        chunk = unique[i:i + step]
        for r in con.execute(f"SELECT {_PIECE_COLS} FROM pieces WHERE piece_id IN ({','.join('?' * len(chunk))})",
                             chunk):
            out[r[0]] = _record(r)
    return out


def _counts(con: sqlite3.Connection, job_id: str | None) -> dict[str, dict[PieceState, int]]:
    if job_id is None:
        cur = con.execute("SELECT job_id, state, n FROM state_counts WHERE n != 0 ORDER BY job_id")
    else:
        cur = con.execute("SELECT job_id, state, n FROM state_counts WHERE job_id = ? AND n != 0", (job_id,))
    out: dict[str, dict[PieceState, int]] = {}
    for job, state, n in cur:
        out.setdefault(job, {})[PieceState(state)] = n
    return out


def _container(con: sqlite3.Connection, container: str) -> list[PieceRecord]:
    cur = con.execute(f"SELECT {_PIECE_COLS} FROM pieces WHERE container = ? ORDER BY piece_id", (container,))
    return [_record(r) for r in cur]


def _rejects(con: sqlite3.Connection, job_id: str | None) -> list[PieceRecord]:
    cols = ", ".join(f"p.{c.strip()}" for c in _PIECE_COLS.split(","))
    q = f"SELECT {cols} FROM rejects r JOIN pieces p ON p.piece_id = r.piece_id"
    args: tuple = ()
    if job_id is not None:
        q += " WHERE r.job_id = ?"
        args = (job_id,)
    return [_record(r) for r in con.execute(q + " ORDER BY p.last_seq", args)]


def _entry(r: tuple) -> HistoryEntry:
    return HistoryEntry(
        r[0], PieceEventKind(r[1]), PieceState(r[2]) if r[2] else None, PieceState(r[3]),
        r[4], r[5], r[6], r[7], json.loads(r[8]) if r[8] else None, r[9],
    )


def _history(con: sqlite3.Connection, piece_id: str) -> list[HistoryEntry]:
    # follow the chain of prev_seq back from the piece's last event: no index on the log needed
    cur = con.execute(
        "WITH RECURSIVE chain(seq) AS ("
        " SELECT last_seq FROM pieces WHERE piece_id = ?"
        " UNION ALL SELECT e.prev_seq FROM events e JOIN chain c ON e.seq = c.seq WHERE e.prev_seq IS NOT NULL)"
        " SELECT e.seq, kind, from_state, to_state, device, device_seq, container, reason, data, at"
        " FROM chain JOIN events e ON e.seq = chain.seq ORDER BY e.seq",
        (piece_id,),
    )
    return [_entry(r) for r in cur]


def _histories(con: sqlite3.Connection, piece_ids: list[str], per_query: int) -> dict[str, list[HistoryEntry]]:
    # the same chain walk as _history, for up to per_query pieces a statement
    out: dict[str, list[HistoryEntry]] = {}
    unique = list(dict.fromkeys(piece_ids))
    step = max(per_query, 1)
    for i in range(0, len(unique), step):
        chunk = unique[i:i + step]
        cur = con.execute(
            "WITH RECURSIVE chain(pid, seq) AS ("
            f" SELECT piece_id, last_seq FROM pieces WHERE piece_id IN ({','.join('?' * len(chunk))})"
            " UNION ALL SELECT c.pid, e.prev_seq FROM events e JOIN chain c ON e.seq = c.seq"
            " WHERE e.prev_seq IS NOT NULL)"
            " SELECT chain.pid, e.seq, kind, from_state, to_state, device, device_seq, container, reason, data, at"
            " FROM chain JOIN events e ON e.seq = chain.seq ORDER BY chain.pid, e.seq",
            chunk,
        )
        for r in cur:
            out.setdefault(r[0], []).append(_entry(r[1:]))
    return out


def fold(events: Iterable[tuple[str, PieceEventKind]]) -> dict[str, PieceState]:
    """The current state of every piece from (piece_id, kind) in log order; raises on an illegal step."""
    states: dict[str, PieceState] = {}
    for piece_id, kind in events:
        to = next_state(states.get(piece_id), kind)
        if to is None:
            raise IllegalTransitionError(piece_id, getattr(states.get(piece_id), "value", None), kind.value)
        states[piece_id] = to
    return states


def verify_connection(con: sqlite3.Connection) -> list[str]:
    """Fold the whole log (in one read transaction) and compare it with the state and count tables."""
    problems: list[str] = []
    con.execute("BEGIN")
    try:
        # piece -> (state, container, events, last_seq, job)
        states: dict[str, tuple[PieceState, str | None, int, int, str]] = {}
        prev = 0
        cur = con.execute("SELECT seq, piece_id, job_id, kind, from_state, to_state, prev_seq, container FROM events ORDER BY seq")
        for seq, pid, job, kind, frm, to, prev_seq, container in cur:
            if seq != prev + 1:
                problems.append(f"event numbers jump from {prev} to {seq}")
            prev = seq
            current = states.get(pid)
            cur_state = current[0] if current else None
            if (cur_state.value if cur_state else None) != frm:
                problems.append(f"event {seq} (piece {pid}) says from {frm!r}, the fold says {cur_state}")
            expected = next_state(cur_state, PieceEventKind(kind))
            if expected is None or expected.value != to:
                problems.append(f"event {seq} (piece {pid}): {kind!r} from {frm!r} to {to!r} is not a legal transition")
            if prev_seq != (current[3] if current else None):
                problems.append(f"event {seq} (piece {pid}) links back to event {prev_seq}, the piece's previous is {current[3] if current else None}")
            if current and current[4] != job:
                problems.append(f"event {seq} (piece {pid}) names job {job}, earlier events {current[4]}")
            n = current[2] + 1 if current else 1
            keep_container = container if container is not None else (current[1] if current else None)
            states[pid] = (PieceState(to), keep_container, n, seq, job)
        table = {
            r[0]: (PieceState(r[2]), r[3], r[4], r[5], r[1])
            for r in con.execute(f"SELECT {_PIECE_COLS} FROM pieces")
        }
        for pid in states.keys() - table.keys():
            problems.append(f"piece {pid} has events but no row in the state table")
        for pid in table.keys() - states.keys():
            problems.append(f"piece {pid} is in the state table but has no events")
        for pid in states.keys() & table.keys():
            if states[pid] != table[pid]:
                problems.append(f"piece {pid}: the state table says {table[pid]}, the fold of its events {states[pid]}")
        total = con.execute("SELECT coalesce(sum(events), 0) FROM pieces").fetchone()[0]
        if total != prev:
            problems.append(f"the state table counts {total} transitions, the log holds {prev} events")
        folded: dict[tuple[str, str], int] = {}
        for state, _c, _n, _l, job in states.values():
            folded[(job, state.value)] = folded.get((job, state.value), 0) + 1
        rejects = {r[0] for r in con.execute("SELECT piece_id FROM rejects")}
        folded_rejects = {pid for pid, v in states.items() if v[0] in REJECT_STATES}
        if rejects != folded_rejects:
            problems.append(f"the rejects table disagrees with the fold: {sorted(rejects ^ folded_rejects)[:5]}")
        counted = {(j, s): n for j, s, n in con.execute("SELECT job_id, state, n FROM state_counts WHERE n != 0")}
        if counted != folded:
            diff = sorted(set(counted.items()) ^ set(folded.items()))[:5]
            problems.append(f"state_counts disagrees with the fold: {diff}")
    finally:
        con.execute("COMMIT")
    return problems
