"""`pmc fleet status PLANT.toml`: poll every configured printer over IPP and SNMP, print one line each.
`pmc fleet demo [--workdir DIR]`: print a run on six simulated printers with a jam and a printer dropping off."""

from __future__ import annotations

import argparse
import json

from controller.config import load_plant_config
from controller.fleet_plan import Health


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("fleet", help="the printer fleet")
    cmds = parser.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    status = cmds.add_parser("status", help="poll the plant's printers over IPP and SNMP and show their state",
                            description="Exit code 1 when a printer is stopped or not answering.")
    status.add_argument("file", help="the plant TOML file")
    status.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each answer (default 2)")
    status.add_argument("--json", action="store_true", help="one JSON object per printer instead of a table")
    status.set_defaults(func=_status)
    demo = cmds.add_parser("demo", help="print a run on six simulated printers, with a jam and a printer dropping off",
                           description="Exit code 1 when a sheet or a piece is not accounted for.")
    demo.add_argument("--workdir", help="keep the ledger here (default: a temporary folder)")
    demo.add_argument("--pieces", type=int, default=240)
    demo.set_defaults(func=_demo)


def _pct(supplies) -> str:  # noqa: ANN001
    levels = [s.percent for s in supplies or () if s.percent is not None]
    return f"{min(levels):.0f}%" if levels else "?"


async def _status(args: argparse.Namespace) -> int:
    from controller.fleet import poll_printers

    config = load_plant_config(args.file)
    if not config.printers:
        print(f"{args.file}: no printers configured")
        return 0
    looks = await poll_printers(config.printers, io_timeout_s=args.timeout)
    if args.json:
        for look in looks:
            snmp = look.snmp
            print(json.dumps({
                "printer": look.view.name,
                "health": look.view.health.value,
                "reasons": sorted(look.view.reasons),
                "ipp_state": int(look.ipp.state) if look.ipp else None,
                "queued_jobs": look.ipp.queued_job_count if look.ipp else None,
                "snmp_reachable": snmp.reachable if snmp else None,
                "page_count": snmp.page_count if snmp else None,
            }))
    else:
        print(f"{'printer':<12} {'health':<9} {'jobs':>4} {'pages':>10} {'toner':>6}  reasons")
        for look in looks:
            snmp = look.snmp
            jobs = str(look.ipp.queued_job_count) if look.ipp else "?"
            pages = str(snmp.page_count) if snmp and snmp.page_count is not None else "?"
            toner = _pct(snmp.supplies) if snmp and snmp.reachable else "?"
            reasons = ", ".join(sorted(look.view.reasons)) or "-"
            print(f"{look.view.name:<12} {look.view.health.value:<9} {jobs:>4} {pages:>10} {toner:>6}  {reasons}")
    bad = [look.view.name for look in looks if look.view.health in (Health.STOPPED, Health.OFFLINE)]
    return 1 if bad else 0


async def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from controller.fleet_demo import fleet_demo

    result = await fleet_demo(Path(args.workdir) if args.workdir else None, pieces=args.pieces)
    return 0 if result.ok else 1
