"""A simulated production printer: an IPP server (HTTP on port 0) and, if asked, an SNMP agent, over one state.

    async with SimIppPrinter(load_printer_model("fixtures/printers/production-mono-150.toml"),
                             speed=1000, snmp=True) as sim:
        sim.url        # ipp://127.0.0.1:PORT/ipp/print
        sim.snmp_url   # snmp://127.0.0.1:PORT?community=public
        sim.inject(Fault.MEDIA_JAM)
        sim.state.output   # the printed sheets, each with its control code

Physics: one marker prints the queued jobs in order at the model's impressions per minute on a
scaled clock (`speed`); a duplex sheet is two impressions. Jobs are accepted concurrently and queued,
as production printers do (CUPS's ippeveprinter answers busy instead). Each delivered sheet goes on
the output stack with the control code read from its document's twin (printer_documents).

Faults, by call (`inject`/`clear`), schedule (`schedule(fault, at_impression=N | after=SIM_SECONDS)`)
or seeded random (`random_faults(seed, per_1000_sheets)`):
  MEDIA_JAM     mid-job: the sheet being printed and those behind it in the paper path are spoiled
                (they used paper and the marker counted them, but they are not delivered); the printer
                stops; after `clear` it reprints them, as jam recovery does.
  MEDIA_EMPTY   the trays feeding the job's media are empty; stops. `clear` refills them.
  MEDIA_LOW, TONER_LOW  warnings, printing goes on.
  TONER_EMPTY, DOOR_OPEN  stop until cleared.
  OFFLINE       stops answering IPP and SNMP (connections are held, nothing is answered); the marker
                goes on printing unheard, as a printer whose network dropped does.
  POWER_OFF     the power goes: no IPP, no SNMP, and the marker stops. The sheet under the marker is
                not delivered (nor counted); sheets already delivered stay on the output stack. The job
                table (the job printing, its queue, the finished jobs' history) was in RAM and is lost.
                `clear` powers it on again: it answers with an empty job table, its up-time (IPP
                printer-up-time, SNMP sysUpTime) restarted, its page counter where it stopped
                (non-volatile, as a real marker's is) and job-ids going on from where they were.
  SLOW_NETWORK  every IPP answer waits `network_delay` real seconds.
  BUSY          job-creating requests are answered server-error-busy (`count` times, or until cleared).
  `wire_hook`   a function over every encoded IPP answer, to truncate or garble it.

IPP's job-impressions-completed counts delivered impressions; the marker's life counter (SNMP
prtMarkerLifeCount, IPP printer-impressions-completed) counts every impression made, spoiled ones
included: with no jam the two agree exactly, after a jam they differ by the spoiled impressions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
import random
import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from drivers.errors import WireProtocolError
from drivers.ipp import (
    Attribute, AttributeGroup, Collection, IntRange, IppMessage, JobState, Op, PrinterState, Resolution,
    Status, Tag, decode, encode,
)
from simulators.clock import ScaledClock
from simulators.printer_documents import DEFAULT_READERS, DocumentError, DocumentReader, sniff

logger = logging.getLogger(__name__)

__all__ = ["Fault", "PrinterModel", "TrayModel", "Tray", "PrintedSheet", "SimJob", "PrinterSimState",
           "SimIppPrinter", "load_printer_model", "FIXTURE_MODELS"]

FIXTURE_MODELS = Path(__file__).resolve().parent.parent / "fixtures" / "printers"


class Fault(enum.Enum):
    MEDIA_JAM = "media-jam"
    MEDIA_EMPTY = "media-empty"
    MEDIA_LOW = "media-low"
    TONER_LOW = "toner-low"
    TONER_EMPTY = "toner-empty"
    DOOR_OPEN = "door-open"
    OFFLINE = "offline"
    POWER_OFF = "power-off"
    SLOW_NETWORK = "slow-network"
    BUSY = "busy"


STOPPING = frozenset({Fault.MEDIA_JAM, Fault.MEDIA_EMPTY, Fault.TONER_EMPTY, Fault.DOOR_OPEN, Fault.POWER_OFF})
SILENT = frozenset({Fault.OFFLINE, Fault.POWER_OFF})  # nothing answered over IPP or SNMP
_REASONS = {
    Fault.MEDIA_JAM: ("media-jam-error",),
    Fault.MEDIA_EMPTY: ("media-empty-error", "media-needed-error"),
    Fault.MEDIA_LOW: ("media-low-report",),
    Fault.TONER_LOW: ("toner-low-report",),
    Fault.TONER_EMPTY: ("toner-empty-error", "marker-supply-empty-error"),
    Fault.DOOR_OPEN: ("door-open-error",),
}
_MESSAGES = {
    Fault.MEDIA_JAM: "Paper jam: open the paper path and remove the sheets.",
    Fault.MEDIA_EMPTY: "Load paper.",
    Fault.TONER_EMPTY: "Replace the toner cartridge.",
    Fault.DOOR_OPEN: "Close the front door.",
    Fault.MEDIA_LOW: "Paper low.",
    Fault.TONER_LOW: "Toner low.",
}

# media keyword -> (x, y) in hundredths of a millimetre (PWG 5101.1)
MEDIA_SIZES = {
    "na_letter_8.5x11in": (21590, 27940),
    "na_legal_8.5x14in": (21590, 35560),
    "iso_a4_210x297mm": (21000, 29700),
    "iso_a3_297x420mm": (29700, 42000),
    "na_ledger_11x17in": (27940, 43180),
}


# ---------------------------------------------------------------------------------------------------
# the model (data, from fixtures/printers/*.toml) and the state


@dataclass(frozen=True, slots=True)
class TrayModel:
    name: str
    media: str
    capacity: int
    level: int


@dataclass(frozen=True, slots=True)
class PrinterModel:
    name: str
    make_and_model: str
    speed_ipm: float
    duplex: bool
    colour: bool
    trays: tuple[TrayModel, ...]
    paper_path_sheets: int = 3
    toner_percent_per_1000_impressions: float = 0.2
    toner_low_percent: float = 10.0
    media_low_sheets: int = 100
    resolution_dpi: int = 600

    @property
    def media(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.media for t in self.trays))


def load_printer_model(path: str | Path) -> PrinterModel:
    """A printer model from a TOML file (see fixtures/printers/)."""
    p = Path(path)
    if not p.is_file():
        p = FIXTURE_MODELS / f"{path}.toml"
    data = tomllib.loads(p.read_text())
    try:
        trays = tuple(TrayModel(t["name"], t["media"], int(t["capacity"]), int(t.get("level", t["capacity"])))
                      for t in data.pop("trays"))
        model = PrinterModel(trays=trays, **data)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{p}: not a printer model ({exc})") from None
    unknown = [t.media for t in trays if t.media not in MEDIA_SIZES]
    if unknown or not trays or model.speed_ipm <= 0:
        raise ValueError(f"{p}: needs trays with known media (not {unknown}) and a speed > 0")
    return model


@dataclass(slots=True)
class Tray:
    name: str
    media: str
    capacity: int
    level: int


@dataclass(frozen=True, slots=True)
class PrintedSheet:
    job_id: int
    job_name: str
    sheet: int  # 1-based within the job (copies counted on)
    pages: tuple[int, ...]  # 1-based page numbers of the document on this sheet (front, back)
    control_code: str | None
    media: str
    tray: str
    spoiled: bool = False


@dataclass(slots=True)
class _PlannedSheet:
    pages: tuple[int, ...]
    control_code: str | None


@dataclass(slots=True)
class SimJob:
    job_id: int
    name: str
    user: str
    created_at: int  # printer-up-time seconds
    created_date: dt.datetime
    state: JobState = JobState.PENDING
    reasons: tuple[str, ...] = ("none",)
    message: str = "Job pending."
    document_format: str = "application/pdf"
    sides: str = "one-sided"
    media: str = ""
    copies: int = 1
    k_octets: int = 0
    documents: int = 0
    waiting_for_document: bool = False
    plan: list[_PlannedSheet] = field(default_factory=list)
    next_sheet: int = 0
    impressions_completed: int = 0
    sheets_completed: int = 0
    spoiled_sheets: int = 0
    processing_at: int | None = None
    processing_date: dt.datetime | None = None
    completed_at: int | None = None
    completed_date: dt.datetime | None = None
    template: list[Attribute] = field(default_factory=list)

    @property
    def impressions(self) -> int:
        return sum(len(s.pages) for s in self.plan)

    @property
    def sheets(self) -> int:
        return len(self.plan)


@dataclass(slots=True)
class PrinterSimState:
    """Everything the printer is; IPP and SNMP both answer from this."""

    model: PrinterModel
    trays: list[Tray]
    toner_percent: float = 100.0
    life_impressions: int = 0  # every impression the marker made, spoiled ones included
    life_sheets: int = 0
    jobs: dict[int, SimJob] = field(default_factory=dict)
    output: list[PrintedSheet] = field(default_factory=list)
    spoiled: list[PrintedSheet] = field(default_factory=list)
    faults: set[Fault] = field(default_factory=set)
    accepting_jobs: bool = True
    network_delay: float = 0.5
    busy_left: int | None = None  # BUSY answers still to give; None: until cleared
    next_job_id: int = 1

    @property
    def printer_state(self) -> PrinterState:
        if self.faults & STOPPING:
            return PrinterState.STOPPED
        if any(j.state == JobState.PROCESSING for j in self.jobs.values()):
            return PrinterState.PROCESSING
        return PrinterState.IDLE

    @property
    def reasons(self) -> tuple[str, ...]:
        out = [r for f in Fault if f in self.faults for r in _REASONS.get(f, ())]
        return tuple(out) or ("none",)

    @property
    def message(self) -> str:
        for f in Fault:
            if f in self.faults and f in _MESSAGES:
                return _MESSAGES[f]
        return {PrinterState.IDLE: "Ready.", PrinterState.PROCESSING: "Printing."}.get(self.printer_state, "")

    def queued_jobs(self) -> list[SimJob]:
        return [j for j in self.jobs.values() if not j.state.is_final]


# ---------------------------------------------------------------------------------------------------
# the simulator


_PRINTER_OPS = (Op.PRINT_JOB, Op.VALIDATE_JOB, Op.CREATE_JOB, Op.SEND_DOCUMENT, Op.CANCEL_JOB,
                Op.GET_JOB_ATTRIBUTES, Op.GET_JOBS, Op.GET_PRINTER_ATTRIBUTES)
_JOB_TEMPLATE = ("copies", "finishings", "media", "media-col", "orientation-requested", "output-bin",
                 "print-quality", "printer-resolution", "sides", "job-priority", "job-hold-until", "job-sheets",
                 "multiple-document-handling", "number-up", "page-ranges", "print-color-mode")
_JOB_DEFAULT_GET_JOBS = ("job-uri", "job-id")
_PRINTABLE = frozenset({JobState.PENDING, JobState.PROCESSING, JobState.PROCESSING_STOPPED})


class _IppFail(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


class SimIppPrinter:
    def __init__(
        self,
        model: PrinterModel | str | Path = "production-mono-150",
        *,
        name: str | None = None,
        speed: float = 1.0,
        clock: ScaledClock | None = None,
        host: str = "127.0.0.1",
        snmp: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        readers: Mapping[str, DocumentReader] | None = None,
        seed: int | None = None,
    ) -> None:
        self.model = model if isinstance(model, PrinterModel) else load_printer_model(model)
        self.name = name or self.model.name
        self.clock = clock or ScaledClock(speed)
        self.state = PrinterSimState(self.model, [Tray(t.name, t.media, t.capacity, t.level) for t in self.model.trays])
        self.readers: dict[str, DocumentReader] = dict(readers if readers is not None else DEFAULT_READERS)
        self._host = host
        self._ssl = ssl_context
        self._want_snmp = snmp
        self._snmp: Any = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Event()
        self._online = asyncio.Event()
        self._online.set()
        self._engine: asyncio.Task | None = None
        self._started = self.clock.now()
        self._boot_date = dt.datetime.now(dt.timezone.utc)
        self._scheduled: list[tuple[str, float, Fault, dict]] = []
        self._rng = random.Random(seed)
        self._random_rates: dict[Fault, float] = {}
        self._jam_pending = False
        self._active: SimJob | None = None
        self.power_cycles = 0  # a sheet on the marker when the power went is never delivered
        # byte-level hook on every IPP answer (the encoded message, before HTTP framing): truncate or
        # garble it to test a client's error handling
        self.wire_hook: Callable[[bytes], bytes] | None = None
        self._static_attributes: list[Attribute] | None = None
        self.port = 0
        self.requests_answered = 0
        self.connections_accepted = 0

    # --- life cycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "ipps" if self._ssl else "ipp"
        return f"{scheme}://{self._host}:{self.port}/ipp/print"

    @property
    def snmp_url(self) -> str | None:
        return self._snmp.url if self._snmp is not None else None

    async def __aenter__(self) -> SimIppPrinter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, self._host, 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        self._engine = asyncio.create_task(self._run_engine(), name=f"printer[{self.name}].engine")
        if self._want_snmp:
            from simulators.snmp_agent import SimSnmpAgent

            try:
                self._snmp = SimSnmpAgent(self._snmp_state, host=self._host)
                await self._snmp.start()
            except BaseException:
                self._snmp = None
                await self.aclose()
                raise
        logger.debug("printer %s: IPP at %s", self.name, self.url)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        tasks = [t for t in (self._engine, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._engine = None
        if self._snmp is not None:
            await self._snmp.aclose()
            self._snmp = None

    # --- faults -------------------------------------------------------------------------------------

    def inject(self, fault: Fault, *, count: int | None = None, delay: float | None = None) -> None:
        """Raise a fault now. BUSY takes `count` answers (None: until cleared); SLOW_NETWORK a `delay`."""
        s = self.state
        if fault == Fault.MEDIA_EMPTY:
            media = self._current_media()
            for t in s.trays:
                if media is None or t.media == media:
                    t.level = 0
        elif fault == Fault.TONER_EMPTY:
            s.toner_percent = 0.0
        elif fault == Fault.TONER_LOW:
            s.toner_percent = min(s.toner_percent, self.model.toner_low_percent)
        elif fault == Fault.BUSY:
            s.busy_left = count
        elif fault == Fault.SLOW_NETWORK and delay is not None:
            s.network_delay = delay
        elif fault == Fault.OFFLINE:
            self._online.clear()
        elif fault == Fault.POWER_OFF:
            if fault in s.faults:
                return
            self._online.clear()
            self._power_off()
        elif fault == Fault.MEDIA_JAM:
            self._jam_pending = True  # the engine spoils what is in the paper path
        s.faults.add(fault)
        logger.info("printer %s: fault %s", self.name, fault.value)
        self._changed.set()

    def clear(self, fault: Fault) -> None:
        """The operator fixes it: clears the jam, loads paper, replaces toner, closes the door..."""
        s = self.state
        if fault in (Fault.MEDIA_EMPTY, Fault.MEDIA_LOW):
            for t in s.trays:
                t.level = t.capacity
        elif fault in (Fault.TONER_EMPTY, Fault.TONER_LOW):
            s.toner_percent = 100.0
        elif fault == Fault.OFFLINE:
            if Fault.POWER_OFF not in s.faults:
                self._online.set()
        elif fault == Fault.POWER_OFF:
            if fault not in s.faults:
                return
            self._power_on()
            if Fault.OFFLINE not in s.faults:
                self._online.set()
        elif fault == Fault.BUSY:
            s.busy_left = None
        s.faults.discard(fault)
        if fault == Fault.MEDIA_EMPTY:
            s.faults.discard(Fault.MEDIA_LOW)
        self._changed.set()

    def _power_off(self) -> None:
        s = self.state
        lost = [j for j in s.jobs.values() if not j.state.is_final]
        s.jobs.clear()
        self._active = None
        self._jam_pending = False
        self.power_cycles += 1
        logger.info("printer %s: power off; %d unfinished jobs lost (%s)", self.name, len(lost),
                    ", ".join(f"{j.job_id} at sheet {j.sheets_completed} of {j.sheets}" for j in lost) or "none")

    def _power_on(self) -> None:
        # up-time counts from the boot; the page counter and the next job-id are non-volatile
        self._started = self.clock.now()
        self._boot_date = dt.datetime.now(dt.timezone.utc)
        logger.info("printer %s: power on, life counter %d", self.name, self.state.life_impressions)

    def schedule(self, fault: Fault, *, at_impression: int | None = None, after: float | None = None,
                 **options: Any) -> None:
        """Raise `fault` when the life counter reaches `at_impression`, or `after` simulated seconds."""
        if (at_impression is None) == (after is None):
            raise ValueError("schedule a fault at_impression=N or after=SECONDS, one of the two")
        if at_impression is not None:
            self._scheduled.append(("impression", float(at_impression), fault, options))
        else:
            self._scheduled.append(("time", self.clock.now() + float(after), fault, options))
            t = asyncio.create_task(self._timed_fault(self.clock.now() + float(after)),
                                    name=f"printer[{self.name}].fault-timer")
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    def random_faults(self, seed: int, per_1000_sheets: Mapping[Fault, float]) -> None:
        """Faults at random while printing, reproducible from `seed`."""
        self._rng = random.Random(seed)
        self._random_rates = dict(per_1000_sheets)

    async def _timed_fault(self, when: float) -> None:
        await self.clock.sleep_until(when)
        self._fire_scheduled()

    def _fire_scheduled(self) -> None:
        now, life = self.clock.now(), self.state.life_impressions
        due = [e for e in self._scheduled if (e[0] == "time" and e[1] <= now) or (e[0] == "impression" and e[1] <= life)]
        for e in due:
            self._scheduled.remove(e)
            self.inject(e[2], **e[3])

    # --- the marker ---------------------------------------------------------------------------------

    def _current_media(self) -> str | None:
        for j in self.state.jobs.values():
            if j.state in (JobState.PROCESSING, JobState.PROCESSING_STOPPED):
                return j.media
        return None

    def _feed_tray(self, media: str) -> Tray | None:
        for t in self.state.trays:
            if t.media == media and t.level > 0:
                return t
        return None

    def _next_job(self) -> SimJob | None:
        active = self._active
        if active is not None and active.state in _PRINTABLE and not active.waiting_for_document:
            return active  # the job on the marker stays there: no scan of the whole job table per sheet
        ready = [j for j in self.state.jobs.values() if j.state in _PRINTABLE and not j.waiting_for_document]
        self._active = min(ready, key=lambda j: j.job_id) if ready else None
        return self._active

    async def _wait_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    async def _run_engine(self) -> None:
        s = self.state
        while True:
            job = self._next_job()
            if self._jam_pending:
                self._jam_pending = False
                if job is not None and job.state == JobState.PROCESSING:
                    self._jam(job)
            if job is None or s.faults & STOPPING:
                if job is not None and job.state == JobState.PROCESSING:
                    self._set_job(job, JobState.PROCESSING_STOPPED, ("printer-stopped",), "Printer stopped.")
                await self._wait_change()
                continue
            if job.state != JobState.PROCESSING:
                if job.processing_at is None:
                    job.processing_at, job.processing_date = self._up_time(), self._now_date()
                self._set_job(job, JobState.PROCESSING, ("job-printing",), "Job printing.")
            if job.next_sheet >= len(job.plan):
                self._finish(job, JobState.COMPLETED, ("job-completed-successfully",), "Job completed.")
                continue
            planned = job.plan[job.next_sheet]
            tray = self._feed_tray(job.media)
            if tray is None:
                self.inject(Fault.MEDIA_EMPTY)
                continue
            self._changed.clear()
            cycle = self.power_cycles
            await self.clock.sleep(len(planned.pages) * 60.0 / self.model.speed_ipm)
            # a sheet canceled on its way is still delivered; a jam meanwhile spoils it (loop top); a power
            # cut meanwhile loses it with its job
            if cycle != self.power_cycles:
                continue
            self._random_faults_roll()
            if self._jam_pending or s.faults & STOPPING:
                continue
            self._deliver(job, planned, tray)
            self._fire_scheduled()

    def _random_faults_roll(self) -> None:
        for fault, rate in self._random_rates.items():
            if rate > 0 and self._rng.random() < rate / 1000.0 and fault not in self.state.faults:
                self.inject(fault)

    def _sheet_record(self, job: SimJob, index: int, tray: Tray, spoiled: bool) -> PrintedSheet:
        planned = job.plan[index]
        return PrintedSheet(job.job_id, job.name, index + 1, planned.pages, planned.control_code,
                            job.media, tray.name, spoiled)

    def _mark(self, job: SimJob, index: int, tray: Tray) -> int:
        impressions = len(job.plan[index].pages)
        s = self.state
        tray.level -= 1
        s.life_sheets += 1
        s.life_impressions += impressions
        s.toner_percent = max(0.0, s.toner_percent - impressions * self.model.toner_percent_per_1000_impressions / 1000)
        if s.toner_percent <= self.model.toner_low_percent and Fault.TONER_LOW not in s.faults:
            s.faults.add(Fault.TONER_LOW)
        if 0 < sum(t.level for t in s.trays if t.media == job.media) <= self.model.media_low_sheets:
            s.faults.add(Fault.MEDIA_LOW)
        return impressions

    def _deliver(self, job: SimJob, planned: _PlannedSheet, tray: Tray) -> None:
        index = job.next_sheet
        impressions = self._mark(job, index, tray)
        self.state.output.append(self._sheet_record(job, index, tray, False))
        job.next_sheet += 1
        job.sheets_completed += 1
        job.impressions_completed += impressions
        if self.state.toner_percent <= 0:
            self.inject(Fault.TONER_EMPTY)

    def _jam(self, job: SimJob) -> None:
        """The sheet under the marker and those behind it in the paper path are spoiled."""
        s = self.state
        last = min(len(job.plan), job.next_sheet + max(1, self.model.paper_path_sheets))
        for index in range(job.next_sheet, last):
            tray = self._feed_tray(job.media)
            if tray is None:
                break
            self._mark(job, index, tray)
            s.spoiled.append(self._sheet_record(job, index, tray, True))
            job.spoiled_sheets += 1
        self._set_job(job, JobState.PROCESSING_STOPPED, ("printer-stopped",), "Paper jam.")
        logger.info("printer %s: jam in job %d at sheet %d, %d sheets spoiled", self.name, job.job_id,
                    job.next_sheet + 1, last - job.next_sheet)
        self._changed.set()

    def _set_job(self, job: SimJob, state: JobState, reasons: tuple[str, ...], message: str) -> None:
        job.state, job.reasons, job.message = state, reasons, message

    def _finish(self, job: SimJob, state: JobState, reasons: tuple[str, ...], message: str) -> None:
        self._set_job(job, state, reasons, message)
        job.completed_at, job.completed_date = self._up_time(), self._now_date()
        self._changed.set()

    def _up_time(self) -> int:
        return int(self.clock.now() - self._started) + 1

    def _now_date(self) -> dt.datetime:
        at = self._boot_date + dt.timedelta(seconds=self.clock.now() - self._started)
        return at.replace(microsecond=(at.microsecond // 100000) * 100000)

    # --- SNMP's view --------------------------------------------------------------------------------

    def _snmp_state(self) -> Any:
        return None if self.state.faults & SILENT else self.mib_state()

    def mib_state(self) -> Any:
        """The state as the Printer MIB sees it (simulators.snmp_agent.PrinterMibState)."""
        from simulators.snmp_agent import (Alert, DetectedError, HrDeviceStatus, HrPrinterStatus, InputTray,
                                           PrinterMibState, Supply)

        s = self.state
        bits = DetectedError(0)
        alerts: list[Alert] = []
        up = int((self.clock.now() - self._started) * 100)
        media = self._current_media() or (self.model.media[0] if self.model.media else "")
        if Fault.MEDIA_LOW in s.faults:
            bits |= DetectedError.LOW_PAPER
            alerts.append(Alert(4, 8, 807, "Paper low", time=up))  # 807 inputMediaSupplyLow
        if Fault.MEDIA_EMPTY in s.faults:
            bits |= DetectedError.NO_PAPER | DetectedError.INPUT_TRAY_EMPTY
            alerts.append(Alert(3, 8, 808, f"Load {media}", time=up))
        if Fault.TONER_LOW in s.faults:
            bits |= DetectedError.LOW_TONER
            alerts.append(Alert(4, 11, 1104, "Toner low", time=up))
        if Fault.TONER_EMPTY in s.faults:
            bits |= DetectedError.NO_TONER
            alerts.append(Alert(3, 11, 1101, "Toner empty", time=up))
        if Fault.DOOR_OPEN in s.faults:
            bits |= DetectedError.DOOR_OPEN
            alerts.append(Alert(3, 6, 501, "Front door open", time=up))
        if Fault.MEDIA_JAM in s.faults:
            bits |= DetectedError.JAMMED
            alerts.append(Alert(3, 13, 8, "Paper jam", time=up))
        state = s.printer_state
        if state == PrinterState.STOPPED:
            device, printer = HrDeviceStatus.DOWN, HrPrinterStatus.OTHER
        else:
            device = HrDeviceStatus.WARNING if bits else HrDeviceStatus.RUNNING
            printer = HrPrinterStatus.PRINTING if state == PrinterState.PROCESSING else HrPrinterStatus.IDLE
        return PrinterMibState(
            printer_name=self.name,
            serial_number=f"SIM-{self.name}",
            sys_descr=self.model.make_and_model,
            device_descr=self.model.make_and_model,
            uptime=up,
            device_status=device,
            printer_status=printer,
            detected_errors=int(bits),
            trays=tuple(InputTray(t.name, t.media, t.capacity, t.level) for t in s.trays),
            counter_unit=7,
            life_count=s.life_impressions,
            supplies=(Supply(3, "Black Toner", 100, int(s.toner_percent)),),
            alerts=tuple(alerts),
            console_lines=(s.message,),
        )

    # --- HTTP ---------------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        self.connections_accepted += 1
        try:
            while True:
                request = await _read_request(reader, writer)
                if request is None:
                    break
                method, path, headers, body, close = request
                if self.state.faults & SILENT:
                    await self._online.wait()
                    break  # what was sent while offline is lost with the connection
                if Fault.SLOW_NETWORK in self.state.faults:
                    await asyncio.sleep(self.state.network_delay)
                if method == "POST" and headers.get("content-type", "").startswith("application/ipp"):
                    cycle = self.power_cycles
                    try:
                        answered = await self.handle(decode(body, device=self.name))
                        if cycle != self.power_cycles:
                            break  # the power went while it was being answered: no answer, the connection is gone
                        answer = encode(answered)
                        if self.wire_hook is not None:
                            answer = self.wire_hook(answer)
                        writer.write(_http(200, "OK", "application/ipp", answer, close))
                    except WireProtocolError as exc:
                        writer.write(_http(400, "Bad Request", "text/plain", str(exc).encode(), close))
                elif method in ("GET", "HEAD"):
                    page = f"<html><body><h1>{self.name}</h1><p>{self.state.message}</p></body></html>".encode()
                    writer.write(_http(200, "OK", "text/html", b"" if method == "HEAD" else page, close))
                else:
                    writer.write(_http(405, "Method Not Allowed", "text/plain", b"", close))
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, WireProtocolError, ssl.SSLError, OSError):
            pass
        except asyncio.CancelledError:
            pass  # closing: asyncio's stream callback would report a cancelled handler as an error
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    # --- IPP ----------------------------------------------------------------------------------------

    async def handle(self, req: IppMessage) -> IppMessage:
        """Answer one decoded IPP request (what the HTTP side calls; public for benchmarks and tests)."""
        self.requests_answered += 1
        version = req.version if req.version[0] in (1, 2) else (1, 1)
        resp = IppMessage(version, Status.OK, req.request_id)
        op = resp.add_group(Tag.OPERATION)
        op.add("attributes-charset", "utf-8", Tag.CHARSET)
        op.add("attributes-natural-language", "en", Tag.LANGUAGE)
        try:
            attrs = self._check_request(req)
            handler = _HANDLERS.get(req.code)
            if handler is None:
                raise _IppFail(Status.OPERATION_NOT_SUPPORTED, f"operation 0x{req.code:04x} is not supported")
            if req.code in (Op.PRINT_JOB, Op.CREATE_JOB, Op.VALIDATE_JOB) and Fault.BUSY in self.state.faults:
                self._spend_busy()
                raise _IppFail(Status.BUSY, "Printer busy.")
            await handler(self, req, attrs, resp)
        except _IppFail as fail:
            resp.code = fail.status
            op.add("status-message", fail.message, Tag.TEXT)
            resp.groups = [op]
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # a well-formed message with values of the wrong kind (job-id as text...): a bad request
            resp.code = Status.BAD_REQUEST
            op.add("status-message", f"bad attribute value: {exc}"[:255], Tag.TEXT)
            resp.groups = [op]
        return resp

    def _spend_busy(self) -> None:
        s = self.state
        if s.busy_left is not None:
            s.busy_left -= 1
            if s.busy_left <= 0:
                self.clear(Fault.BUSY)

    def _check_request(self, req: IppMessage) -> AttributeGroup:
        if req.version[0] not in (1, 2):
            raise _IppFail(Status.VERSION_NOT_SUPPORTED, f"IPP version {req.version[0]}.{req.version[1]} is not supported")
        if req.request_id == 0:
            raise _IppFail(Status.BAD_REQUEST, "request-id 0 is not allowed")
        if not req.groups or req.groups[0].tag != Tag.OPERATION:
            raise _IppFail(Status.BAD_REQUEST, "the operation attributes must come first")
        attrs = req.groups[0]
        names = [a.name for a in attrs.attributes[:2]]
        if names != ["attributes-charset", "attributes-natural-language"]:
            raise _IppFail(Status.BAD_REQUEST, "attributes-charset and attributes-natural-language must come first")
        if attrs["attributes-charset"].value.lower() not in ("utf-8", "us-ascii"):
            raise _IppFail(Status.CHARSET_NOT_SUPPORTED, "only utf-8 is supported")
        if "printer-uri" not in attrs and "job-uri" not in attrs:
            raise _IppFail(Status.BAD_REQUEST, "no printer-uri or job-uri")
        return attrs

    # Get-Printer-Attributes

    def _printer_attributes(self) -> list[Attribute]:
        m, s = self.model, self.state
        A = Attribute
        media_supported = list(m.media)
        ready = list(dict.fromkeys(t.media for t in s.trays if t.level > 0)) or media_supported[:1]

        media_col = _media_col

        sides = ["one-sided", "two-sided-long-edge", "two-sided-short-edge"] if m.duplex else ["one-sided"]
        formats = list(dict.fromkeys([*self.readers, "application/octet-stream"]))
        jobs_queued = len(s.queued_jobs())
        attrs = [
            A("printer-uri-supported", self.url, Tag.URI),
            A("uri-security-supported", "tls" if self._ssl else "none", Tag.KEYWORD),
            A("uri-authentication-supported", "none", Tag.KEYWORD),
            A("printer-name", self.name, Tag.NAME),
            A("printer-info", f"pmc simulated printer {self.name}", Tag.TEXT),
            A("printer-location", "pmc print room (simulated)", Tag.TEXT),
            A("printer-make-and-model", m.make_and_model, Tag.TEXT),
            A("printer-more-info", f"http://{self._host}:{self.port}/", Tag.URI),
            A("printer-state", int(s.printer_state), Tag.ENUM),
            A("printer-state-reasons", list(s.reasons), Tag.KEYWORD),
            A("printer-state-message", s.message, Tag.TEXT),
            A("printer-is-accepting-jobs", s.accepting_jobs, Tag.BOOLEAN),
            A("printer-up-time", self._up_time(), Tag.INTEGER),
            A("printer-current-time", self._now_date(), Tag.DATE_TIME),
            A("queued-job-count", jobs_queued, Tag.INTEGER),
            A("printer-impressions-completed", s.life_impressions, Tag.INTEGER),
            A("printer-media-sheets-completed", s.life_sheets, Tag.INTEGER),
            A("operations-supported", [int(o) for o in _PRINTER_OPS], Tag.ENUM),
            A("ipp-versions-supported", ["1.0", "1.1", "2.0"], Tag.KEYWORD),
            A("charset-configured", "utf-8", Tag.CHARSET),
            A("charset-supported", ["utf-8", "us-ascii"], Tag.CHARSET),
            A("natural-language-configured", "en", Tag.LANGUAGE),
            A("generated-natural-language-supported", "en", Tag.LANGUAGE),
            A("compression-supported", "none", Tag.KEYWORD),
            A("document-format-default", "application/octet-stream", Tag.MIME_TYPE),
            A("document-format-supported", formats, Tag.MIME_TYPE),
            A("pdl-override-supported", "attempted", Tag.KEYWORD),
            A("multiple-document-jobs-supported", False, Tag.BOOLEAN),
            A("multiple-operation-time-out", 60, Tag.INTEGER),
            A("color-supported", m.colour, Tag.BOOLEAN),
            A("pages-per-minute", int(m.speed_ipm), Tag.INTEGER),
            *([A("pages-per-minute-color", int(m.speed_ipm), Tag.INTEGER)] if m.colour else []),
            A("job-impressions-supported", IntRange(1, 1_000_000), Tag.RANGE),
            A("job-media-sheets-supported", IntRange(1, 1_000_000), Tag.RANGE),
            A("job-k-octets-supported", IntRange(0, 2_000_000), Tag.RANGE),
            A("copies-default", 1, Tag.INTEGER),
            A("copies-supported", IntRange(1, 999), Tag.RANGE),
            A("finishings-default", 3, Tag.ENUM),
            A("finishings-supported", 3, Tag.ENUM),
            A("job-sheets-default", "none", Tag.KEYWORD),
            A("job-sheets-supported", "none", Tag.KEYWORD),
            A("media-default", media_supported[0], Tag.KEYWORD),
            A("media-supported", media_supported, Tag.KEYWORD),
            A("media-ready", ready, Tag.KEYWORD),
            A("media-col-supported", ["media-size", "media-source", "media-type"], Tag.KEYWORD),
            A("media-col-default", media_col(media_supported[0], None)),
            A("media-col-ready", [media_col(t.media, t.name) for t in s.trays if t.level > 0] or [media_col(media_supported[0], None)]),
            A("media-size-supported", [Collection([A("x-dimension", MEDIA_SIZES[md][0]), A("y-dimension", MEDIA_SIZES[md][1])]) for md in media_supported]),
            A("media-source-supported", [t.name.lower().replace(" ", "-") for t in s.trays], Tag.KEYWORD),
            A("media-type-supported", "stationery", Tag.KEYWORD),
            A("multiple-document-handling-default", "separate-documents-collated-copies", Tag.KEYWORD),
            A("multiple-document-handling-supported", ["separate-documents-collated-copies"], Tag.KEYWORD),
            A("number-up-default", 1, Tag.INTEGER),
            A("number-up-supported", 1, Tag.INTEGER),
            A("orientation-requested-default", 3, Tag.ENUM),
            A("orientation-requested-supported", [3, 4], Tag.ENUM),
            A("output-bin-default", "face-down", Tag.KEYWORD),
            A("output-bin-supported", "face-down", Tag.KEYWORD),
            A("print-quality-default", 4, Tag.ENUM),
            A("print-quality-supported", [4], Tag.ENUM),
            A("printer-resolution-default", Resolution(m.resolution_dpi, m.resolution_dpi, 3)),
            A("printer-resolution-supported", Resolution(m.resolution_dpi, m.resolution_dpi, 3)),
            A("sides-default", "one-sided", Tag.KEYWORD),
            A("sides-supported", sides, Tag.KEYWORD),
            A("job-creation-attributes-supported", list(_JOB_TEMPLATE[:9]), Tag.KEYWORD),
            A("marker-names", "Black Toner", Tag.NAME),
            A("marker-colors", "#000000", Tag.NAME),
            A("marker-types", "toner", Tag.KEYWORD),
            A("marker-levels", int(s.toner_percent), Tag.INTEGER),
            A("marker-low-levels", int(m.toner_low_percent), Tag.INTEGER),
            A("marker-high-levels", 100, Tag.INTEGER),
            A("printer-supply-description", "Black Toner", Tag.TEXT),
        ]
        return attrs

    def _dynamic_printer_attributes(self) -> list[Attribute]:
        s, A = self.state, Attribute
        media = list(self.model.media)
        ready = [t for t in s.trays if t.level > 0]
        return [
            A("printer-state", int(s.printer_state), Tag.ENUM),
            A("printer-state-reasons", list(s.reasons), Tag.KEYWORD),
            A("printer-state-message", s.message, Tag.TEXT),
            A("printer-is-accepting-jobs", s.accepting_jobs, Tag.BOOLEAN),
            A("printer-up-time", self._up_time(), Tag.INTEGER),
            A("printer-current-time", self._now_date(), Tag.DATE_TIME),
            A("queued-job-count", len(s.queued_jobs()), Tag.INTEGER),
            A("printer-impressions-completed", s.life_impressions, Tag.INTEGER),
            A("printer-media-sheets-completed", s.life_sheets, Tag.INTEGER),
            A("media-ready", list(dict.fromkeys(t.media for t in ready)) or media[:1], Tag.KEYWORD),
            A("media-col-ready", [_media_col(t.media, t.name) for t in ready] or [_media_col(media[0], None)]),
            A("marker-levels", int(s.toner_percent), Tag.INTEGER),
            # PWG 5100.13 printer-supply: the Printer MIB supplies row as an octetString of key=value;
            A("printer-supply", (f"index=1;class=supplyThatIsConsumed;type=toner;unit=percent;maxcapacity=100;"
                                 f"level={int(s.toner_percent)};colorantname=black;").encode("ascii"), Tag.OCTET_STRING),
        ]

    async def _get_printer_attributes(self, req: IppMessage, attrs: AttributeGroup, resp: IppMessage) -> None:
        wanted = _requested(attrs, ("all",))
        group = resp.add_group(Tag.PRINTER)
        everything = bool(wanted & {"all", "printer-description", "job-template"})
        dynamic = self._dynamic_printer_attributes()
        names = {a.name for a in dynamic}
        if everything or not wanted <= names:
            if self._static_attributes is None:  # what the model and the URL fix: built once
                self._static_attributes = [a for a in self._printer_attributes() if a.name not in names]
            dynamic += self._static_attributes
        for a in dynamic:
            if everything or a.name in wanted:
                group.attributes.append(a)

    # jobs

    def _find_job(self, attrs: AttributeGroup) -> SimJob:
        job_id = attrs.get("job-id")
        if job_id is None and "job-uri" in attrs:
            tail = str(attrs.get("job-uri")).rsplit("/", 1)[-1]
            job_id = int(tail) if tail.isdigit() else -1
        if job_id is None:
            raise _IppFail(Status.BAD_REQUEST, "no job-id")
        if not isinstance(job_id, int) or job_id not in self.state.jobs:
            raise _IppFail(Status.NOT_FOUND, f"job {job_id} does not exist")
        return self.state.jobs[job_id]

    def _check_format(self, attrs: AttributeGroup) -> str:
        fmt = str(attrs.get("document-format", "application/octet-stream"))
        if fmt not in self.readers and fmt != "application/octet-stream":
            raise _IppFail(Status.DOCUMENT_FORMAT_NOT_SUPPORTED, f"document-format {fmt} is not supported")
        return fmt

    def _new_job(self, req: IppMessage, attrs: AttributeGroup, *, validate_only: bool = False) -> SimJob:
        if not self.state.accepting_jobs:
            raise _IppFail(Status.NOT_ACCEPTING_JOBS, "the printer is not accepting jobs")
        s = self.state
        template = req.group(Tag.JOB)
        job_id = s.next_job_id
        if not validate_only:
            s.next_job_id += 1  # now: concurrent submissions read their documents at the same time
        job = SimJob(
            job_id=job_id,
            name=str(attrs.get("job-name", f"job {job_id}")),
            user=str(attrs.get("requesting-user-name", "anonymous")),
            created_at=self._up_time(),
            created_date=self._now_date(),
            media=self.model.media[0],
        )
        if template is not None:
            sides = template.get("sides")
            if sides in ("two-sided-long-edge", "two-sided-short-edge") and self.model.duplex:
                job.sides = sides
            media = template.get("media")
            if "media-col" in template:
                size = template.get("media-col").get("media-size")
                if isinstance(size, Collection):
                    xy = (size.get("x-dimension"), size.get("y-dimension"))
                    media = next((k for k, v in MEDIA_SIZES.items() if v == xy), media)
            if media in self.model.media:
                job.media = media
            copies = template.get("copies")
            if isinstance(copies, int) and 1 <= copies <= 999:
                job.copies = copies
            job.template = [a for a in template.attributes if a.name in _JOB_TEMPLATE]
        return job

    async def _read_document(self, job: SimJob, fmt: str, data: bytes) -> None:
        cycle = self.power_cycles
        await self._parse_document(job, fmt, data)
        if cycle != self.power_cycles:
            raise _IppFail(Status.INTERNAL_ERROR, "the power went while the document was read")

    async def _parse_document(self, job: SimJob, fmt: str, data: bytes) -> None:
        if fmt == "application/octet-stream" and fmt not in self.readers:
            fmt = sniff(data)
        reader = self.readers.get(fmt)
        if reader is None:
            raise _IppFail(Status.DOCUMENT_FORMAT_NOT_SUPPORTED, f"document-format {fmt} is not supported")
        try:
            pages = await asyncio.to_thread(reader, data)
        except DocumentError as exc:
            raise _IppFail(Status.DOCUMENT_FORMAT_ERROR, f"{fmt}: {exc}") from None
        except Exception as exc:  # a parsing library's own failure on hostile bytes: still a format error
            logger.debug("printer %s: %s reader failed", self.name, fmt, exc_info=True)
            raise _IppFail(Status.DOCUMENT_FORMAT_ERROR, f"{fmt}: unreadable ({type(exc).__name__})") from None
        per_sheet = 2 if job.sides != "one-sided" else 1
        plan = []
        for start in range(0, len(pages), per_sheet):
            numbers = tuple(range(start + 1, min(len(pages), start + per_sheet) + 1))
            code = next((pages[n - 1] for n in numbers if pages[n - 1]), None)
            plan.append(_PlannedSheet(numbers, code))
        job.plan.extend(plan * job.copies)
        job.document_format = fmt
        job.k_octets += (len(data) + 1023) // 1024
        job.documents += 1

    def _add_job(self, job: SimJob) -> None:
        self.state.jobs[job.job_id] = job
        self._changed.set()

    def _job_summary(self, job: SimJob, resp: IppMessage) -> None:
        g = resp.add_group(Tag.JOB)
        for a in self._job_attributes(job):
            if a.name in ("job-id", "job-uri", "job-state", "job-state-reasons", "job-state-message",
                          "number-of-intervening-jobs"):
                g.attributes.append(a)

    async def _print_job(self, req: IppMessage, attrs: AttributeGroup, resp: IppMessage) -> None:
        fmt = self._check_format(attrs)
        job = self._new_job(req, attrs)
        await self._read_document(job, fmt, req.data)
        self._add_job(job)
        self._job_summary(job, resp)

    async def _validate_job(self, req: IppMessage, attrs: AttributeGroup, resp: IppMessage) -> None:
        self._check_format(attrs)
        self._new_job(req, attrs, validate_only=True)

    async def _create_job(self, req: IppMessage, attrs: AttributeGroup, resp: IppMessage) -> None:
        job = self._new_job(req, attrs)
        job.waiting_for_document = True
        job.reasons, job.message = ("job-incoming",), "Waiting for the document."
        self._add_job(job)
        self._job_summary(job, resp)

    async def _send_document(self, req: IppMessage, attrs: AttributeGroup, resp: IppMessage) -> None:
        job = self._find_job(attrs)
        if "last-document" not in attrs:
            raise _IppFail(Status.BAD_REQUEST, "no last-document")
        if not job.waiting_for_document or job.state.is_final:
            raise _IppFail(Status.NOT_POSSIBLE, f"job {job.job_id} is not waiting for a document")
        fmt = self._check_format(attrs)
        await self._read_document(job, fmt, req.data)
        if attrs.get("last-document"):
            job.waiting_for_document = False
            job.reasons, job.message = ("none",), "Job pending."
        self._changed.set()
        self._job_summary(job, resp)

    async def _cancel_job(self, req: IppMessage, attrs: AttributeGroup, resp: IppMessage) -> None:
        job = self._find_job(attrs)
        if job.state.is_final:
            raise _IppFail(Status.NOT_POSSIBLE, f"job {job.job_id} is already {job.state.name.lower()}")
        self._finish(job, JobState.CANCELED, ("job-canceled-by-user",), "Job canceled.")

    def _job_attributes(self, job: SimJob) -> list[Attribute]:
        A = Attribute
        waiting = [j for j in self.state.queued_jobs() if j.job_id < job.job_id]
        out = [
            A("job-id", job.job_id, Tag.INTEGER),
            A("job-uri", f"{self.url}/{job.job_id}", Tag.URI),
            A("job-printer-uri", self.url, Tag.URI),
            A("job-name", job.name, Tag.NAME),
            A("job-originating-user-name", job.user, Tag.NAME),
            A("job-state", int(job.state), Tag.ENUM),
            A("job-state-reasons", list(job.reasons), Tag.KEYWORD),
            A("job-state-message", job.message, Tag.TEXT),
            A("number-of-documents", job.documents, Tag.INTEGER),
            A("document-format-supplied", job.document_format, Tag.MIME_TYPE),
            A("job-k-octets", job.k_octets, Tag.INTEGER),
            A("job-impressions", job.impressions, Tag.INTEGER),
            A("job-media-sheets", job.sheets, Tag.INTEGER),
            A("job-impressions-completed", job.impressions_completed, Tag.INTEGER),
            A("job-media-sheets-completed", job.sheets_completed, Tag.INTEGER),
            A("job-printer-up-time", self._up_time(), Tag.INTEGER),
            A("time-at-creation", job.created_at, Tag.INTEGER),
            A("time-at-processing", job.processing_at, Tag.INTEGER) if job.processing_at is not None
            else A("time-at-processing", None, Tag.NO_VALUE),
            A("time-at-completed", job.completed_at, Tag.INTEGER) if job.completed_at is not None
            else A("time-at-completed", None, Tag.NO_VALUE),
            A("date-time-at-creation", job.created_date, Tag.DATE_TIME),
            A("date-time-at-processing", job.processing_date, Tag.DATE_TIME) if job.processing_date
            else A("date-time-at-processing", None, Tag.NO_VALUE),
            A("date-time-at-completed", job.completed_date, Tag.DATE_TIME) if job.completed_date
            else A("date-time-at-completed", None, Tag.NO_VALUE),
            A("output-device-assigned", self.name, Tag.NAME),
            A("copies", job.copies, Tag.INTEGER),
            A("sides", job.sides, Tag.KEYWORD),
            A("media", job.media, Tag.KEYWORD),
        ]
        if not job.state.is_final:
            out.append(A("number-of-intervening-jobs", len(waiting), Tag.INTEGER))
        return out

    async def _get_job_attributes(self, req: IppMessage, attrs: AttributeGroup, resp: IppMessage) -> None:
        job = self._find_job(attrs)
        _add_filtered(resp.add_group(Tag.JOB), self._job_attributes(job), _requested(attrs, ("all",)))

    async def _get_jobs(self, req: IppMessage, attrs: AttributeGroup, resp: IppMessage) -> None:
        which = str(attrs.get("which-jobs", "not-completed"))
        if which not in ("completed", "not-completed", "all"):
            raise _IppFail(Status.ATTRIBUTES_OR_VALUES_NOT_SUPPORTED, f"which-jobs {which} is not supported")
        wanted = _requested(attrs, _JOB_DEFAULT_GET_JOBS)
        user = str(attrs.get("requesting-user-name", "")) if attrs.get("my-jobs") else None
        limit = attrs.get("limit")
        jobs = list(self.state.jobs.values())
        if which == "completed":
            jobs = [j for j in reversed(jobs) if j.state.is_final]
        elif which == "not-completed":
            jobs = [j for j in jobs if not j.state.is_final]
        if user is not None:
            jobs = [j for j in jobs if j.user == user]
        if isinstance(limit, int) and limit > 0:
            jobs = jobs[:limit]
        for job in jobs:
            _add_filtered(resp.add_group(Tag.JOB), self._job_attributes(job), wanted)


def _media_col(media: str, source: str | None) -> Collection:
    x, y = MEDIA_SIZES[media]
    members = [Attribute("media-size", Collection([Attribute("x-dimension", x), Attribute("y-dimension", y)])),
               Attribute("media-type", "stationery", Tag.KEYWORD)]
    if source:
        members.append(Attribute("media-source", source.lower().replace(" ", "-"), Tag.KEYWORD))
    return Collection(members)


def _requested(attrs: AttributeGroup, default: tuple[str, ...]) -> set[str]:
    a = attrs.as_dict().get("requested-attributes")
    return set(str(v) for v in a.values) if a is not None else set(default)


def _add_filtered(group: AttributeGroup, attributes: list[Attribute], wanted: set[str]) -> None:
    everything = bool(wanted & {"all", "job-description", "job-template"})
    for a in attributes:
        if everything or a.name in wanted:
            group.attributes.append(a)


_HANDLERS: dict[int, Callable[..., Any]] = {
    Op.PRINT_JOB: SimIppPrinter._print_job,
    Op.VALIDATE_JOB: SimIppPrinter._validate_job,
    Op.CREATE_JOB: SimIppPrinter._create_job,
    Op.SEND_DOCUMENT: SimIppPrinter._send_document,
    Op.CANCEL_JOB: SimIppPrinter._cancel_job,
    Op.GET_JOB_ATTRIBUTES: SimIppPrinter._get_job_attributes,
    Op.GET_JOBS: SimIppPrinter._get_jobs,
    Op.GET_PRINTER_ATTRIBUTES: SimIppPrinter._get_printer_attributes,
}


# ---------------------------------------------------------------------------------------------------
# the server side of HTTP/1.1: written here, not shared with the client, so they cannot agree on a bug


def _http(status: int, reason: str, ctype: str, body: bytes, close: bool) -> bytes:
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\nServer: pmc-sim\r\n\r\n")
    return head.encode("ascii") + body


MAX_REQUEST = 512 * 1024 * 1024


async def _read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, str, dict[str, str], bytes, bool] | None:
    line = await reader.readline()
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise WireProtocolError(f"HTTP: bad request line {line[:60]!r}", offset=0)
    method, path, version = parts
    headers: dict[str, str] = {}
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n"):
            break
        if not h or len(headers) > 100:
            raise WireProtocolError("HTTP: headers cut short")
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    body = b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = bytearray()
        while True:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise WireProtocolError("HTTP: bad chunk size", offset=len(chunks)) from None
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                break
            if len(chunks) + size > MAX_REQUEST:
                raise WireProtocolError("HTTP: request too large", offset=len(chunks))
            chunks += await reader.readexactly(size)
            await reader.readexactly(2)
        body = bytes(chunks)
    elif "content-length" in headers:
        n = int(headers["content-length"])
        if n < 0 or n > MAX_REQUEST:
            raise WireProtocolError(f"HTTP: bad Content-Length {n}")
        body = await reader.readexactly(n)
    return method, path, headers, body, close


async def _serve_forever(args: Any) -> None:
    async with SimIppPrinter(args.model, name=args.name, speed=args.speed, snmp=args.snmp) as sim:
        print(f"{sim.name}: {sim.url}" + (f"  {sim.snmp_url}" if sim.snmp_url else ""), flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    """`python -m simulators.printer [MODEL] [--speed N] [--snmp]`: one simulated printer until Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m simulators.printer", description=main.__doc__)
    parser.add_argument("model", nargs="?", default="production-mono-150",
                        help="a model file, or a name in fixtures/printers (default production-mono-150)")
    parser.add_argument("--name", help="printer name (default: the model's)")
    parser.add_argument("--speed", type=float, default=1.0, help="clock speed factor (default 1: real time)")
    parser.add_argument("--snmp", action="store_true", help="also serve the Printer MIB over SNMP")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve_forever(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
