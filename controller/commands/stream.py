"""`pmc stream inspect|reorder|split`: index a print stream, or run an engineering step by hand."""

from __future__ import annotations

import argparse
import codecs
import csv
import dataclasses
import json
import random
import sys
import time
from pathlib import Path
from typing import Callable

from controller.errors import StreamError
from controller.model import Piece
from controller.streams.base import (EngineeringPlan, PrintJobPlan, SheetStamp, StreamFormat, StreamIndex, StreamReader,
                                     check_plan)
from controller.streams.paged import job_progress
from controller.streams.registry import format_named, index_stream, reader_for, sniff, write_stream

TABLE_ROWS = 20
PROGRESS_MIN_BYTES = 20 << 20


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("stream", help="print streams: inspect, reorder, split")
    cmds = parser.add_subparsers(dest="stream_command", metavar="ACTION", required=True)

    inspect = cmds.add_parser("inspect", help="format, pieces, pages, sheets and the first pieces of a stream")
    _common(inspect)
    inspect.add_argument("--rows", type=int, default=TABLE_ROWS, help=f"pieces in the table (default {TABLE_ROWS})")
    inspect.add_argument("--write-index", metavar="FILE", help="also write the index as CSV or JSON (by suffix)")
    inspect.set_defaults(func=_inspect)

    reorder = cmds.add_parser("reorder", help="write the stream's pieces in a new order, as one print job")
    _common(reorder)
    _engineering(reorder)
    reorder.set_defaults(func=_reorder)

    split = cmds.add_parser("split", help="cut the stream (optionally reordered) into print jobs")
    _common(split)
    _engineering(split)
    how = split.add_mutually_exclusive_group(required=True)
    how.add_argument("--pieces-per-job", type=int, metavar="N", help="N pieces in each print job")
    how.add_argument("--jobs", type=int, metavar="N", help="N print jobs of near-equal piece counts")
    how.add_argument("--at", metavar="ID,ID...", help="start a new print job at each of these pieces")
    split.set_defaults(func=_split)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="the stream (AFP, PDF, PostScript or PCL)")
    p.add_argument("--format", help="skip sniffing: afp, pdf, ps or pcl")
    p.add_argument("--job", help="job ID for the pieces (default: the file's stem)")
    p.add_argument("--lenient", action="store_true", help="quarantine bad pieces (each with its reason) instead of failing")
    side = p.add_mutually_exclusive_group()
    side.add_argument("--sidecar", type=Path, help="the index file to use (default: the one beside the stream, if any)")
    side.add_argument("--no-sidecar", action="store_true", help="ignore any index file beside the stream")
    p.add_argument("--encoding", metavar="CODEC",
                   help="AFP: the code page of TLEs that name none (default cp500; Apache FOP writes cp1146, "
                        "EBCDIC UK with the euro)")
    p.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _engineering(p: argparse.ArgumentParser) -> None:
    order = p.add_mutually_exclusive_group()
    order.add_argument("--order", type=Path, metavar="FILE",
                       help="the new piece order: one piece ID a line, or CSV with a 'piece' column")
    order.add_argument("--sort", choices=("postal", "reverse", "random"), help="a built-in order instead")
    p.add_argument("--seed", type=int, default=1, help="seed for --sort random (default 1)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--name", default="job", help="print job name prefix (default 'job')")
    p.add_argument("--stamp", action="store_true", help="stamp each sheet with its control code")
    p.add_argument("--barcodes", action="store_true",
                   help="AFP: also draw each stamped code as a BCOCA DataMatrix object (implies --stamp)")


