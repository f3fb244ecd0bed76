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
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from controller.errors import (
    DuplicatePieceError,
    IllegalTransitionError,
    LedgerError,
    PieceError,
    UnknownPieceError,
)
from controller.model import DUPLICATE_KINDS, PieceEvent, PieceEventKind, PieceState, next_state

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    piece_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    device TEXT,
    device_seq INTEGER,
    container TEXT,
    reason TEXT,
    data TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_piece ON events (piece_id);
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
CREATE INDEX IF NOT EXISTS pieces_job_state ON pieces (job_id, state);
CREATE INDEX IF NOT EXISTS pieces_container ON pieces (container) WHERE container IS NOT NULL;
CREATE INDEX IF NOT EXISTS pieces_rejects ON pieces (state)
    WHERE state IN ('diverted', 'reprint_queued', 'hand_finished');
"""

REJECT_STATES = (PieceState.DIVERTED, PieceState.REPRINT_QUEUED, PieceState.HAND_FINISHED)
_CHUNK = 500  # host parameters per IN (...) query
_MAX_GROUP = 4096  # requests folded into one transaction at most


@dataclass(frozen=True, slots=True)
class Applied:
    """The ledger's answer to one event: its number and the transition it made."""

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


@dataclass(slots=True)
class _Row:
    """A piece's current row while a group is being applied."""

    job_id: str
    state: PieceState
    container: str | None
    events: int
    last_seq: int
    exists: bool


@dataclass(slots=True)
class _Request:
    events: Sequence[PieceEvent]
    atomic: bool  # True: all-or-nothing batch; False: a single event
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


_STOP = object()


