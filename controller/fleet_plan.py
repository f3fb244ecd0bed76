"""The fleet's decisions, as pure functions: where a print job goes, how a stopped printer's work is
split and moved, and whether a print job's impressions balance.

The services in controller/fleet.py gather printer state (IPP and SNMP) and act on these decisions;
keeping the decisions pure makes them table-testable without a printer in sight.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from controller.model import Piece, Plex, PrintJob

COUNTER32 = 1 << 32


class Health(enum.Enum):
    """A printer's merged state, from IPP printer-state(-reasons) and the SNMP status."""

    IDLE = "idle"
    PRINTING = "printing"
    WARNING = "warning"  # printing, with a warning (toner low, media low)
    STOPPED = "stopped"  # an error stops it: jam, media empty, door open, toner empty
    OFFLINE = "offline"  # not answering
    UNKNOWN = "unknown"  # not polled yet

    @property
    def can_take_work(self) -> bool:
        return self in (Health.IDLE, Health.PRINTING, Health.WARNING)


# short media names (as plant files and print jobs write them) -> PWG 5101.1 keywords (as IPP sends them)
MEDIA_KEYWORDS = {
    "letter": "na_letter_8.5x11in",
    "legal": "na_legal_8.5x14in",
    "ledger": "na_ledger_11x17in",
    "tabloid": "na_ledger_11x17in",
    "a4": "iso_a4_210x297mm",
    "a3": "iso_a3_297x420mm",
}


def media_keyword(name: str) -> str:
    """The PWG keyword for a media name; a name that already is one is returned as it is."""
    return MEDIA_KEYWORDS.get(name.lower(), name)


@dataclass(frozen=True, slots=True)
class PrinterCaps:
    name: str
    speed_ipm: int
    media: frozenset[str]
    duplex: bool
    colour: bool
    max_job_sheets: int | None = None  # a small printer is not given a long run


@dataclass(frozen=True, slots=True)
class PrinterView:
    """What the fleet knows of one printer right now."""

    name: str
    health: Health
    reasons: frozenset[str] = frozenset()  # IPP keywords, e.g. media-jam-error
    queued_impressions: int = 0  # routed there and not yet confirmed printed
    since: float = 0.0  # monotonic time the health last changed


@dataclass(frozen=True, slots=True)
class Route:
    printer: str | None
    expected_minutes: float | None
    refused: Mapping[str, str] = field(default_factory=dict)  # printer -> why it was not chosen

    def explain(self) -> str:
        return "; ".join(f"{p}: {why}" for p, why in sorted(self.refused.items())) or "no printers configured"


def capability_gap(job: PrintJob, caps: PrinterCaps) -> str | None:
    """Why `caps` cannot print `job`, or None when it can."""
    if media_keyword(job.media) not in {media_keyword(m) for m in caps.media}:
        return f"no {job.media} media (has {', '.join(sorted(caps.media))})"
    if job.plex is Plex.DUPLEX and not caps.duplex:
        return "cannot print duplex"
    if job.colour and not caps.colour:
        return "cannot print colour"
    if caps.max_job_sheets is not None and job.sheets > caps.max_job_sheets:
        return f"{job.sheets} sheets is more than its limit of {caps.max_job_sheets} per job"
    return None


def route(
    job: PrintJob,
    printers: Sequence[PrinterCaps],
    views: Mapping[str, PrinterView],
    *,
    exclude: frozenset[str] = frozenset(),
) -> Route:
    """The capable, working printer that would finish `job` first (queue depth over speed)."""
    refused: dict[str, str] = {}
    best: tuple[float, str] | None = None
    for caps in printers:
        if caps.name in exclude:
            refused[caps.name] = "excluded (the job is moving off it)"
            continue
        gap = capability_gap(job, caps)
        if gap:
            refused[caps.name] = gap
            continue
        view = views.get(caps.name)
        if view is None or not view.health.can_take_work:
            refused[caps.name] = f"{view.health.value if view else 'unknown'}" + (
                f" ({', '.join(sorted(view.reasons))})" if view and view.reasons else "")
            continue
        minutes = (view.queued_impressions + job.impressions) / caps.speed_ipm
        if best is None or (minutes, caps.name) < best:
            best = (minutes, caps.name)
    if best is None:
        return Route(None, None, refused)
    return Route(best[1], best[0], refused)


PAGE_LIST_FORMAT = "application/vnd.pmc.pages"  # one line per page: the control code, or "-"
# IPP document-format of each print-stream format (controller.streams.base.StreamFormat values)
STREAM_DOCUMENT_FORMATS: Mapping[str, str] = {
    "afp": "application/vnd.ibm.modcap",
    "pdf": "application/pdf",
    "ps": "application/postscript",
    "pcl": "application/vnd.hp-pcl",
}


def should_fail_over(view: PrinterView, now: float, grace_s: float) -> bool:
    """A printer stopped with an error, or silent, for longer than the grace time."""
    return view.health in (Health.STOPPED, Health.OFFLINE) and now - view.since >= grace_s


@dataclass(frozen=True, slots=True)
class FailoverSplit:
    """A print job cut at a piece boundary after the last impression the printer confirmed."""

    printed: tuple[str, ...]  # pieces wholly printed and delivered: they stay
    remainder: tuple[str, ...]  # pieces to print elsewhere, in their order
    spoiled_sheets: int  # sheets to throw away: those in the paper path, and a cut piece's delivered sheets
    cut_piece: str | None  # the piece the jam cut through, if any (reprinted whole)


