"""`pmc demo`: a simulated print room, end to end, with embedded defaults.

Today it walks a synthetic run through the piece ledger (index, sort, spool, print, insert, divert,
reprint, mail) and shows the ledger's summary and one piece's history. Streams, presort, the printer
fleet and the inserters join as their issues land.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from controller.commands.ledger import _history, _summary
from controller.ledger import Ledger
from controller.model import PieceEvent, PieceEventKind as K


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run a simulated print room end to end")
    parser.add_argument("--pieces", type=int, default=2000, help="pieces in the run (default 2000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the faults (default 1)")
    parser.add_argument("--workdir", help="keep the ledger and outputs here (default: a temporary folder)")
    parser.set_defaults(func=run_demo)


async def run_demo(args: argparse.Namespace) -> int:
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        return await _run(args, Path(args.workdir))
    with tempfile.TemporaryDirectory(prefix="pmc-demo-") as tmp:
        return await _run(args, Path(tmp))


async def _run(args: argparse.Namespace, workdir: Path) -> int:
    rng = random.Random(args.seed)
    path = workdir / "pmc-ledger.sqlite"
    job = "demo-0001"
    ids = [f"{job}-{i:06d}" for i in range(args.pieces)]
    print(f"pmc demo: run {job}, {len(ids)} pieces, ledger {path}")
    async with Ledger(path) as ledger:
        await ledger.append_many([PieceEvent(K.INDEXED, p, job_id=job) for p in ids], batch=0)
        await ledger.append_many([PieceEvent(K.SORTED, p, container=f"T{i // 150:03d}") for i, p in enumerate(ids)])
        await ledger.append_many([PieceEvent(K.SPOOLED, p, device="lp-1") for p in ids])
        await ledger.append_many([PieceEvent(K.PRINTED, p, device="lp-1", device_seq=i) for i, p in enumerate(ids)])
        diverted = set(rng.sample(ids, k=max(1, len(ids) // 100)))
        seq = 0
        for p in ids:
            seq += 1
            if p in diverted:
                await ledger.append(PieceEvent(K.DIVERTED, p, device="ins-1", device_seq=seq, reason="no read"))
            else:
                await ledger.append(PieceEvent(K.INSERTED, p, device="ins-1", device_seq=seq))
        await ledger.append_many([PieceEvent(K.MAILED, p) for p in ids if p not in diverted])
        print(f"  {len(diverted)} pieces diverted; open rejects: {len(await ledger.open_rejects(job))}")
        for p in sorted(diverted):
            await ledger.append(PieceEvent(K.REPRINT_QUEUED, p, reason="operator: reprint"))
        for p in sorted(diverted):
            for kind in (K.SPOOLED, K.PRINTED, K.INSERTED, K.MAILED):
                await ledger.append(PieceEvent(kind, p, device="reprint"))
        problems = await ledger.verify()
    print("  ledger verified: " + ("consistent" if not problems else "; ".join(problems[:3])))
    ns = argparse.Namespace(ledger=str(path), json=False, piece=sorted(diverted)[0])
    await _summary(ns)
    await _history(ns)
    return 1 if problems else 0
