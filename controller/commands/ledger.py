"""`pmc ledger summary|history PIECE|verify`, and `pmc ledger import PLAN.json`: a print plan's pieces recorded as
sorted, as `pmc fleet print` needs them."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path

from controller.errors import LedgerError
from controller.ledger import Ledger
from controller.model import PieceState

DEFAULT_LEDGER = "pmc-ledger.sqlite"


def add_ledger_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        default=os.environ.get("PMC_LEDGER", DEFAULT_LEDGER),
        help=f"the ledger file (default: $PMC_LEDGER or {DEFAULT_LEDGER})",
    )


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ledger", help="the piece ledger: read it, import a print plan's pieces")
    cmds = parser.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    summary = cmds.add_parser("summary", help="pieces per state for every job")
    add_ledger_argument(summary)
    summary.add_argument("--json", action="store_true", help="machine-readable output")
    summary.set_defaults(func=_summary)
    history = cmds.add_parser("history", help="every event of one piece")
    add_ledger_argument(history)
    history.add_argument("piece", help="the piece ID")
    history.add_argument("--json", action="store_true", help="machine-readable output")
    history.set_defaults(func=_history)
    verify = cmds.add_parser("verify", help="fold the event log and check it against the state table")
    add_ledger_argument(verify)
    verify.set_defaults(func=_verify)
    imp = cmds.add_parser(
        "import", help="record a print plan's pieces as sorted, so that pmc fleet print can print them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Record every piece of PLAN.json (as pmc fleet plan writes it, or written by hand) in the "
                    "ledger under the plan's run, indexed then sorted, in one all-or-nothing batch: either every "
                    "piece is recorded or the ledger is left as it was. A new ledger file is made if there is none. "
                    "Pieces the ledger already holds under the run are left as they are (those only indexed are "
                    "sorted), so importing a plan again writes nothing and says so. Refused, with nothing written: "
                    "a plan file that does not read as a plan; a piece the ledger holds under another run; new "
                    "pieces for a run already begun (pmc fleet print --resume finishes that).",
        epilog="example:\n"
               "  pmc fleet plan STATEMENTS.afp jobs/ --out plan.json\n"
               "  pmc ledger import plan.json --ledger L.sqlite\n"
               "  pmc fleet print plant.toml plan.json --ledger L.sqlite\n"
               "Exit code 0 when every piece of the plan is in the ledger under its run (imported now or before), "
               "1 otherwise.")
    imp.add_argument("plan", help="the print plan (JSON: run, pieces, print jobs)")
    add_ledger_argument(imp)
    imp.add_argument("--json", action="store_true", help="machine-readable output")
    imp.set_defaults(func=_import)


def _existing(path: str) -> str:
    if not Path(path).is_file():
        raise LedgerError(f"{path}: no ledger file here (give --ledger PATH or set PMC_LEDGER)")
    return path


STATE_ORDER = list(PieceState)


async def _summary(args: argparse.Namespace) -> int:
    async with Ledger(_existing(args.ledger)) as ledger:
        counts = await ledger.counts_by_state()
        events = await ledger.event_count()
    if args.json:
        print(json.dumps({"events": events, "jobs": {j: {s.value: n for s, n in c.items()} for j, c in counts.items()}}, indent=2))
        return 0
    states = [s for s in STATE_ORDER if any(s in c for c in counts.values())]
    if not counts:
        print(f"{args.ledger}: empty ledger")
        return 0
    width = max(8, *(len(j) for j in counts))
    print(f"{'job':<{width}} " + " ".join(f"{s.value:>14}" for s in states) + f" {'total':>8}")
    for job, c in counts.items():
        print(f"{job:<{width}} " + " ".join(f"{c.get(s, 0):>14}" for s in states) + f" {sum(c.values()):>8}")
    print(f"{events} events")
    return 0


async def _history(args: argparse.Namespace) -> int:
    async with Ledger(_existing(args.ledger)) as ledger:
        record = await ledger.piece(args.piece)
        entries = await ledger.history(args.piece)
    if record is None:
        raise LedgerError(f"{args.ledger}: no piece {args.piece!r} in the ledger")
    if args.json:
        print(json.dumps([
            {"seq": e.seq, "event": e.kind.value, "from": e.from_state.value if e.from_state else None,
             "to": e.to_state.value, "device": e.device, "device_seq": e.device_seq, "container": e.container,
             "reason": e.reason, "data": e.data, "at": e.at}
            for e in entries], indent=2))
        return 0
    print(f"piece {record.piece_id} of job {record.job_id}: {record.state.value}"
          + (f", container {record.container}" if record.container else ""))
    for e in entries:
        when = dt.datetime.fromtimestamp(e.at).isoformat(sep=" ", timespec="milliseconds")
        extra = " ".join(filter(None, [
            f"device={e.device}" + (f"#{e.device_seq}" if e.device_seq is not None else "") if e.device else "",
            f"container={e.container}" if e.container else "",
            f"reason={e.reason!r}" if e.reason else "",
        ]))
        frm = e.from_state.value if e.from_state else "-"
        print(f"  #{e.seq:<8} {when}  {e.kind.value:<15} {frm:>14} -> {e.to_state.value:<14} {extra}")
    return 0


async def _verify(args: argparse.Namespace) -> int:
    async with Ledger(_existing(args.ledger)) as ledger:
        problems = await ledger.verify()
        events = await ledger.event_count()
    if problems:
        for p in problems[:50]:
            print(f"{args.ledger}: {p}")
        if len(problems) > 50:
            print(f"... and {len(problems) - 50} more")
        return 1
    print(f"{args.ledger}: consistent ({events} events fold to the state table)")
    return 0


async def _import(args: argparse.Namespace) -> int:
    from controller.commands.fleet import import_plan, load_print_plan

    plan = load_print_plan(args.plan)
    plan.model()  # a plan that does not hold together is refused before the ledger is opened (or made)
    new = not Path(args.ledger).exists()
    async with Ledger(args.ledger) as ledger:
        done = await import_plan(ledger, plan, source=str(args.plan))
    held = sorted(done.held.items(), key=lambda i: STATE_ORDER.index(i[0]))
    if args.json:
        print(json.dumps({"ledger": str(args.ledger), "plan": str(args.plan), "run": done.run, "pieces": done.pieces,
                          "imported": done.imported, "sorted": done.sorted_now,
                          "already": {s.value: n for s, n in held}, "events": done.events, "new_ledger": new},
                         indent=2))
        return 0
    already = ", ".join(f"{n} {s.value}" for s, n in held)
    if not done.events:
        print(f"{args.ledger}: run {done.run}: the plan's {done.pieces} pieces are already in the ledger ({already}), "
              f"nothing written")
        return 0
    print(f"{args.ledger}: run {done.run}: {done.imported + done.sorted_now} of the plan's {done.pieces} pieces "
          f"recorded as sorted from {args.plan} ({done.events} events"
          + (", a new ledger" if new else "") + ")"
          + (f"; {done.sorted_now} of them were indexed already" if done.sorted_now else "")
          + (f"; already there: {already}" if already else ""))
    return 0