def impressions_of(piece: Piece) -> int:
    """Impressions a piece takes: duplex pieces are padded to whole sheets (no sheet carries two pieces, or
    the inserter could not part them), and a printer counts a blank back as an impression."""
    return 2 * piece.sheets if piece.plex is Plex.DUPLEX else piece.pages


def split_for_failover(pieces: Sequence[Piece], confirmed_impressions: int, in_path_sheets: int = 0) -> FailoverSplit:
    """Cut a print job's pieces (in print order) after `confirmed_impressions` good impressions.

    `in_path_sheets` are sheets the printer had taken but not delivered when it stopped (spoiled at a
    jam); they are not part of the confirmed count. A piece only part of which was delivered is
    reprinted whole, and its delivered sheets are spoiled too: a piece is never split across printers.
    """
    if confirmed_impressions < 0 or in_path_sheets < 0:
        raise ValueError("impression and sheet counts cannot be negative")
    done = 0
    printed: list[str] = []
    for i, piece in enumerate(pieces):
        imps = impressions_of(piece)
        if done + imps <= confirmed_impressions:
            done += imps
            printed.append(piece.piece_id)
            continue
        partial_imps = confirmed_impressions - done
        partial_sheets = 0
        if partial_imps > 0:
            per_sheet = 2 if piece.plex is Plex.DUPLEX else 1
            partial_sheets = -(-partial_imps // per_sheet)
        return FailoverSplit(
            printed=tuple(printed),
            remainder=tuple(p.piece_id for p in pieces[i:]),
            spoiled_sheets=in_path_sheets + partial_sheets,
            cut_piece=piece.piece_id if partial_imps > 0 else None,
        )
    return FailoverSplit(tuple(printed), (), in_path_sheets, None)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One print job on one printer: what it was to deliver, what IPP and the page counter say."""

    print_job_id: str
    planned: int  # impressions this printer was to deliver (after a failover: the part it kept)
    ipp_completed: int | None  # job-impressions-completed: delivered impressions only
    counter_delta: int | None  # SNMP prtMarkerLifeCount end - start (Counter32 wrap handled)
    spoiled: int  # impressions the marker made and did not deliver (the paper path at a jam)
    discrepancies: tuple[str, ...]
    printer: str = ""
    duplicates: int = 0  # impressions delivered beyond `planned` and named as duplicates to pull
    ipp_lost: bool = False  # the printer lost the job (a restart): IPP cannot say, the counter alone witnesses

    @property
    def balanced(self) -> bool:
        return not self.discrepancies


def counter_delta(start: int, end: int) -> int:
    """The difference of two Counter32 readings, across at most one wrap."""
    return (end - start) % COUNTER32


def reconcile(
    print_job_id: str,
    planned: int,
    *,
    ipp_completed: int | None,
    counter_start: int | None = None,
    counter_end: int | None = None,
    spoiled: int = 0,
    printer: str = "",
    duplicates: int = 0,
    ipp_lost: bool = False,
) -> Reconciliation:
    """Planned impressions against what IPP said and what the page counter moved; every mismatch is named.

    A printer's job-impressions-completed counts delivered impressions; its marker counter counts every
    impression made, the spoiled ones at a jam included (RFC 3805 prtMarkerLifeCount; the simulator
    does the same). So IPP must equal the plan, and the counter must have moved by the plan plus the
    spoils seen while the printer was stopped: a counter that moved more means sheets nobody accounted
    for (a jam recovered between two polls, or another job), and that is raised, never absorbed.

    `duplicates`: impressions the printer delivered beyond `planned` after its work had moved (a job cut
    while it printed on unheard), each named as a duplicate to pull: IPP must then report the plan plus
    them, the counter the plan plus them plus the spoils. `ipp_lost`: the printer restarted and lost the
    job, so IPP can no longer say; the page counter alone must account for every impression (and is
    then required).
    """
    found: list[str] = []
    delta = None
    if counter_start is not None and counter_end is not None:
        delta = counter_delta(counter_start, counter_end)
    delivered = planned + duplicates
    also = f" plus {duplicates} duplicates" if duplicates else ""
    if ipp_lost:
        if delta is None:
            found.append("the printer lost the job in a restart and its page counter could not be read: "
                         "nothing witnesses what it printed")
    elif ipp_completed is None:
        found.append("IPP gave no job-impressions-completed")
    elif ipp_completed != delivered:
        found.append(f"IPP reports {ipp_completed} impressions delivered, the plan {planned}{also}")
    if delta is not None and delta != delivered + spoiled:
        found.append(f"the page counter moved {delta}, the plan {planned}{also} plus {spoiled} spoiled")
    if delta is not None and ipp_completed is not None and delta - ipp_completed != spoiled:
        found.append(f"the page counter ({delta}) and IPP ({ipp_completed}) differ by {delta - ipp_completed}, "
                     f"the spoils seen are {spoiled}")
    return Reconciliation(print_job_id, planned, ipp_completed, delta, spoiled, tuple(found), printer, duplicates,
                          ipp_lost)
