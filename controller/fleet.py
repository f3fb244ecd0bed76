"""The printer fleet at work: watch every printer, route print jobs, track them, fail over, reconcile.

    report = await print_run(plant.printers, jobs, pieces, documents, ledger, grace_s=30)

One watcher task per printer (`printer[lp-3].watch`, all in one TaskGroup) polls IPP (printer-state,
reasons, the active job's impressions) and SNMP (device and printer status, error bits, page counter)
and merges them into one `PrinterView`; the decisions are the pure functions of `controller.fleet_plan`.

How work moves:
- Every print job is routed when the run starts (capability, state, expected finish = queue depth over
  speed) into a printer's queue, held here: a printer is sent one job at a time, when its last one is
  done, so the page counter read before and after a job is that job's alone (per-job reconciliation),
  and work not yet sent moves off a failed printer without a cancel. The ledger says SPOOLED (device =
  the printer) when a job is routed, PRINTED for each piece as soon as IPP confirms its last impression.
- A printer stopped with an error for `grace_s`, or silent for `grace_s`, loses its work: the job it
  prints is cancelled there (if it answers) and cut at a piece boundary after the last impression it
  confirmed; the pieces after the cut are routed elsewhere (SPOOLED again, with the reason), the sheets
  spoiled in the paper path and the delivered part of a cut piece are reported as spoils. The cut job's
  final count is read before its printer is sent anything else (and at the end of the run), once the sheets
  in its paper path at the cancel are out (the time of a few impressions at its speed after it was seen
  cancelled; the printer is sent nothing, and the run does not end, meanwhile): a sheet
  that was in flight at the cancel, or whatever a silent printer went on printing unheard (it is
  cancelled when it answers again), is reported as duplicate sheets to pull, with an alert; a silent printer's
  job then reconciles with them as duplicates, as a job lost in a restart does (a sheet in flight at an answered
  cancel stays a discrepancy).
- Every job is reconciled: planned impressions, IPP's job-impressions-completed, the SNMP counter
  delta and the spoils seen while stopped (`fleet_plan.reconcile`); a discrepancy is logged and returned
  as an alert in the `FleetReport`, never dropped.

- A printer that restarts (a power cut) loses its job table: a job it no longer knows, or whose job-id now
  names another job, is cut where it was last seen and its pieces moved; once the printer answers, its
  page counter (non-volatile) says how much of the job it made, and the sheets beyond the cut are named as
  duplicates to pull.
- Sending a job is recorded, twice, on the job's first piece as SPOOLED -> SPOOLED events (device = the
  printer; one event per job, the ledger's schema and state machine stay as they are): just before Print-Job
  (data: print job, IPP job-name, the page counter read then, `submitted: false`), and once it answers
  (the same and the IPP job-id, `submitted: true`).
- A run a controller did not finish (killed, crashed) is finished by `print_run(..., resume=True)` on the
  same ledger, jobs and printers: see `_Run.recover`. A job its printer does not hold was never sent when
  the ledger has no record of sending it; with one, the page counter's advance since the recorded counter
  says what the printer made of it before losing it (a restart): nothing (it may never have arrived), or
  sheets that are named as duplicates.

Device errors arrive as drivers.errors.DeviceError (the drivers map their libraries' exceptions) and
mean "not answering" here. Every wait on a device is bounded by `asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from controller.config import PrinterConfig
from controller.errors import DeviceError, PmcError
from controller.fleet_plan import (  # noqa: F401 - PAGE_LIST_FORMAT, STREAM_DOCUMENT_FORMATS: exported here too
    PAGE_LIST_FORMAT,
    STREAM_DOCUMENT_FORMATS,
    FailoverSplit,
    Health,
    PrinterCaps,
    PrinterView,
    Reconciliation,
    counter_delta,
    impressions_of,
    media_keyword,
    reconcile,
    route,
    should_fail_over,
    split_for_failover,
)
from controller.ledger import HistoryEntry, Ledger
from controller.model import Piece, PieceEvent, PieceEventKind, PieceState, Plex, PrintJob
from drivers import ipp as ippd
from drivers import snmp as snmpd

logger = logging.getLogger(__name__)

__all__ = [
    "FleetError", "NoPrinterError", "FleetTimeoutError", "FleetReport", "JobFigures", "PrinterFigures",
    "Failover", "Spoil", "print_run", "merge_health", "caps_of", "page_list_documents", "stream_documents",
    "file_documents", "STREAM_DOCUMENT_FORMATS", "PAGE_LIST_FORMAT", "poll_printers", "FleetMonitor", "PrinterLook",
]



class FleetError(PmcError):
    """The fleet could not print a run as asked."""


class NoPrinterError(FleetError):
    """A print job no configured printer can take; names why each printer refused."""

    def __init__(self, refusals: Mapping[str, str]) -> None:
        self.refusals = dict(refusals)  # print job -> why every printer refused it
        super().__init__("; ".join(f"no printer can take print job {pj}: {why}" for pj, why in refusals.items()))


class FleetTimeoutError(FleetError):
    """The run did not finish in the time allowed; names what was still outstanding."""


# ---------------------------------------------------------------------------------------------------
# the report


@dataclass(frozen=True, slots=True)
class Spoil:
    """Sheets to throw away and reprint (never silently replaced)."""

    printer: str
    print_job_id: str
    piece_id: str | None  # None: the sheets in the paper path at a jam (their pieces are reprinted)
    sheets: int
    impressions: int
    why: str
    first_sheet: int = 1  # of the piece: the spoiled sheets are first_sheet .. first_sheet + sheets - 1


@dataclass(frozen=True, slots=True)
class Failover:
    printer: str  # the printer the work moved off
    print_job_id: str
    reason: str
    confirmed_impressions: int  # where the job was cut
    printed: tuple[str, ...]  # pieces that stay (delivered whole)
    moved: tuple[str, ...]  # pieces sent elsewhere, in order
    to: str | None  # the printer they went to (None: waiting for one)
    remainder_print_job_id: str | None
    cut_piece: str | None
    spoiled_sheets: int


@dataclass(frozen=True, slots=True)
class JobFigures:
    """One print job (or a re-routed remainder of one) on one printer."""

    print_job_id: str
    printer: str
    ipp_job_id: int
    pieces: int
    planned_impressions: int
    delivered_impressions: int
    outcome: str  # completed | moved (cut, the rest printed elsewhere) | lost (cut; the printer lost it in a restart)


@dataclass(frozen=True, slots=True)
class PrinterFigures:
    name: str
    jobs: int
    delivered_impressions: int
    spoiled_impressions: int
    counter_delta: int | None  # the page counter's advance over the run (None without SNMP)
    health: str


@dataclass(frozen=True, slots=True)
class FleetReport:
    printers: tuple[PrinterFigures, ...]
    jobs: tuple[JobFigures, ...]
    failovers: tuple[Failover, ...]
    spoils: tuple[Spoil, ...]
    reconciliations: tuple[Reconciliation, ...]
    alerts: tuple[str, ...]
    unrouted: Mapping[str, str] = field(default_factory=dict)  # print job -> why no printer took it
    pieces_printed: int = 0
    seconds: float = 0.0
    resumed: tuple[str, ...] = ()  # a resumed run: what the ledger and the printers said of each print job

    @property
    def balanced(self) -> bool:
        return not self.alerts and all(r.balanced for r in self.reconciliations)

    def lines(self) -> list[str]:
        out = [f"{self.pieces_printed} pieces printed in {self.seconds:.1f}s on {len(self.printers)} printers; "
               f"{len(self.failovers)} failovers, {sum(s.sheets for s in self.spoils)} sheets spoiled"]
        out += [f"  resumed: {line}" for line in self.resumed]
        for p in self.printers:
            out.append(f"  {p.name:<12} {p.health:<9} {p.jobs:3d} jobs {p.delivered_impressions:7d} impressions "
                       f"delivered {p.spoiled_impressions:5d} spoiled  counter +{p.counter_delta if p.counter_delta is not None else '?'}")
        for f in self.failovers:
            out.append(f"  failover {f.print_job_id} off {f.printer} ({f.reason}): cut after impression "
                       f"{f.confirmed_impressions}, {len(f.moved)} pieces to {f.to or '(waiting)'}")
        for s in self.spoils:
            out.append(f"  spoiled {s.sheets} sheets on {s.printer} ({s.print_job_id}"
                       f"{', piece ' + s.piece_id if s.piece_id else ''}): {s.why}")
        for r in self.reconciliations:
            state = "balanced" if r.balanced else "DISCREPANCY: " + "; ".join(r.discrepancies)
            ipp = "lost (restart)" if r.ipp_lost else r.ipp_completed
            dup = f", duplicates {r.duplicates}" if r.duplicates else ""
            out.append(f"  reconcile {r.print_job_id} on {r.printer}: planned {r.planned}, IPP {ipp}, "
                       f"counter +{r.counter_delta if r.counter_delta is not None else '?'}, spoiled {r.spoiled}{dup}: "
                       f"{state}")
        out += [f"  ALERT {a}" for a in self.alerts]
        return out


# ---------------------------------------------------------------------------------------------------
# merging IPP and SNMP


_STOP_BITS = frozenset({
    snmpd.PrinterError.NO_PAPER, snmpd.PrinterError.NO_TONER, snmpd.PrinterError.DOOR_OPEN,
    snmpd.PrinterError.JAMMED, snmpd.PrinterError.OFFLINE, snmpd.PrinterError.INPUT_TRAY_MISSING,
    snmpd.PrinterError.OUTPUT_TRAY_MISSING, snmpd.PrinterError.MARKER_SUPPLY_MISSING,
    snmpd.PrinterError.OUTPUT_FULL,
})


def _bit_name(bit: snmpd.PrinterError) -> str:
    return "snmp-" + bit.name.lower().replace("_", "-")


def merge_health(ipp: ippd.PrinterStatus | None, snmp: snmpd.PrinterStatus | None) -> tuple[Health, frozenset[str]]:
    """One health and its reasons from an IPP status (None: IPP did not answer) and an SNMP status.

    IPP is what jobs go over, so a printer IPP cannot reach is OFFLINE whatever SNMP says. Either
    side reporting a stopping error stops it: an SNMP jam bit is not outvoted by a stale IPP idle.
    """
    snmp_reasons: set[str] = set()
    snmp_stops = False
    if snmp is not None and snmp.reachable:
        for bit in snmp.errors or ():
            snmp_reasons.add(_bit_name(bit))
            snmp_stops |= bit in _STOP_BITS
        if snmp.device_state is snmpd.DeviceState.DOWN:
            snmp_stops = True
            snmp_reasons.add("snmp-device-down")
    if ipp is None:
        reasons = {"ipp-not-answering"}
        if snmp is not None and not snmp.reachable:
            reasons.add("snmp-not-answering")
        return Health.OFFLINE, frozenset(reasons | snmp_reasons)
    reasons = {r for r in ipp.reasons if r != "none"} | snmp_reasons
    if not ipp.accepting_jobs:
        reasons.add("not-accepting-jobs")
    if (ipp.state == ippd.PrinterState.STOPPED or snmp_stops or not ipp.accepting_jobs
            or any(r.endswith("-error") for r in ipp.reasons)):
        return Health.STOPPED, frozenset(reasons)
    if reasons:
        return Health.WARNING, frozenset(reasons)
    if ipp.state == ippd.PrinterState.PROCESSING:
        return Health.PRINTING, frozenset()
    return Health.IDLE, frozenset()


def caps_of(config: PrinterConfig) -> PrinterCaps:
    return PrinterCaps(config.name, config.speed_ipm, frozenset(config.media), config.duplex, config.colour)


# ---------------------------------------------------------------------------------------------------
# documents for print jobs


def page_list_documents(pieces: Mapping[str, Piece], *, run: str) -> Callable[[PrintJob], bytes]:
    """Documents in the page-list format (one line per page: its control code or '-'), for tests and demos
    that need pages and no PDF. Every sheet carries its piece's control code; duplex pieces are padded
    to whole sheets."""
    from drivers.controlcode import ControlCode, encode, job_token, piece_token

    token = job_token(run)

    def make(job: PrintJob) -> bytes:
        lines: list[str] = []
        for pid in job.piece_ids:
            p = pieces[pid]
            for s in range(1, p.sheets + 1):
                code = encode(ControlCode(token, piece_token(p.sequence), s, p.sheets, frozenset(p.inserts)))
                lines += [code, "-"] if p.plex is Plex.DUPLEX else [code]
        return "\n".join(lines).encode()

    return make


def stream_documents(index, writer, stamps, work_dir: Path) -> Callable[[PrintJob], bytes]:  # noqa: ANN001
    """Documents written by a stream writer (`controller.streams`): for each print job, a print-ready file
    holding its pieces in its order with every sheet stamped (`stamps` from `paged.plan_stamps`)."""
    from controller.streams.base import EngineeringPlan, PrintJobPlan

    by_id = {p.piece_id: p for p in index.pieces}

    def make(job: PrintJob) -> bytes:
        sub = dataclasses.replace(index, pieces=tuple(by_id[pid] for pid in job.piece_ids))
        plan = EngineeringPlan(jobs=(PrintJobPlan(job.print_job_id, job.piece_ids),), stamps=stamps)
        (path,) = writer.write(sub, plan, Path(work_dir))
        return Path(path).read_bytes()

    return make



def file_documents(files: Mapping[str, Path], work_dir: Path, *, source: Callable[[], object] | None = None,
                   stamp: bool = True) -> Callable[[PrintJob], bytes]:
    """Documents from print-ready files, one per planned print job (`files`: print job ID -> its file), sent as
    they are. A print job cut from one of them (a failover's or a resumed run's remainder: `pj-1~2`, some of
    pj-1's pieces) is written anew into `work_dir`: from the stream the files were cut from when `source` gives
    its index (every sheet stamped with its control code, as `pmc stream split --stamp` does, unless `stamp` is
    False), else copied from its print job's own file with its sheets as they are there. (The PDF writer does
    not carry a page's machine-readable stamp over in that copy: give the source for PDF.)"""
    import threading

    from controller.streams.paged import plan_stamps
    from controller.streams.registry import index_stream, writer_for

    cutters: dict[str | None, tuple[Callable[[PrintJob], bytes], frozenset[str]]] = {}  # by job file (None: source)
    lock = threading.Lock()  # documents are made in worker threads, maybe two at once

    def make(job: PrintJob) -> bytes:
        base = job.print_job_id.split("~", 1)[0]
        path = files.get(base)
        if path is None:
            raise FleetError(f"print job {job.print_job_id}: the plan names no file for print job {base}")
        if job.print_job_id == base:
            try:
                return Path(path).read_bytes()
            except OSError as exc:
                raise FleetError(f"print job {base}: cannot read its file {path}: {exc.strerror}") from None
        key = None if source is not None else base
        with lock:
            if key not in cutters:
                index = source() if source is not None else index_stream(Path(path), sidecar=None)
                stamps = plan_stamps(index) if source is not None and stamp else {}
                cutters[key] = (stream_documents(index, writer_for(index.format), stamps, Path(work_dir)),
                                frozenset(x.piece_id for x in index.pieces))
            write, held = cutters[key]
            missing = [pid for pid in job.piece_ids if pid not in held]
            if missing:
                raise FleetError(f"print job {job.print_job_id}: {path if source is None else 'the stream'} holds "
                                 f"no piece {missing[0]}")
            return write(job)

    return make


# ---------------------------------------------------------------------------------------------------
# the run


@dataclass(slots=True, eq=False)
class _Work:
    job: PrintJob
    pieces: tuple[Piece, ...]
    reason: str | None = None  # why it was re-routed (None: first routing)
    since: float = 0.0  # when it began waiting for a printer
    uncertain_on: str | None = None  # a submission to this printer failed midway: it may hold the job
    counter_sent: int | None = None  # the page counter read just before that submission (None: not read)
    # printers not to route it to while a job of theirs is unsettled (see `_Run.held_off`): a printer that did not
    # answer when a resumed run asked for its jobs, and may hold (and print) these pieces under the old job
    exclude: frozenset[str] = frozenset()
    # the IPP job-name it is sent under: its print job and a token drawn for each placement, so that a job of an
    # earlier run (or an earlier placement) with the same print job name is never taken for it
    ipp_name: str = ""
    announced: str | None = None  # the printer its sending was recorded for (once per placement)


@dataclass(frozen=True, slots=True)
class _Placement:
    """A print job as an interrupted run left it on one printer (see `_Run.recover`)."""

    base: PrintJob  # the planned print job it is (part of)
    work: _Work  # every piece ever spooled there under its name, in print order
    device: str
    prefix: int  # its leading pieces printed under that name
    live: tuple[Piece, ...]  # its pieces still spooled there
    ipp_job: int | None  # the IPP job-id its submission record or a printed piece recorded
    sent_seq: int | None = None  # the ledger event recording the printer took it (None: no such record)
    counter_start: int | None = None  # the page counter read before it was sent, as recorded
    sending_seq: int | None = None  # the last ledger event recording it sent or being sent (None: never sent)


_FINAL = (ippd.JobState.COMPLETED, ippd.JobState.CANCELED, ippd.JobState.ABORTED)
# A job cancelled with sheets in its paper path still delivers them (and counts them) after it says it is cancelled:
# its final count is read once the printer had the time to print this many impressions (two duplex sheets) since
_SETTLE_IMPRESSIONS = 4
_FRESH = (PieceState.SORTED, PieceState.REPRINT_QUEUED)  # a piece ready to print (again)


def _some(ids: Sequence[str], most: int = 12) -> str:
    """Piece IDs for an alert: all of a few, the first `most` of many."""
    return ", ".join(ids) if len(ids) <= most else ", ".join(ids[:most]) + f" and {len(ids) - most} more"


def _state_name(state: object) -> str:
    return state.name.lower() if isinstance(state, ippd.JobState) else f"in state {state}"


@dataclass(slots=True)
class _Submission:
    work: _Work
    printer: str
    ipp_job: int
    counter_start: int | None
    state: object = ippd.JobState.PENDING
    confirmed: int = 0  # job-impressions-completed, last seen
    printed: int = 0  # pieces written PRINTED (a prefix of work.pieces)
    spoiled_seen: int = 0  # impressions made and not delivered, seen while stopped
    moved_at: int | None = None  # confirmed impressions when its work moved off
    moved_time: float = 0.0
    silent: bool = False  # the printer was not answering when its work moved
    seen_at_poll: int = 0  # job-impressions-completed at the previous poll
    lost: bool = False  # the printer no longer knows the job (it restarted): only its page counter can tell
    resumed: bool = False  # a cut job a resumed run found: cut after the pieces printed under it
    final_at: float | None = None  # when it was seen cancelled (or otherwise final): its count settles after that
    sends_at: int | None = None  # its printer's `sends` when it was cut: its counter start holds while they stay so


@dataclass(slots=True)
class _Printer:
    config: PrinterConfig
    caps: PrinterCaps
    ipp: ippd.IppPrinter
    snmp: snmpd.SnmpPrinter | None
    view: PrinterView
    queue: deque[_Work] = field(default_factory=deque)
    active: _Submission | None = None
    orphans: list[_Submission] = field(default_factory=list)
    snmp_status: snmpd.PrinterStatus | None = None
    counter_first: int | None = None
    counter_last: int | None = None
    jobs: int = 0
    delivered: int = 0
    spoiled: int = 0
    sends: int = 0  # Print-Job requests sent to it


class _Run:
    def __init__(
        self,
        printers: Sequence[PrinterConfig],
        ledger: Ledger,
        documents: Callable[[PrintJob], bytes],
        *,
        document_format: str,
        grace_s: float,
        poll_s: float,
        io_timeout_s: float,
        route_timeout_s: float,
        orphan_timeout_s: float,
    ) -> None:
        names = [p.name for p in printers]
        if len(set(names)) != len(names):
            raise FleetError(f"printer names repeat: {names}")
        self.configs = list(printers)
        self.ledger = ledger
        self.documents = documents
        self.document_format = document_format
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.io_timeout_s = io_timeout_s
        self.route_timeout_s = route_timeout_s
        self.orphan_timeout_s = orphan_timeout_s
        self.printers: dict[str, _Printer] = {}
        self.snmp_manager: snmpd.SnmpManager | None = None
        self.waiting: list[_Work] = []
        self.route_lock = asyncio.Lock()
        self.stop = asyncio.Event()
        self.failovers: list[Failover] = []
        self.spoils: list[Spoil] = []
        self.reconciliations: list[Reconciliation] = []
        self.alerts: list[str] = []
        self.job_figures: list[JobFigures] = []
        self.unrouted: dict[str, str] = {}
        self.printed_pieces = 0
        self.remainders: dict[str, int] = {}
        self.stepping = 0
        self.resumed: list[str] = []

    # -- life cycle --

    async def open(self) -> None:
        if any(c.snmp_url for c in self.configs):
            self.snmp_manager = snmpd.SnmpManager()
        for c in self.configs:
            snmp = None
            if c.snmp_url and self.snmp_manager is not None:
                snmp = await self.snmp_manager.open_printer(c.snmp_url, timeout=self.io_timeout_s, retries=0, name=c.name)
            client = ippd.IppPrinter(c.ipp_url, timeout=self.io_timeout_s, busy_retries=3, name=c.name)
            self.printers[c.name] = _Printer(c, caps_of(c), client, snmp, PrinterView(c.name, Health.UNKNOWN))

    async def aclose(self) -> None:
        for p in self.printers.values():
            await p.ipp.aclose()
        if self.snmp_manager is not None:
            await self.snmp_manager.aclose()

    def views(self) -> dict[str, PrinterView]:
        return {name: p.view for name, p in self.printers.items()}

    def caps(self) -> list[PrinterCaps]:
        return [p.caps for p in self.printers.values()]

    def alert(self, message: str) -> None:
        logger.warning("fleet: %s", message)
        self.alerts.append(message)

    # -- the run --

    async def run(self, jobs: Sequence[PrintJob], pieces: Mapping[str, Piece], *, resume: bool = False) -> None:
        works = []
        for job in jobs:
            missing = [pid for pid in job.piece_ids if pid not in pieces]
            if missing:
                raise FleetError(f"print job {job.print_job_id} names pieces not given: {missing[:5]}")
            works.append(_Work(job, tuple(pieces[pid] for pid in job.piece_ids)))
        able = {name: PrinterView(name, Health.IDLE) for name in self.printers}
        refusals = {w.job.print_job_id: route(w.job, self.caps(), able).explain()
                    for w in works if route(w.job, self.caps(), able).printer is None}
        if refusals:
            raise NoPrinterError(refusals)
        async with asyncio.TaskGroup() as tg:
            for p in self.printers.values():
                tg.create_task(self.poll(p), name=f"printer[{p.config.name}].first-poll")
        for p in self.printers.values():
            p.counter_first = p.counter_last
        if resume:
            works = await self.recover(works)
        for w in works:
            w.since = time.monotonic()
            await self.place(w)
        async with asyncio.TaskGroup() as tg:
            for p in self.printers.values():
                tg.create_task(self.watch(p), name=f"printer[{p.config.name}].watch")
        for p in self.printers.values():
            await self.close_cut_jobs(p)

    def finished(self) -> bool:
        if self.stepping or self.waiting or any(p.queue or p.active for p in self.printers.values()):
            return False
        now = time.monotonic()
        # a cancelled cut job is waited for until its count has settled (`settled`), so that the run's last reading
        # of it counts the sheets still in its paper path at the cancel
        return all(self.settled(p, o) if self.cancelled(o) else now - o.moved_time >= self.orphan_timeout_s
                   for p in self.printers.values() for o in p.orphans)

    async def watch(self, p: _Printer) -> None:
        while not self.stop.is_set():
            await self.poll(p)
            # a step may hold work no queue shows (taken off a printer, not yet routed): while any
            # watcher is in one, the run is not finished
            self.stepping += 1
            try:
                await self.step(p)
                await self.route_waiting()
            finally:
                self.stepping -= 1
            if self.finished():
                self.stop.set()
                break
            try:
                async with asyncio.timeout(self.poll_s):
                    await self.stop.wait()
            except TimeoutError:
                pass

    # -- polling --

    async def snmp_poll(self, p: _Printer) -> snmpd.PrinterStatus | None:
        if p.snmp is None:
            return None
        try:
            async with asyncio.timeout(self.io_timeout_s * 2 + 1):
                status = await p.snmp.poll()
        except (TimeoutError, DeviceError) as exc:
            logger.debug("fleet: %s SNMP poll failed: %s", p.config.name, exc)
            return None
        p.snmp_status = status
        if status.reachable and status.page_count is not None:
            p.counter_last = status.page_count
            if p.counter_first is None:
                p.counter_first = status.page_count
        return status

    async def job_status(self, p: _Printer, sub: _Submission) -> ippd.JobStatus | None:
        """The job's status on its printer (None: no answer, or the printer lost the job)."""
        if sub.lost:
            return None
        try:
            async with asyncio.timeout(self.io_timeout_s + 1):
                js = await p.ipp.get_job_attributes(sub.ipp_job)
        except ippd.IppNotFoundError:
            self.lose(p, sub, "it does not know the job-id any more")
            return None
        except (TimeoutError, DeviceError) as exc:
            logger.debug("fleet: %s job %d status failed: %s", p.config.name, sub.ipp_job, exc)
            return None
        if js.name is not None and js.name != sub.work.ipp_name:
            self.lose(p, sub, f"its job-id now names another job ({js.name!r})")
            return None
        sub.state = js.state
        if self.cancelled(sub) and sub.final_at is None:
            sub.final_at = time.monotonic()
        if js.impressions_completed is not None:
            sub.confirmed = js.impressions_completed
        return js

    def lose(self, p: _Printer, sub: _Submission, why: str) -> None:
        """The printer restarted (a power cut) and lost the job with its job table: IPP's count went with it."""
        sub.lost = True
        sub.state = ippd.JobState.ABORTED
        logger.warning("fleet: %s lost job %d (%s), last seen at impression %d: %s", p.config.name, sub.ipp_job,
                       sub.work.job.print_job_id, sub.confirmed, why)

    async def poll(self, p: _Printer) -> None:
        ipp_status = None
        try:
            async with asyncio.timeout(self.io_timeout_s + 1):
                ipp_status = await p.ipp.status()
        except (TimeoutError, DeviceError) as exc:
            logger.debug("fleet: %s IPP status failed: %s", p.config.name, exc)
        before = None
        if p.active is not None and ipp_status is not None:
            js = await self.job_status(p, p.active)
            before = js.impressions_completed if js else None
        snmp_status = await self.snmp_poll(p)
        if ipp_status is not None:
            for orphan in p.orphans:
                if orphan.ipp_job:
                    await self.job_status(p, orphan)
        health, reasons = merge_health(ipp_status, snmp_status)
        now = time.monotonic()
        since = p.view.since if health is p.view.health else now
        if p.active is not None and before is not None and before > p.active.seen_at_poll:
            # it delivered since the last poll: whatever stops it now began after that
            since = now
        if p.active is not None and before is not None:
            p.active.seen_at_poll = before
        if health is not p.view.health or reasons != p.view.reasons:
            logger.info("fleet: %s is %s%s", p.config.name, health.value,
                        f" ({', '.join(sorted(reasons))})" if reasons else "")
        p.view = PrinterView(p.config.name, health, reasons, self.queued_impressions(p), since)
        sub = p.active
        if (sub is not None and health is Health.STOPPED and before is not None and sub.counter_start is not None
                and snmp_status is not None and snmp_status.page_count is not None):
            # the counter moved more than IPP delivered: sheets spoiled in the paper path. Counted only
            # when the job stood still across the SNMP read, so a printer resuming meanwhile cannot fool it.
            js = await self.job_status(p, sub)
            if js is not None and js.impressions_completed == before:
                made = counter_delta(sub.counter_start, snmp_status.page_count)
                sub.spoiled_seen = max(sub.spoiled_seen, made - before)
                logger.debug("fleet: %s stopped at impression %d of %s, %d made: %d spoiled", p.config.name,
                             before, sub.work.job.print_job_id, made, made - before)
        elif sub is not None and health is Health.STOPPED:
            logger.debug("fleet: %s stopped, spoils not measurable this poll (IPP job %s, SNMP %s)", p.config.name,
                         before, snmp_status.page_count if snmp_status else None)

    def queued_impressions(self, p: _Printer) -> int:
        n = sum(w.job.impressions for w in p.queue)
        if p.active is not None:
            n += max(0, p.active.work.job.impressions - p.active.confirmed)
        return n

    # -- one watcher step --

    async def step(self, p: _Printer) -> None:
        if p.active is not None:
            await self.track(p)
        for orphan in list(p.orphans):
            await self.settle_orphan(p, orphan)
        now = time.monotonic()
        if (p.active is not None or p.queue) and should_fail_over(p.view, now, self.grace_s):
            why = f"{p.view.health.value}"
            if p.view.reasons:
                why += f" ({', '.join(sorted(p.view.reasons))})"
            await self.fail_over(p, f"{why} for {now - p.view.since:.1f}s")
        elif p.active is None and p.queue and p.view.health.can_take_work:
            await self.submit(p)

    async def measure_spoils(self, p: _Printer, sub: _Submission, before: int | None) -> None:
        """Spoiled impressions of a job that stands still: the counter's advance since it was sent, less what IPP
        says was delivered; read only if IPP's count is the same on both sides of the SNMP read."""
        if before is None or sub.counter_start is None:
            return
        status = await self.snmp_poll(p)
        if status is None or not status.reachable or status.page_count is None:
            return
        js = await self.job_status(p, sub)
        if js is None or js.impressions_completed != before:
            return
        made = counter_delta(sub.counter_start, status.page_count)
        sub.spoiled_seen = max(sub.spoiled_seen, made - before)

    async def mark_printed(self, p: _Printer, sub: _Submission, printed: Sequence[str]) -> None:
        new = printed[sub.printed:]
        if not new:
            return
        data = {"print_job": sub.work.job.print_job_id, "ipp_job": sub.ipp_job}
        await self.ledger.append_many(
            [PieceEvent(PieceEventKind.PRINTED, pid, device=p.config.name, data=data) for pid in new], batch=0)
        sub.printed += len(new)
        self.printed_pieces += len(new)

    async def track(self, p: _Printer) -> None:
        sub = p.active
        assert sub is not None
        await self.mark_printed(p, sub, split_for_failover(sub.work.pieces, sub.confirmed).printed)
        if sub.state == ippd.JobState.COMPLETED:
            await self.complete(p, sub)
        elif sub.lost:
            # it restarted within the grace time and answers again: only the lost job moves, its queue stays
            p.active = None
            await self.fail_over_job(p, sub, f"the printer lost job {sub.ipp_job} in a restart (power cut?)")
        elif sub.state in (ippd.JobState.CANCELED, ippd.JobState.ABORTED):
            await self.fail_over(p, f"the printer {ippd.JobState(sub.state).name.lower()} job {sub.ipp_job}")

    async def complete(self, p: _Printer, sub: _Submission) -> None:
        p.active = None
        status = await self.snmp_poll(p)
        end = status.page_count if status is not None and status.reachable else None
        planned = sub.work.job.impressions
        if sub.confirmed >= planned:
            await self.mark_printed(p, sub, tuple(x.piece_id for x in sub.work.pieces))
        self.close_submission(p, sub, planned, sub.confirmed, end, "completed")
        if sub.confirmed < planned:
            # completed short: what IPP did not confirm is printed elsewhere (the discrepancy is raised)
            await self.move(p, sub, sub.confirmed, f"completed with {sub.confirmed} of {planned} impressions")

    def close_submission(self, p: _Printer, sub: _Submission, planned: int, ipp_completed: int | None,
                         counter_end: int | None, outcome: str, *, duplicates: int = 0, ipp_lost: bool = False) -> None:
        r = reconcile(sub.work.job.print_job_id, planned, ipp_completed=ipp_completed,
                      counter_start=sub.counter_start if counter_end is not None else None,
                      counter_end=counter_end, spoiled=sub.spoiled_seen, printer=p.config.name,
                      duplicates=duplicates, ipp_lost=ipp_lost)
        self.reconciliations.append(r)
        for d in r.discrepancies:
            self.alert(f"print job {r.print_job_id} on {p.config.name}: {d}")
        delivered = sub.confirmed if ipp_lost else ipp_completed or 0
        p.delivered += delivered
        p.spoiled += sub.spoiled_seen
        self.job_figures.append(JobFigures(sub.work.job.print_job_id, p.config.name, sub.ipp_job, len(sub.work.pieces),
                                           sub.work.job.impressions, delivered, outcome))

    # -- submitting --

    async def submit(self, p: _Printer) -> None:
        work = p.queue[0]
        job = work.job
        if work.uncertain_on == p.config.name and await self.adopt(p, work):
            return
        await self.close_cut_jobs(p)
        if any(self.cancelled(o) for o in p.orphans):
            return  # their final count is not read or not settled yet: not before the counter moves again
        status = await self.snmp_poll(p)
        counter_start = status.page_count if status is not None and status.reachable else None
        document = await asyncio.to_thread(self.documents, job)
        if work.announced != p.config.name:
            # a kill from here until the answer is recorded leaves this: the counter then says what it made
            await self.record_submission(p, work, None, counter_start)
            work.announced = p.config.name
        attributes = [ippd.Attribute("media", media_keyword(job.media), ippd.Tag.KEYWORD)]
        if job.plex is Plex.DUPLEX:
            attributes.append(ippd.Attribute("sides", "two-sided-long-edge", ippd.Tag.KEYWORD))
        p.sends += 1
        try:
            async with asyncio.timeout(self.io_timeout_s + 1):
                js = await p.ipp.print_job(document, document_format=self.document_format,
                                           job_name=work.ipp_name, attributes=attributes)
        except ippd.IppClientError as exc:
            # refused (format, attributes...): this printer cannot print it; another may
            p.queue.popleft()
            self.alert(f"{p.config.name} refused print job {job.print_job_id}: {exc}")
            work.reason = f"refused by {p.config.name}: {exc}"
            await self.place(work, exclude=frozenset({p.config.name}))
            return
        except (TimeoutError, DeviceError) as exc:
            # it may have been accepted before the connection failed: look for it by name before sending again
            logger.warning("fleet: submitting %s to %s failed: %s", job.print_job_id, p.config.name, exc)
            work.uncertain_on = p.config.name
            work.counter_sent = counter_start  # the job's counter start, if the printer took it
            return
        p.queue.popleft()
        self.start_submission(p, work, js.job_id, counter_start)
        await self.record_submission(p, work, js.job_id, counter_start)

    async def record_submission(self, p: _Printer, work: _Work, ipp_job: int | None, counter_start: int | None) -> None:
        """Sending the job (`ipp_job` None: about to send it) or the printer taking it, in the ledger: a SPOOLED ->
        SPOOLED event of its first piece.

        One event per job, not per piece: a resume reads every piece's history of the job anyway. No
        device_seq: this is the controller's own act, and an IPP job-id is no event number the ledger could
        dedupe on (a printer may number its jobs from 1 again after a restart, and a later submission would
        then be dropped as a replay). `reason` repeats the routing's, so the piece's last SPOOLED event still
        says why it is where it is."""
        data: dict[str, object] = {"print_job": work.job.print_job_id, "job_name": work.ipp_name,
                                   "printer": p.config.name, "submitted": ipp_job is not None}
        if ipp_job is not None:
            data["ipp_job"] = ipp_job
        if counter_start is not None:
            data["counter"] = counter_start
        await self.ledger.append_many([PieceEvent(PieceEventKind.SPOOLED, work.pieces[0].piece_id,
                                                  device=p.config.name, reason=work.reason, data=data)], batch=0)

    def start_submission(self, p: _Printer, work: _Work, ipp_job: int, counter_start: int | None) -> None:
        p.active = _Submission(work, p.config.name, ipp_job, counter_start)
        p.jobs += 1
        logger.info("fleet: %s printing %s as job %d (%d pieces, %d impressions)", p.config.name,
                    work.job.print_job_id, ipp_job, len(work.pieces), work.job.impressions)

    async def jobs_named(self, p: _Printer, name: str) -> list[ippd.JobStatus] | None:
        """The printer's jobs called `name` that were not cancelled or aborted; None when it does not answer."""
        jobs = await self.job_table(p.config.name)
        if jobs is None:
            return None
        dead = (ippd.JobState.CANCELED, ippd.JobState.ABORTED)
        return [js for js in jobs if js.name == name and js.state not in dead]

    async def adopt(self, p: _Printer, work: _Work) -> bool:
        """A submission whose answer was lost: if the printer holds the job, track it rather than send it twice.

        Its counter start is the page counter read just before it was sent: the printer was sent nothing since (its
        queue's head is this job until it is found or sent again), so the counter's advance since is this job's, and
        it is reconciled (or counted, if the printer loses it in a restart) as any job is."""
        found = await self.jobs_named(p, work.ipp_name)
        if found is None:
            return True  # still not answering: try again on a later step
        work.uncertain_on = None
        if found:
            p.queue.popleft()
            self.start_submission(p, work, found[0].job_id, work.counter_sent)
            await self.record_submission(p, work, found[0].job_id, work.counter_sent)
            logger.warning("fleet: %s holds %s as job %d although its answer was lost: tracking it, not resending",
                           p.config.name, work.job.print_job_id, found[0].job_id)
            return True
        return False

    # -- routing --

    async def place(self, work: _Work, *, exclude: frozenset[str] = frozenset(), retry: bool = False) -> bool:
        """Route `work` to a printer's queue and write SPOOLED; or keep it waiting for one.

        `retry`: `work` comes from the waiting list, which every watcher retries; another may have
        placed it while this one waited for the lock."""
        async with self.route_lock:
            if retry and work not in self.waiting:
                return True
            for p in self.printers.values():
                p.view = dataclasses.replace(p.view, queued_impressions=self.queued_impressions(p))
            r = route(work.job, self.caps(), self.views(), exclude=exclude | self.held_off(work))
            if r.printer is None:
                if work not in self.waiting:
                    logger.info("fleet: %s waits for a printer: %s", work.job.print_job_id, r.explain())
                    work.since = time.monotonic()
                    self.waiting.append(work)
                return False
            work.ipp_name = f"{work.job.print_job_id} {secrets.token_hex(4)}"
            work.announced = None
            data = {"print_job": work.job.print_job_id, "job_name": work.ipp_name,
                    "expected_minutes": round(r.expected_minutes or 0, 3)}
            await self.ledger.append_many(
                [PieceEvent(PieceEventKind.SPOOLED, x.piece_id, device=r.printer, reason=work.reason, data=data)
                 for x in work.pieces], batch=0)
            if work in self.waiting:
                self.waiting.remove(work)
            self.printers[r.printer].queue.append(work)
            logger.info("fleet: %s routed to %s (expected %.1f min)%s", work.job.print_job_id, r.printer,
                        r.expected_minutes or 0, f": {work.reason}" if work.reason else "")
            return True

    def held_off(self, work: _Work) -> frozenset[str]:
        """The printers of `work.exclude` it still stays off: those holding a cut job not yet settled (cancelled, or
        found finished or lost). Once a printer's are settled, it may take the work (it is no longer excluded): the
        final count of its cut jobs is read before it is sent anything (`submit`)."""
        work.exclude = frozenset(name for name in work.exclude if (p := self.printers.get(name)) is not None
                                 and any(not self.cancelled(o) for o in p.orphans))
        return work.exclude

    async def route_waiting(self) -> None:
        for work in list(self.waiting):
            if await self.place(work, retry=True):
                continue
            if work not in self.waiting:
                continue
            if time.monotonic() - work.since >= self.route_timeout_s:
                self.waiting.remove(work)
                why = route(work.job, self.caps(), self.views()).explain()
                self.unrouted[work.job.print_job_id] = why
                self.alert(f"print job {work.job.print_job_id} ({len(work.pieces)} pieces) found no printer in "
                           f"{self.route_timeout_s:g}s: {why}")

    def remainder_job(self, job: PrintJob, pieces: Sequence[Piece]) -> PrintJob:
        base = job.print_job_id.split("~", 1)[0]
        n = self.remainders[base] = self.remainders.get(base, 0) + 1
        return dataclasses.replace(
            job, print_job_id=f"{base}~{n}", piece_ids=tuple(x.piece_id for x in pieces),
            sheets=sum(x.sheets for x in pieces), impressions=sum(impressions_of(x) for x in pieces))

    # -- resuming an interrupted run --

    async def recover(self, works: list[_Work]) -> list[_Work]:
        """What an interrupted run left, from the ledger and the printers; returns the work still to route.

        The ledger records a print job's pieces SPOOLED to a printer (data: print_job) when it is routed,
        which is before it is sent; its first piece SPOOLED again just before it is sent (data: submitted
        false, the page counter then) and once the printer took it (submitted true, ipp_job); and PRINTED
        (data: print_job, ipp_job) as IPP confirms them. Each
        (printer, print job) a piece was ever spooled under is a placement; its pieces in print order are
        what the printer was (or would have been) sent, those printed under it lead. A placement whose pieces
        still stand spooled there is live: its job is looked up on the printer. One whose pieces have moved
        on (a failover) is looked up too: sheets it delivered beyond its printed pieces are duplicates.
        """
        # the pieces' histories in a few reads (Ledger.histories); the last event of each gives its state
        all_histories: dict[str, list[HistoryEntry]] = await self.ledger.histories(
            x.piece_id for w in works for x in w.pieces)
        states: dict[str, PieceState] = {}
        for w in works:
            for x in w.pieces:
                entries = all_histories.get(x.piece_id)
                if not entries:
                    raise FleetError(f"print job {w.job.print_job_id}: piece {x.piece_id} is not in the ledger")
                states[x.piece_id] = entries[-1].to_state
        to_route: list[_Work] = []
        started: list[tuple[_Work, dict[str, list]]] = []
        for w in works:
            if all(states[x.piece_id] in _FRESH for x in w.pieces):
                to_route.append(w)
                self.resumed.append(f"{w.job.print_job_id}: never routed; routed now")
                continue
            histories = {x.piece_id: all_histories[x.piece_id] for x in w.pieces}
            started.append((w, histories))
            for entries in histories.values():
                for h in entries:  # every ~n name ever used, a reprint's earlier life included
                    if h.kind is PieceEventKind.SPOOLED and h.data and isinstance(h.data.get("print_job"), str):
                        base, _, n = h.data["print_job"].partition("~")
                        if n.isdigit():
                            self.remainders[base] = max(self.remainders.get(base, 0), int(n))
        placements: list[_Placement] = []
        latest: dict[str, int] = {}  # printer -> the last sending recorded to it
        evidence = False  # a job of the run printed or held by a printer
        for w, histories in started:
            mine = self.placements_of(w, histories, states)
            for pl in mine:
                if pl.sending_seq is not None:
                    latest[pl.device] = max(latest.get(pl.device, 0), pl.sending_seq)
                evidence |= pl.prefix > 0
            # a placement printed whole before the controller stopped holds nothing to look for
            placements += [pl for pl in mine if pl.prefix < len(pl.work.pieces)]
            live = {x.piece_id for pl in mine for x in pl.live}
            astray = [x for x in w.pieces if states[x.piece_id] is PieceState.SPOOLED and x.piece_id not in live]
            if astray:  # spooled by something else than the fleet (no print job named): nothing to look for
                to_route.append(_Work(self.remainder_job(w.job, astray), tuple(astray),
                                      reason="resumed: spooled with no print job recorded"))
                self.alert(f"print job {w.job.print_job_id}: pieces {_some([x.piece_id for x in astray])} were "
                           f"spooled with no print job recorded: printed again as {to_route[-1].job.print_job_id}; "
                           f"check the printers' output for them")
            unsent = [x for x in w.pieces if states[x.piece_id] in _FRESH]
            if unsent:  # not the fleet's doing (one print job's pieces are spooled together): route them all the same
                to_route.append(_Work(self.remainder_job(w.job, unsent), tuple(unsent),
                                      reason="resumed: still sorted although its print job was routed"))
                self.resumed.append(f"{w.job.print_job_id}: {len(unsent)} pieces still sorted; routed as "
                                    f"{to_route[-1].job.print_job_id}")
        # every printer asked at once: silent ones cost one timeout together, not one each
        async with asyncio.TaskGroup() as tg:
            asked = {name: tg.create_task(self.job_table(name), name=f"printer[{name}].resume-jobs")
                     for name in dict.fromkeys(pl.device for pl in placements)}
        tables = {name: task.result() for name, task in asked.items()}
        for name, table in tables.items():
            if table is None and name in self.printers:
                logger.warning("fleet: resuming: %s does not answer; its jobs are looked for when it does", name)
        bases = {w.job.print_job_id for w in works}
        ours = {name: table is not None and any((js.name or "").split(" ", 1)[0].split("~", 1)[0] in bases
                                                for js in table)
                for name, table in tables.items()}
        found = [(pl, self.find_job(pl, tables[pl.device])) for pl in placements]
        # a ledger written before submissions were recorded (none recorded, yet jobs were sent): a job a
        # printer does not hold is judged as then, from what else of the run it holds
        legacy = not latest and (evidence or any(ours.values()))
        # final jobs first: a printer's job still printing becomes its active one
        order = sorted(found, key=lambda f: not (f[1] and f[1].state in _FINAL))
        for pl, js in order:
            # the page counter read before the last job sent to a printer counts that job alone: a later one
            # would have waited for it to finish
            last = pl.sending_seq is not None and latest.get(pl.device) == pl.sending_seq
            await self.recover_placement(pl, js, to_route, run_on_printer=ours[pl.device], legacy=legacy,
                                         counter_start=pl.counter_start if last else None)
        return to_route

    def placements_of(self, w: _Work, histories: Mapping[str, list], states: Mapping[str, PieceState]) -> list[_Placement]:
        spooled: dict[tuple[str, str, str], dict[str, Piece]] = {}  # in print order
        last: dict[str, tuple[str, str, str]] = {}
        printed_under: dict[str, str] = {}
        ipp_ids: dict[tuple[str, str], int] = {}
        sent: dict[tuple[str, str, str], HistoryEntry] = {}  # the last record of each placement taken by its printer
        sending: dict[tuple[str, str, str], HistoryEntry] = {}  # its last record of being sent or taken
        for x in w.pieces:
            entries = histories[x.piece_id]
            # this run began where the piece last became ready to print: a reprint's earlier life is not its
            since = max((i for i, h in enumerate(entries) if h.to_state in _FRESH), default=0)
            for h in entries[since:]:
                pj = h.data.get("print_job") if h.data else None
                if h.kind is PieceEventKind.SPOOLED and isinstance(pj, str) and h.device:
                    key = (h.device, pj, str(h.data.get("job_name") or pj))
                    spooled.setdefault(key, {}).setdefault(x.piece_id, x)
                    last[x.piece_id] = key
                    if "submitted" in h.data and (key not in sending or sending[key].seq < h.seq):
                        sending[key] = h
                    if h.data.get("submitted") is True and (key not in sent or sent[key].seq < h.seq):
                        sent[key] = h
                elif h.kind is PieceEventKind.PRINTED and isinstance(pj, str):
                    printed_under[x.piece_id] = pj
                    if h.device and isinstance(h.data.get("ipp_job"), int) and h.data["ipp_job"]:
                        ipp_ids[(h.device, pj)] = h.data["ipp_job"]
        out = []
        for (device, name, ipp_name), by_piece in spooled.items():
            full = list(by_piece.values())
            prefix = 0
            while prefix < len(full) and printed_under.get(full[prefix].piece_id) == name:
                prefix += 1
            live = tuple(x for x in full
                         if states[x.piece_id] is PieceState.SPOOLED and last.get(x.piece_id) == (device, name, ipp_name))
            if name == w.job.print_job_id and len(full) == len(w.job.piece_ids):
                job = w.job
            else:
                job = dataclasses.replace(w.job, print_job_id=name, piece_ids=tuple(x.piece_id for x in full),
                                          sheets=sum(x.sheets for x in full), impressions=sum(impressions_of(x) for x in full))
            record = sent.get((device, name, ipp_name))
            attempt = sending.get((device, name, ipp_name))
            ipp_job = ipp_ids.get((device, name))
            counter = None
            for r in (attempt, record):  # the counter of the answered record, else of the attempt
                if r is not None and isinstance(r.data.get("counter"), int):
                    counter = r.data["counter"]
            if record is not None:
                recorded = record.data.get("ipp_job")
                ipp_job = recorded if isinstance(recorded, int) and recorded else ipp_job
            out.append(_Placement(w.job, _Work(job, tuple(full), ipp_name=ipp_name), device, prefix, live, ipp_job,
                                  record.seq if record is not None else None, counter,
                                  attempt.seq if attempt is not None else None))
        return out

    async def job_table(self, printer: str) -> list[ippd.JobStatus] | None:
        """Every job the printer holds, finished ones included; None when it does not answer or is not in the plant."""
        p = self.printers.get(printer)
        if p is None:
            return None
        try:
            async with asyncio.timeout(self.io_timeout_s + 1):
                return await p.ipp.get_jobs(which_jobs="all")
        except (TimeoutError, DeviceError) as exc:
            logger.debug("fleet: %s Get-Jobs failed: %s", printer, str(exc) or type(exc).__name__)
            return None

    @staticmethod
    def find_job(pl: _Placement, table: list[ippd.JobStatus] | None) -> ippd.JobStatus | None | bool:
        """The placement's job in its printer's job table; False: no such job; None: no table."""
        if table is None:
            return None
        found = _Run.pick_job(table, pl.work.ipp_name, pl.ipp_job)
        return False if found is None else found

    @staticmethod
    def pick_job(table: list[ippd.JobStatus], name: str, ipp_job: int | None = None) -> ippd.JobStatus | None:
        """The job called `name` in a printer's job table (the one with job-id `ipp_job` among them, if any): the
        one still alive, else the last; None: no such job."""
        named = [js for js in table if js.name == name]
        if ipp_job is not None:
            named = [js for js in named if js.job_id == ipp_job] or named
        if not named:
            return None
        alive = [js for js in named if js.state not in _FINAL]
        return max(alive or named, key=lambda js: js.job_id)

    async def recover_placement(self, pl: _Placement, js: ippd.JobStatus | None | bool, to_route: list[_Work], *,
                                run_on_printer: bool, legacy: bool = False, counter_start: int | None = None) -> None:
        """`counter_start`: the page counter recorded when the job was sent, given when no later job was sent to
        its printer (so the counter's advance since is this job's)."""
        name, device = pl.work.job.print_job_id, pl.device
        p = self.printers.get(device)
        kept = sum(impressions_of(x) for x in pl.work.pieces[:pl.prefix])
        now = time.monotonic()

        def route_again(why: str) -> None:
            if pl.live:
                rest = _Work(self.remainder_job(pl.base, pl.live), pl.live, reason=f"resumed: {why}")
                if p is not None and js is None:
                    rest.exclude = frozenset({device})
                to_route.append(rest)
                self.resumed.append(f"{name} on {device}: {why}; {len(pl.live)} pieces routed again as "
                                    f"{rest.job.print_job_id}")

        if p is None:
            if pl.live:
                self.alert(f"print job {name}: {len(pl.live)} pieces were spooled to {device}, which is not in the "
                           f"plant: check its output for pieces {_some([x.piece_id for x in pl.live])}")
            route_again(f"{device} is not in the plant")
            return
        if js is None:
            # not answering: its job (if it was sent) is cut where the ledger stands and cancelled once it answers
            sub = _Submission(pl.work, device, pl.ipp_job or 0, None, moved_at=kept, moved_time=now, silent=True,
                              printed=pl.prefix, resumed=True)
            p.orphans.append(sub)
            route_again(f"{device} does not answer")
            if not pl.live:
                self.resumed.append(f"{name} on {device}: moved off before; {device} does not answer, its job is "
                                    f"looked for when it does")
            return
        if js is False:
            if not pl.live:
                return
            maybe = [x.piece_id for x in pl.work.pieces[pl.prefix:]]
            if not legacy and pl.sending_seq is None and not pl.prefix:
                # the ledger records every job sent, before it is sent: this one was routed and never sent
                route_again(f"{device} holds no job named {name}: never sent")
                return
            if not legacy and counter_start is not None:
                status = await self.snmp_poll(p)
                if status is not None and status.reachable and status.page_count is not None:
                    if (pl.sent_seq is None and not pl.prefix
                            and counter_delta(counter_start, status.page_count) == 0):
                        # being sent when the controller stopped: whether or not it arrived, nothing was made of it
                        route_again(f"{device} holds no job named {name}, and its page counter has not moved since "
                                    f"it was being sent: never printed")
                        return
                    # sent (recorded) and lost in a restart: the non-volatile counter says what it printed of it
                    sub = _Submission(pl.work, device, pl.ipp_job or 0, counter_start, state=ippd.JobState.ABORTED,
                                      printed=pl.prefix, moved_at=kept, moved_time=now, lost=True, resumed=True)
                    p.jobs += 1
                    job_id = f" {pl.ipp_job}" if pl.ipp_job else ""
                    route_again(f"{device} lost job{job_id} (a restart?) after {pl.prefix} pieces printed; "
                                f"its page counter moved {counter_delta(counter_start, status.page_count)} since it "
                                f"was sent")
                    self.close_cut_job(p, sub, status.page_count)
                    return
            if pl.prefix or pl.sent_seq is not None:
                # pieces printed under it, or the printer's answer recorded: it was sent, and the printer lost it (a
                # restart); with no counter to read (no SNMP, a later job sent) what it printed is not known
                self.alert(f"{device} no longer holds print job {name} (a restart?) after printing {pl.prefix} of its "
                           f"pieces{'' if pl.sent_seq is None else ' (sent as job %s)' % pl.ipp_job}, and what it "
                           f"printed of it cannot be counted: sheets of pieces {_some(maybe)} may be on its output "
                           f"stack and are printed again: pull them")
                route_again(f"{device} lost it after {pl.prefix} pieces printed")
            elif run_on_printer:
                # the printer still holds other jobs of the run, so it did not lose its job table: never sent
                route_again(f"{device} holds no job named {name}: never sent")
            else:
                self.alert(f"{device} holds no job of this run: {name} was never sent to it, or it lost it in a "
                           f"restart; if it did, sheets of pieces {_some(maybe)} may be on its output stack and "
                           f"are printed again: pull them")
                route_again(f"{device} holds no job of this run")
            return
        sub = _Submission(pl.work, device, js.job_id, None, state=js.state,
                          confirmed=js.impressions_completed or 0, printed=pl.prefix)
        if pl.live and pl.ipp_job in (None, js.job_id):  # the name is drawn for each placement: it is this one
            sub.counter_start = counter_start  # reconciled against the counter as a job sent by this run is
        if not pl.live:
            # an earlier placement, its unprinted pieces moved on: what it delivered beyond them is a duplicate
            if sub.state in _FINAL and sub.confirmed <= kept:
                self.resumed.append(f"{name} on {device}: moved off before; job {js.job_id} {_state_name(js.state)} at "
                                    f"impression {sub.confirmed}, nothing beyond its printed pieces")
                return
            sub.moved_at, sub.moved_time, sub.resumed = kept, now, True
            if sub.state in _FINAL:
                self.close_cut_job(p, sub, None)
            else:
                p.orphans.append(sub)
            self.resumed.append(f"{name} on {device}: moved off before; job {js.job_id} "
                                f"{_state_name(js.state)} at impression {sub.confirmed}")
            return
        state = _state_name(js.state)
        if sub.state == ippd.JobState.COMPLETED:
            self.resumed.append(f"{name} on {device}: job {js.job_id} completed ({sub.confirmed} impressions)")
            p.jobs += 1
            await self.complete(p, sub)
            return
        if sub.state in (ippd.JobState.CANCELED, ippd.JobState.ABORTED):
            self.resumed.append(f"{name} on {device}: job {js.job_id} {state} at impression {sub.confirmed}: cut there")
            await self.move(p, sub, sub.confirmed, f"resumed: job {js.job_id} was {state}")
            sub.moved_at = sub.confirmed
            self.close_cut_job(p, sub, None)
            return
        if p.active is None:
            p.active = sub
            p.jobs += 1
            self.resumed.append(f"{name} on {device}: job {js.job_id} {state} at impression {sub.confirmed}; tracked")
            return
        self.resumed.append(f"{name} on {device}: job {js.job_id} {state}, a second job of the run there: cut")
        await self.fail_over_job(p, sub, f"resumed: {device} already prints {p.active.work.job.print_job_id}")

    # -- failover --

    async def fail_over(self, p: _Printer, why: str) -> None:
        name = p.config.name
        moved_queue = list(p.queue)
        p.queue.clear()
        sub, p.active = p.active, None
        if sub is not None:
            await self.fail_over_job(p, sub, why)
        for work in moved_queue:
            if work.uncertain_on == name:
                # its submission's answer was lost: the printer may hold it. Looked for (and cancelled, and any
                # sheets it printed named as duplicates) when the printer answers again. Its counter start is the
                # page counter read just before it was sent: the printer was sent nothing since (its queue's head was
                # this job), so the counter's advance until its final count is read is this job's (as for `adopt`)
                work.uncertain_on = None
                sent = dataclasses.replace(work)  # placing it again draws a new job-name: the orphan keeps the one sent
                p.orphans.append(_Submission(sent, name, 0, work.counter_sent, moved_at=0, moved_time=time.monotonic(),
                                             silent=True, sends_at=p.sends))
                work.reason = f"moved off {name} after a submission that may have reached it: {why}"
            else:
                work.reason = f"moved off {name} before it was sent: {why}"
            await self.place(work, exclude=frozenset({name}))

    async def fail_over_job(self, p: _Printer, sub: _Submission, why: str) -> None:
        name = p.config.name
        reachable = p.view.health is not Health.OFFLINE
        final = None
        if reachable and not (isinstance(sub.state, ippd.JobState) and sub.state.is_final):
            try:
                async with asyncio.timeout(self.io_timeout_s + 1):
                    await p.ipp.cancel_job(sub.ipp_job)
            except ippd.IppNotPossibleError:
                pass  # it finished or was cancelled meanwhile: its final figures tell
            except (TimeoutError, DeviceError) as exc:
                logger.warning("fleet: cancelling job %d on %s failed: %s", sub.ipp_job, name, exc)
                reachable = False
        if reachable and not sub.lost:
            final = await self.job_status(p, sub)
            reachable = final is not None or sub.lost
        if final is not None and final.state == ippd.JobState.COMPLETED:
            p.active = sub  # it finished after all
            await self.track(p)
            return
        if final is not None:
            await self.measure_spoils(p, sub, final.impressions_completed)
        confirmed = sub.confirmed
        per_sheet = 2 if sub.work.job.plex is Plex.DUPLEX else 1
        await self.move(p, sub, confirmed, why, in_path_sheets=-(-sub.spoiled_seen // per_sheet))
        # the job stays on the printer's list of cut jobs until its final count is read: a sheet in flight
        # when it was cancelled may still be delivered, and a silent printer may print on unheard
        sub.moved_at, sub.moved_time, sub.silent = confirmed, time.monotonic(), not reachable
        p.orphans.append(sub)
        if not reachable:
            logger.warning("fleet: %s is not answering; its job %d (%s) may go on printing: it is cancelled when "
                           "the printer answers again", name, sub.ipp_job, sub.work.job.print_job_id)

    async def move(self, p: _Printer, sub: _Submission, confirmed: int, why: str, *, in_path_sheets: int = 0) -> None:
        """Cut `sub` after `confirmed` impressions, keep the pieces delivered whole, route the rest elsewhere."""
        name = p.config.name
        job = sub.work.job
        split: FailoverSplit = split_for_failover(sub.work.pieces, confirmed, in_path_sheets)
        await self.mark_printed(p, sub, split.printed)
        if sub.spoiled_seen:
            self.spoils.append(Spoil(name, job.print_job_id, None, in_path_sheets, sub.spoiled_seen,
                                     "in the paper path at the stop; reprinted with the rest of the job"))
        if split.cut_piece is not None:
            kept = sum(impressions_of(x) for x in sub.work.pieces[:len(split.printed)])
            partial = confirmed - kept
            per_sheet = 2 if job.plex is Plex.DUPLEX else 1
            self.spoils.append(Spoil(name, job.print_job_id, split.cut_piece, -(-partial // per_sheet), partial,
                                     "delivered part of a piece cut by the stop; the piece is reprinted whole"))
        remainder = [x for x in sub.work.pieces if x.piece_id in set(split.remainder)]
        to = None
        rest_id = None
        if remainder:
            rest = _Work(self.remainder_job(job, remainder), tuple(remainder), since=time.monotonic(),
                         reason=f"re-routed from {name} after impression {confirmed} of {job.print_job_id}: {why}")
            rest_id = rest.job.print_job_id
            if await self.place(rest, exclude=frozenset({name})):
                to = next(n for n, q in self.printers.items() if rest in q.queue)
        self.failovers.append(Failover(name, job.print_job_id, why, confirmed, split.printed, split.remainder, to,
                                       rest_id, split.cut_piece, split.spoiled_sheets))
        logger.warning("fleet: failover of %s off %s (%s): %d pieces kept, %d moved to %s", job.print_job_id, name,
                       why, len(split.printed), len(split.remainder), to or "(waiting)")

    @staticmethod
    def cancelled(sub: _Submission) -> bool:
        return isinstance(sub.state, ippd.JobState) and sub.state.is_final

    def settled(self, p: _Printer, sub: _Submission) -> bool:
        """A final cut job whose count can be read as final: the sheets in its paper path when it was cancelled (or
        stopped: a printer says a job is cancelled before the sheets under its marker are out) have been delivered and
        counted since. A job lost in a restart lost its sheets in flight with it."""
        if not self.cancelled(sub):
            return False
        if sub.lost or sub.final_at is None:
            return True
        settle_s = max(self.poll_s, _SETTLE_IMPRESSIONS * 60.0 / p.config.speed_ipm)
        return time.monotonic() - sub.final_at >= settle_s

    async def settle_orphan(self, p: _Printer, sub: _Submission) -> None:
        """A cut job still on its printer: cancel it as soon as the printer answers (its count is read later)."""
        if p.view.health is Health.OFFLINE or self.cancelled(sub):
            return
        if sub.ipp_job == 0:  # a submission that may or may not have reached the printer
            table = await self.job_table(p.config.name)
            if table is None:
                return
            # the one still alive, else the last: a cancelled or aborted one may have delivered sheets too
            found = self.pick_job(table, sub.work.ipp_name)
            if found is None:
                p.orphans.remove(sub)  # it never arrived
                return
            sub.ipp_job = found.job_id
        try:
            async with asyncio.timeout(self.io_timeout_s + 1):
                await p.ipp.cancel_job(sub.ipp_job)
        except ippd.IppNotPossibleError:
            pass
        except ippd.IppNotFoundError:
            self.lose(p, sub, "it does not know the job-id any more")
            return
        except (TimeoutError, DeviceError):
            return
        else:
            sub.final_at = time.monotonic()  # cancelled now: what was in its paper path is still delivered
        await self.job_status(p, sub)

    async def close_cut_jobs(self, p: _Printer) -> None:
        """Read the final count of the printer's cancelled cut jobs (before it starts another job, and at the
        end of the run) once it has settled (`settled`): whatever it delivered after the cut is a duplicate to pull,
        named in an alert. One cancelled and not settled yet is left for a later step (the printer is sent nothing
        meanwhile: see `submit`)."""
        done = [sub for sub in p.orphans if self.settled(p, sub)]
        if not done:
            return
        for sub in done:
            if not sub.lost and await self.job_status(p, sub) is None:
                return
        status = await self.snmp_poll(p)
        counter_end = status.page_count if status is not None and status.reachable else None
        for sub in done:
            p.orphans.remove(sub)
            self.close_cut_job(p, sub, counter_end if len(done) == 1 else None)

    def close_cut_job(self, p: _Printer, sub: _Submission, counter_end: int | None) -> None:
        kept = sub.moved_at or 0
        if sub.sends_at is not None and sub.sends_at != p.sends:
            counter_end = None  # its printer was sent another job since its counter start: the advance is not its own
        if sub.lost:
            if counter_end is None or sub.counter_start is None:
                moved = split_for_failover(sub.work.pieces, kept).remainder
                self.alert(f"{p.config.name} lost job {sub.ipp_job} ({sub.work.job.print_job_id}) in a restart and "
                           f"its page counter could not be read: check its output beyond impression {kept} for "
                           f"sheets of pieces {', '.join(moved)} (printed again elsewhere)")
                self.close_submission(p, sub, kept, None, None, "lost", ipp_lost=True)
                return
            # the page counter is non-volatile and the printer was sent nothing since: what it made of the job
            sub.confirmed = counter_delta(sub.counter_start, counter_end) - sub.spoiled_seen
        extra = sub.confirmed - kept
        if extra > 0:
            why = ("delivered before the printer lost the job in a restart, after the last count read: a duplicate "
                   "to pull" if sub.lost else
                   "delivered beyond the pieces printed under it when the controller stopped, and printed again "
                   "elsewhere: a duplicate to pull" if sub.resumed else
                   "printed while the printer was not answering, after the piece moved: a duplicate to pull"
                   if sub.silent else "delivered after the job was cancelled (in the paper path): a duplicate to pull")
            per_sheet = 2 if sub.work.job.plex is Plex.DUPLEX else 1
            start = 0
            dup: list[str] = []
            for x in sub.work.pieces:
                end = start + impressions_of(x)
                lo, hi = max(start, kept), min(end, sub.confirmed)
                if hi > lo:
                    dup.append(x.piece_id)
                    first = (lo - start) // per_sheet + 1
                    self.spoils.append(Spoil(p.config.name, sub.work.job.print_job_id, x.piece_id,
                                             -(-(hi - start) // per_sheet) - first + 1, hi - lo, why, first))
                start = end
            how = (" before it lost the job in a restart" if sub.lost else " (found on resuming the run)" if sub.resumed
                   else " while not answering" if sub.silent else "")
            self.alert(f"{p.config.name} delivered {extra} impressions of {sub.work.job.print_job_id} after it was cut "
                       f"at impression {kept}{how}: pull the sheets of pieces {_some(dup)}")
        # The sheets named above were made after the work moved, by a printer the fleet could not stop: it lost the
        # job in a restart (IPP's count went with it: the counter alone witnesses), it did not answer, or the run that
        # cut it did not end. Their pieces are printed elsewhere (the ledger says where), so the job balances with them
        # as duplicates, IPP and the counter still checked; a sheet beyond them, or spoiled unseen, is a discrepancy.
        # A sheet in flight at a cancel the printer answered is left a discrepancy beside its alert, as it was
        # (tests/e2e/test_fleet_soak.py holds it so).
        named = max(0, extra) if sub.lost or sub.silent or sub.resumed else 0
        self.close_submission(p, sub, kept, None if sub.lost else sub.confirmed, counter_end,
                              "lost" if sub.lost else "moved", duplicates=named, ipp_lost=sub.lost)

    # -- the report --

    def report(self, started: float) -> FleetReport:
        now = time.monotonic()
        for p in self.printers.values():
            for o in p.orphans:
                if self.cancelled(o):
                    self.alert(f"{p.config.name}: the final count of cut job {o.ipp_job} ({o.work.job.print_job_id}) "
                               f"could not be read: check its output beyond impression {o.moved_at}")
                    continue
                self.alert(f"{p.config.name} still not answering: its job {o.ipp_job} ({o.work.job.print_job_id}) "
                           f"may have printed beyond impression {o.moved_at}: check its output for pieces moved elsewhere")
        figures = tuple(
            PrinterFigures(
                p.config.name, p.jobs, p.delivered, p.spoiled,
                counter_delta(p.counter_first, p.counter_last)
                if p.counter_first is not None and p.counter_last is not None else None,
                p.view.health.value,
            )
            for p in self.printers.values()
        )
        return FleetReport(figures, tuple(self.job_figures), tuple(self.failovers), tuple(self.spoils),
                           tuple(self.reconciliations), tuple(self.alerts), dict(self.unrouted),
                           self.printed_pieces, now - started, tuple(self.resumed))

    def outstanding(self) -> str:
        parts = [f"{w.job.print_job_id} waiting" for w in self.waiting]
        for p in self.printers.values():
            if p.active is not None:
                parts.append(f"{p.active.work.job.print_job_id} on {p.config.name} at impression "
                             f"{p.active.confirmed} of {p.active.work.job.impressions} ({p.view.health.value})")
            parts += [f"{w.job.print_job_id} queued on {p.config.name}" for w in p.queue]
        return "; ".join(parts) or "nothing"


async def print_run(
    printers: Sequence[PrinterConfig],
    jobs: Sequence[PrintJob],
    pieces: Mapping[str, Piece] | Iterable[Piece],
    documents: Callable[[PrintJob], bytes],
    ledger: Ledger,
    *,
    document_format: str = "application/pdf",
    grace_s: float = 30.0,
    poll_s: float = 1.0,
    io_timeout_s: float = 5.0,
    route_timeout_s: float = 600.0,
    orphan_timeout_s: float = 60.0,
    run_timeout_s: float | None = None,
    resume: bool = False,
) -> FleetReport:
    """Print `jobs` on the fleet `printers`, tracking every piece in `ledger`, and report.

    `pieces` (by ID, or an iterable) must hold every piece the jobs name, in the ledger as sorted (or
    reprint_queued). `documents(job)` makes the print-ready document of a print job (called again for
    a re-routed remainder, a PrintJob holding the pieces after the cut), in `document_format`; it runs
    in a worker thread. A job no printer is able to print raises NoPrinterError before anything is
    spooled. Waiting for a printer longer than `route_timeout_s` leaves a job unrouted (reported, with
    an alert); a silent printer's cancelled job is waited for `orphan_timeout_s` after the rest is done.
    `run_timeout_s` bounds the whole run (FleetTimeoutError names what was outstanding).

    `resume`: finish a run a controller began and did not end (killed, crashed), from the same ledger,
    jobs and printers. What the ledger says of each piece is asked of the printers (see `_Run.recover`):
    pieces still sorted are routed; pieces spooled to a printer are looked for there by print job name
    (and IPP job-id, when a printed piece recorded it): a job completed marks them printed, a job still
    there is tracked, a job cancelled or aborted is cut after what it delivered; a job the printer does not
    hold is routed again (never sent, when the ledger holds no record of sending it; otherwise the sheets the
    page counter says the printer made of it beyond its printed pieces, before losing it in a restart, are named
    as duplicates); a job picked up is reconciled against the counter recorded when it was sent; a printer not
    answering keeps the job on its list of cut jobs (cancelled and its late sheets named as duplicates when
    it answers) while its pieces are routed elsewhere, or back to it once its jobs there are settled. Pieces
    printed are not sent again. `FleetReport.resumed` says what was found for each print job.
    """
    by_id = dict(pieces) if isinstance(pieces, Mapping) else {x.piece_id: x for x in pieces}
    started = time.monotonic()
    run = _Run(printers, ledger, documents, document_format=document_format, grace_s=grace_s, poll_s=poll_s,
               io_timeout_s=io_timeout_s, route_timeout_s=route_timeout_s, orphan_timeout_s=orphan_timeout_s)
    try:
        await run.open()
        try:
            async with asyncio.timeout(run_timeout_s):
                try:
                    await run.run(jobs, by_id, resume=resume)
                except BaseExceptionGroup as group:
                    # a watcher's PmcError (a ledger refusal, a document that cannot be written) is the
                    # error; the task group's wrapping is not
                    first = next((e for e in group.exceptions if isinstance(e, PmcError)), None)
                    if first is not None:
                        raise first from group
                    raise
        except TimeoutError:
            raise FleetTimeoutError(f"the run did not finish in {run_timeout_s:g}s; outstanding: {run.outstanding()}") from None
    finally:
        await run.aclose()
    report = run.report(started)
    for line in report.lines():
        logger.info("fleet: %s", line)
    return report


@dataclass(frozen=True, slots=True)
class PrinterLook:
    """One merged look at a printer, with what each protocol said (None: it did not answer)."""

    view: PrinterView
    ipp: ippd.PrinterStatus | None
    snmp: snmpd.PrinterStatus | None


class FleetMonitor:
    """The watchers' poll without a run: IPP status and SNMP status of every printer, merged, on demand.

        async with FleetMonitor(plant.printers) as monitor:
            looks = await monitor.poll()

    Keeps its clients (one IPP keep-alive connection per printer, one SNMP engine) between polls, as
    the watchers do; `concurrency` printers are polled at a time.
    """

    def __init__(self, printers: Sequence[PrinterConfig], *, io_timeout_s: float = 2.0, concurrency: int = 16) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._run = _Run(printers, None, lambda job: b"", document_format="", grace_s=0, poll_s=0,  # type: ignore[arg-type]
                         io_timeout_s=io_timeout_s, route_timeout_s=0, orphan_timeout_s=0)
        self.concurrency = concurrency

    async def __aenter__(self) -> FleetMonitor:
        try:
            await self._run.open()
        except BaseException:
            await self._run.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._run.aclose()

    async def poll(self) -> list[PrinterLook]:
        run = self._run
        printers = list(run.printers.values())
        looks: list[PrinterLook | None] = [None] * len(printers)
        next_index = 0

        async def one(p: _Printer) -> PrinterLook:
            status = None
            try:
                async with asyncio.timeout(run.io_timeout_s + 1):
                    status = await p.ipp.status()
            except (TimeoutError, DeviceError):
                pass
            snmp_status = await run.snmp_poll(p)
            health, reasons = merge_health(status, snmp_status)
            return PrinterLook(PrinterView(p.config.name, health, reasons), status, snmp_status)

        async def worker() -> None:
            nonlocal next_index
            while next_index < len(printers):
                i = next_index
                next_index += 1
                looks[i] = await one(printers[i])

        async with asyncio.TaskGroup() as tg:
            for n in range(min(self.concurrency, len(printers))):
                tg.create_task(worker(), name=f"fleet.monitor[{n}]")
        return looks  # type: ignore[return-value]


async def poll_printers(printers: Sequence[PrinterConfig], *, io_timeout_s: float = 2.0) -> list[PrinterLook]:
    """One merged look at each printer (IPP and SNMP): for `pmc fleet status`."""
    async with FleetMonitor(printers, io_timeout_s=io_timeout_s) as monitor:
        return await monitor.poll()
