"""A ledger writer to be killed: run by test_ledger_crash.py, never by pytest directly.

It advances every piece a previous run left unfinished (a restarted controller), then indexes new
pieces in all-or-nothing batches and walks them through their life cycle with many concurrent single
events, printing `ack SEQ` for every event only after the ledger confirmed it, until it is killed.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys

from controller.ledger import Ledger
from controller.model import PieceEvent, PieceEventKind as K, PieceState as S

NEXT = {S.INDEXED: K.SORTED, S.SORTED: K.SPOOLED, S.SPOOLED: K.PRINTED, S.PRINTED: K.INSERTED, S.INSERTED: K.MAILED}


def ack(seq: int) -> None:
    sys.stdout.write(f"ack {seq}\n")
    sys.stdout.flush()


async def advance(ledger: Ledger, pid: str, state: S, device: str, rng: random.Random) -> None:
    while state in NEXT:
        applied = await ledger.append(PieceEvent(NEXT[state], pid, device=device, device_seq=rng.randrange(1 << 40)))
        ack(applied.seq)
        state = applied.to_state


async def main(path: str, run: int) -> None:
    rng = random.Random(run)
    con = sqlite3.connect(path)
    try:
        unfinished = [(pid, S(state)) for pid, state in con.execute("SELECT piece_id, state FROM pieces WHERE state != 'mailed'")]
    except sqlite3.OperationalError:  # the first run: no ledger yet
        unfinished = []
    finally:
        con.close()
    async with Ledger(path) as ledger:
        print("ready", flush=True)
        await asyncio.gather(*(advance(ledger, pid, st, f"restart-{run}", rng) for pid, st in unfinished))
        batch_no = 0
        while True:
            batch_no += 1
            size = rng.randint(1, 300)
            tag = f"r{run}-b{batch_no}"
            events = [PieceEvent(K.INDEXED, f"{tag}-{i}", job_id=f"run-{run}", data={"batch": tag, "size": size})
                      for i in range(size)]
            for applied in await ledger.append_many(events, batch=0):
                ack(applied.seq)
            await asyncio.gather(*(advance(ledger, e.piece_id, S.INDEXED, f"dev-{run}", rng)
                                   for e in events[: rng.randint(0, size)]))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