def connect(path: str | os.PathLike[str], *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas the ledger relies on."""
    if readonly:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        con = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    else:
        con = sqlite3.connect(os.fspath(path), check_same_thread=False, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 10000")
    if not readonly:
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
                outcomes = self._apply_group(group)
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
        except Exception as exc:  # the database itself failed: nothing of the group was applied
            logger.exception("ledger %s: a group of %d requests failed to commit", self.path, len(group))
            err = LedgerError(f"{self.path}: write failed: {exc}")
            outcomes = [err] * len(group)
        for request, outcome in zip(group, outcomes):
            _resolve(request, outcome)

    def _apply_group(self, group: list[_Request]) -> list[object]:
        con = self.con
        seq = con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        rows: dict[str, _Row | None] = {}
        marks: dict[tuple[str, int], int] = {}
        self._load(group, rows, marks)
        now = time.time()
        event_rows: list[tuple] = []
        mark_rows: list[tuple] = []
        outcomes: list[object] = []
        for request in group:
            if request.atomic:
                saved = (seq, len(event_rows), len(mark_rows))
                undo: list[tuple[str, _Row | None]] = []
                results: list[Applied] = []
                try:
                    for event in request.events:
                        seq, applied = self._apply(event, seq, rows, marks, now, event_rows, mark_rows, undo)
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
                    seq, applied = self._apply(request.events[0], seq, rows, marks, now, event_rows, mark_rows, None)
                except PieceError as exc:
                    outcomes.append(exc)
                else:
                    outcomes.append(applied)
        con.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", event_rows)
        if mark_rows:
            con.executemany("INSERT INTO device_events VALUES (?,?,?)", mark_rows)
        changed = [
            (pid, r.job_id, r.state.value, r.container, r.events, r.last_seq)
            for pid, r in rows.items()
            if r is not None and r.last_seq > 0 and not r.exists
        ]
        if changed:
            con.executemany(
                "INSERT INTO pieces VALUES (?,?,?,?,?,?) ON CONFLICT (piece_id) DO UPDATE SET"
                " state = excluded.state, container = excluded.container,"
                " events = excluded.events, last_seq = excluded.last_seq",
                changed,
            )
        return outcomes

    def _load(self, group: list[_Request], rows: dict[str, _Row | None], marks: dict[tuple[str, int], int]) -> None:
        """Read the current rows of every piece and the device marks the group touches."""
        ids: set[str] = set()
        devices: dict[str, set[int]] = {}
        for request in group:
            for event in request.events:
                ids.add(event.piece_id)
                if event.device is not None and event.device_seq is not None:
                    devices.setdefault(event.device, set()).add(event.device_seq)
        con = self.con
        id_list = list(ids)
        for i in range(0, len(id_list), _CHUNK):
            chunk = id_list[i : i + _CHUNK]
            q = f"SELECT piece_id, job_id, state, container, events, last_seq FROM pieces WHERE piece_id IN ({','.join('?' * len(chunk))})"
            for pid, job, state, container, n, last in con.execute(q, chunk):
                # exists=True until the row changes; a changed row is written back once
                rows[pid] = _Row(job, PieceState(state), container, n, last, True)
        for pid in id_list:
            rows.setdefault(pid, None)
        for device, seqs in devices.items():
            seq_list = list(seqs)
            for i in range(0, len(seq_list), _CHUNK):
                chunk = seq_list[i : i + _CHUNK]
                q = f"SELECT device_seq, seq FROM device_events WHERE device = ? AND device_seq IN ({','.join('?' * len(chunk))})"
                for dseq, seq in con.execute(q, [device, *chunk]):
                    marks[(device, dseq)] = seq

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
        mark = (event.device, event.device_seq) if event.device is not None and event.device_seq is not None else None
        if mark is not None and mark in marks:
            return seq, self._earlier(marks[mark], event, event_rows)
        row = rows[event.piece_id]
        current = row.state if row is not None else None
        to = next_state(current, event.kind)
        if to is None:
            if current is None:
                raise UnknownPieceError(event.piece_id, None, event.kind.value)
            if event.kind in DUPLICATE_KINDS and current in (PieceState.INSERTED, PieceState.MAILED):
                raise DuplicatePieceError(event.piece_id, current.value, event.kind.value)
            raise IllegalTransitionError(event.piece_id, current.value, event.kind.value)
        if row is None:
            if not event.job_id:
                raise PieceError(f"piece {event.piece_id}: an 'indexed' event needs a job_id", piece_id=event.piece_id)
            job_id = event.job_id
            container = event.container
            n = 0
        else:
            if event.job_id is not None and event.job_id != row.job_id:
                raise PieceError(
                    f"piece {event.piece_id} belongs to job {row.job_id}, not {event.job_id}", piece_id=event.piece_id
                )
            job_id = row.job_id
            container = event.container if event.container is not None else row.container
            n = row.events
        seq += 1
        if undo is not None:
            undo.append((event.piece_id, row))
        rows[event.piece_id] = _Row(job_id, to, container, n + 1, seq, False)
        data = json.dumps(dict(event.data), sort_keys=True, separators=(",", ":")) if event.data else None
        event_rows.append(
            (seq, event.piece_id, job_id, event.kind.value, current.value if current else None, to.value,
             event.device, event.device_seq, event.container, event.reason, data, now)
        )
        if mark is not None:
            marks[mark] = seq
            mark_rows.append((mark[0], mark[1], seq))
        return seq, Applied(seq, event.piece_id, event.kind, current, to)

    def _earlier(self, seq: int, event: PieceEvent, pending: list[tuple]) -> Applied:
        for r in reversed(pending):
            if r[0] == seq:
                row = r
                break
        else:
            row = self.con.execute(
                "SELECT seq, piece_id, job_id, kind, from_state, to_state FROM events WHERE seq = ?", (seq,)
            ).fetchone()
        return Applied(
            seq, row[1], PieceEventKind(row[3]), PieceState(row[4]) if row[4] else None, PieceState(row[5]), True
        )


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


def _counts(con: sqlite3.Connection, job_id: str | None) -> dict[str, dict[PieceState, int]]:
    if job_id is None:
        cur = con.execute("SELECT job_id, state, count(*) FROM pieces GROUP BY job_id, state ORDER BY job_id")
    else:
        cur = con.execute("SELECT job_id, state, count(*) FROM pieces WHERE job_id = ? GROUP BY state", (job_id,))
    out: dict[str, dict[PieceState, int]] = {}
    for job, state, n in cur:
        out.setdefault(job, {})[PieceState(state)] = n
    return out


def _container(con: sqlite3.Connection, container: str) -> list[PieceRecord]:
    cur = con.execute(f"SELECT {_PIECE_COLS} FROM pieces WHERE container = ? ORDER BY piece_id", (container,))
    return [_record(r) for r in cur]


def _rejects(con: sqlite3.Connection, job_id: str | None) -> list[PieceRecord]:
    states = tuple(s.value for s in REJECT_STATES)
    q = f"SELECT {_PIECE_COLS} FROM pieces WHERE state IN (?,?,?)"
    args: tuple = states
    if job_id is not None:
        q += " AND job_id = ?"
        args = (*states, job_id)
    return [_record(r) for r in con.execute(q + " ORDER BY last_seq", args)]


def _history(con: sqlite3.Connection, piece_id: str) -> list[HistoryEntry]:
    cur = con.execute(
        "SELECT seq, kind, from_state, to_state, device, device_seq, container, reason, data, at"
        " FROM events WHERE piece_id = ? ORDER BY seq",
        (piece_id,),
    )
    return [
        HistoryEntry(
            r[0], PieceEventKind(r[1]), PieceState(r[2]) if r[2] else None, PieceState(r[3]),
            r[4], r[5], r[6], r[7], json.loads(r[8]) if r[8] else None, r[9],
        )
        for r in cur
    ]


def fold(events: Iterable[tuple[str, PieceEventKind]]) -> dict[str, PieceState]:
    """The current state of every piece from (piece_id, kind) in log order; raises on an illegal step."""
    states: dict[str, PieceState] = {}
    for piece_id, kind in events:
        to = next_state(states.get(piece_id), kind)
        if to is None:
            raise IllegalTransitionError(piece_id, getattr(states.get(piece_id), "value", None), kind.value)
        states[piece_id] = to
    return states


def _iter_log(con: sqlite3.Connection) -> Iterator[tuple]:
    yield from con.execute("SELECT seq, piece_id, kind, from_state, to_state, container FROM events ORDER BY seq")


def verify_connection(con: sqlite3.Connection) -> list[str]:
    """Fold the whole log (in one read transaction) and compare it with the pieces table."""
    problems: list[str] = []
    con.execute("BEGIN")
    try:
        states: dict[str, tuple[PieceState, str | None, int, int]] = {}
        prev = 0
        for seq, pid, kind, frm, to, container in _iter_log(con):
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
            n = current[2] + 1 if current else 1
            keep_container = container if container is not None else (current[1] if current else None)
            states[pid] = (PieceState(to), keep_container, n, seq)
        table = {
            r[0]: (PieceState(r[2]), r[3], r[4], r[5])
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
    finally:
        con.execute("COMMIT")
    return problems