class _Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label, self.enabled, self.last = label, enabled, 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = int(width * done / total)
        print(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {100 * done // total:3d}%", end="",
              file=sys.stderr, flush=True)
        if done >= total:
            print(file=sys.stderr, flush=True)


def _with_encoding(reader: StreamReader, fmt: StreamFormat, encoding: str) -> StreamReader:
    """The AFP reader reading TLEs without a CCSID triplet in `encoding`."""
    if fmt is not StreamFormat.AFP:
        raise StreamError(f"--encoding applies to AFP streams; this one is {fmt.value}")
    from controller.streams.afp import AfpReader  # registers cp1146 and cp285 (controller.streams.ebcdic)

    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        single_byte = False
    else:  # every byte one character, whatever follows it (UTF-8 or UTF-16 would pair bytes up)
        probe = bytes(x for b in range(256) for x in (b, 0xA9))
        single_byte = probe.decode(codec.name, "replace") == "".join(
            bytes([x]).decode(codec.name, "replace") for x in probe)
    if not single_byte:
        raise StreamError(f"--encoding {encoding!r}: not a single-byte code page Python knows "
                          "(try cp500, cp037, cp1140, cp273, cp1146)")
    assert isinstance(reader, AfpReader)
    return AfpReader(dataclasses.replace(reader.mapping, encoding=codec.name), medium_maps=reader.medium_maps,
                     default_plex=reader.default_plex, progress=reader.progress)


def _index(args: argparse.Namespace, *, to_write: bool = False) -> StreamIndex:
    path: Path = args.file
    fmt = format_named(args.format) if args.format else sniff(path)
    reader = reader_for(fmt)
    if args.encoding:
        reader = _with_encoding(reader, fmt, args.encoding)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StreamError(f"cannot read: {exc.strerror}", path=str(path)) from None
    show = args.progress or (sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES and not args.json)
    if show and hasattr(reader, "with_progress"):
        reader = reader.with_progress(_Progress(f"indexing {path.name}", True))
    elif show:
        print(f"indexing {path.name} ({size / 1e6:.1f} MB)...", file=sys.stderr, flush=True)
    sidecar = None if args.no_sidecar else (args.sidecar or "auto")
    return index_stream(path, job_id=args.job, lenient=args.lenient, reader=reader, sidecar=sidecar,
                        keep_layout=to_write)


def _piece_json(p: Piece) -> dict:
    return {"piece": p.piece_id, "sequence": p.sequence, "first_page": p.first_page + 1, "pages": p.pages,
            "sheets": p.sheets, "plex": p.plex.value, "postal_code": p.postal_code, "recipient": list(p.recipient),
            "inserts": sorted(p.inserts), "index": dict(p.index)}


def _summary_json(idx: StreamIndex) -> dict:
    return {"path": idx.path, "format": idx.format.value, "job": idx.job_id, "pieces": len(idx.pieces),
            "pages": idx.pages, "sheets": idx.sheets, "quarantined": [
                {"reason": q.reason, "piece": q.piece_id, "offset": q.offset, "page": q.page} for q in idx.quarantined]}


def _inspect(args: argparse.Namespace) -> int:
    idx = _index(args)
    if args.write_index:
        from controller.streams.sidecar import write_sidecar
        write_sidecar(idx.pieces, Path(args.write_index))
    if args.json:
        out = _summary_json(idx)
        out["piece_list"] = [_piece_json(p) for p in idx.pieces]
        print(json.dumps(out, indent=1))
        return 0
    print(f"{idx.path}: {idx.format.value}, job {idx.job_id}")
    print(f"  pieces {len(idx.pieces)}, pages {idx.pages}, sheets {idx.sheets}, quarantined {len(idx.quarantined)}")
    if idx.pieces:
        shown = idx.pieces[:max(args.rows, 0)]
        wid = max(5, *(len(p.piece_id) for p in shown)) if shown else 5
        print(f"  {'piece':<{wid}} {'first':>6} {'pages':>5} {'sheets':>6} {'plex':<7} {'postal code':<12} "
              f"{'inserts':<8} recipient")
        for p in shown:
            ins = ",".join(map(str, sorted(p.inserts))) or "-"
            rcpt = p.recipient[0] if p.recipient else "-"
            print(f"  {p.piece_id:<{wid}} {p.first_page + 1:>6} {p.pages:>5} {p.sheets:>6} {p.plex.value:<7} "
                  f"{p.postal_code or '-':<12} {ins:<8} {rcpt}")
        if len(idx.pieces) > len(shown):
            print(f"  ... and {len(idx.pieces) - len(shown)} more")
    for q in idx.quarantined:
        where = ", ".join(filter(None, [f"byte {q.offset}" if q.offset is not None else "",
                                        f"page {q.page}" if q.page is not None else ""]))
        print(f"  quarantined {q.piece_id or '(no ID)'}{f' ({where})' if where else ''}: {q.reason}")
    return 0


def _order(args: argparse.Namespace, idx: StreamIndex) -> list[str]:
    ids = [p.piece_id for p in idx.pieces]
    if args.order:
        try:
            text = args.order.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise StreamError(f"cannot read the order file: {exc.strerror}", path=str(args.order)) from None
        first = text.splitlines()[0] if text.strip() else ""
        if "," in first:
            rows = list(csv.DictReader(text.splitlines()))
            key = next((k for k in (rows[0].keys() if rows else ()) if k and k.strip().lower() in ("piece", "piece_id", "id")), None)
            if key is None:
                raise StreamError("the order file has no 'piece' column", path=str(args.order))
            return [r[key].strip() for r in rows]
        return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if args.sort == "postal":
        by = {p.piece_id: (p.postal_code or "", p.sequence) for p in idx.pieces}
        return sorted(ids, key=by.__getitem__)
    if args.sort == "reverse":
        return ids[::-1]
    if args.sort == "random":
        random.Random(args.seed).shuffle(ids)
    return ids


def control_code_stamps(idx: StreamIndex) -> dict[tuple[str, int], SheetStamp]:
    """A control code for every sheet of every piece: the run's job token, the piece's sequence."""
    from drivers.controlcode import ControlCode, encode, job_token, piece_token

    job = job_token(idx.job_id)
    return {(p.piece_id, s): SheetStamp(p.piece_id, s, encode(ControlCode(job, piece_token(p.sequence), s, p.sheets,
                                                                         p.inserts)))
            for p in idx.pieces for s in range(1, p.sheets + 1)}


def _write(args: argparse.Namespace, idx: StreamIndex, cuts: list[list[str]]) -> int:
    jobs = tuple(PrintJobPlan(f"{args.name}-{i + 1:03d}", tuple(c)) for i, c in enumerate(cuts))
    stamp = args.stamp or args.barcodes
    plan = EngineeringPlan(jobs=jobs, stamps=control_code_stamps(idx) if stamp else {})
    write = write_stream
    if args.barcodes:
        if idx.format is not StreamFormat.AFP:
            raise StreamError(f"--barcodes draws BCOCA objects in AFP streams; {idx.format.value} stamps draw "
                              "their codes already", path=idx.path)
        from controller.streams.afp_writer import AfpWriter
        write = AfpWriter(barcodes=True).write
    check_plan(idx, plan)
    show = args.progress or (sys.stderr.isatty() and len(jobs) > 1 and not args.json)
    progress: Callable[[int, int], None] = _Progress(f"writing {len(jobs)} print jobs", show)
    by_id = {p.piece_id: p for p in idx.pieces}
    with job_progress(progress):  # one write, all or nothing; the writer reports each job it finishes
        paths = write(idx, plan, args.out)
    report = [{"path": str(path), "job": job.name, "pieces": len(job.piece_ids),
               "pages": sum(by_id[i].pages for i in job.piece_ids),
               "sheets": sum(by_id[i].sheets for i in job.piece_ids)} for path, job in zip(paths, jobs)]
    if args.json:
        print(json.dumps({**_summary_json(idx), "outputs": report}, indent=1))
        return 0
    print(f"{idx.path}: {idx.format.value}, {len(idx.pieces)} pieces into {len(paths)} print job(s)"
          + (", every sheet stamped" if stamp else "") + (" (with BCOCA DataMatrix objects)" if args.barcodes else ""))
    for r in report:
        print(f"  {r['path']}: {r['pieces']} pieces, {r['pages']} pages, {r['sheets']} sheets")
    for q in idx.quarantined:
        print(f"  quarantined {q.piece_id or '(no ID)'}: {q.reason} (left out)")
    return 0


def _reorder(args: argparse.Namespace) -> int:
    idx = _index(args, to_write=True)
    return _write(args, idx, [_order(args, idx)])


def _split(args: argparse.Namespace) -> int:
    idx = _index(args, to_write=True)
    order = _order(args, idx)
    if args.pieces_per_job is not None:
        if args.pieces_per_job < 1:
            raise StreamError("--pieces-per-job must be at least 1")
        n = args.pieces_per_job
        cuts = [order[i:i + n] for i in range(0, len(order), n)]
    elif args.jobs is not None:
        if args.jobs < 1:
            raise StreamError("--jobs must be at least 1")
        k = min(args.jobs, max(len(order), 1))
        size, extra = divmod(len(order), k)
        cuts, pos = [], 0
        for i in range(k):
            step = size + (1 if i < extra else 0)
            cuts.append(order[pos:pos + step])
            pos += step
    else:
        starts = [s.strip() for s in args.at.split(",") if s.strip()]
        where = {pid: i for i, pid in enumerate(order)}
        missing = [s for s in starts if s not in where]
        if missing:
            raise StreamError(f"--at names piece {missing[0]}, which the stream does not hold", piece_id=missing[0])
        bounds = sorted({0, *(where[s] for s in starts)})
        cuts = [order[a:b] for a, b in zip(bounds, [*bounds[1:], len(order)])]
    return _write(args, idx, [c for c in cuts if c])


@dataclasses.dataclass(frozen=True, slots=True)
class StreamDemo:
    """What run_stream_demo did, for the end-to-end demo to show or check."""

    index: StreamIndex  # the FOP stream as indexed
    outputs: tuple[Path, ...]  # print jobs written, in presort order, every sheet stamped
    reindexed: tuple[StreamIndex, ...]  # each output read back
    sample_code: str  # one stamped control code payload, as the printer simulator would read it


def run_stream_demo(workdir: Path, *, jobs: int = 3, say: Callable[[str], None] = print) -> StreamDemo:
    """Index the FOP-made AFP fixture, order it by postal code, cut it into print jobs with a control
    code on every sheet, and read every job back: the stream stage of `pmc demo`, on real AFP."""
    from controller.streams.afp import STAMP_TLE, read_stamps
    from drivers.controlcode import decode

    src = Path(__file__).resolve().parents[2] / "fixtures" / "streams" / "afp" / "fop_statements.afp"
    idx = index_stream(src, job_id="demo-afp")
    say(f"  stream {src.name}: {idx.format.value}, {len(idx.pieces)} pieces, {idx.pages} pages, {idx.sheets} sheets")
    order = sorted((p.piece_id for p in idx.pieces), key={p.piece_id: (p.postal_code or "", p.sequence)
                                                           for p in idx.pieces}.__getitem__)
    size, extra = divmod(len(order), jobs)
    cuts, pos = [], 0
    for i in range(jobs):
        step = size + (1 if i < extra else 0)
        cuts.append(tuple(order[pos:pos + step]))
        pos += step
    plan = EngineeringPlan(jobs=tuple(PrintJobPlan(f"demo-afp-{i + 1:03d}", c) for i, c in enumerate(cuts) if c),
                           stamps=control_code_stamps(idx))
    out_dir = Path(workdir) / "streams"
    outputs = tuple(write_stream(idx, plan, out_dir))
    back = tuple(index_stream(p, job_id="demo-afp", sidecar=None) for p in outputs)
    got = [pc.piece_id for b in back for pc in b.pieces]
    if got != order:
        raise StreamError("the engineered print jobs do not read back in presort order", path=str(out_dir))
    stamps = [v for _, _, name, v in read_stamps(outputs[0]) if name == STAMP_TLE]
    code = decode(stamps[0])
    say(f"  engineered {len(outputs)} print jobs in postal-code order under {out_dir}, every sheet stamped; "
        f"read back: {len(got)} pieces in order; first control code {stamps[0]} = job {code.job}, "
        f"piece {code.piece}, sheet {code.sheet} of {code.of}")
    return StreamDemo(idx, outputs, back, stamps[0])
