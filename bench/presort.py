"""Presort a million synthetic pieces on one core; GNU sort orders the same keys from a file in the same run.

    .venv/bin/python bench/presort.py [--pieces 1000000] [--operator usps-fcm]

Prints seconds and peak memory for the presort (the resident-set high-water mark above what the piece
list already held, and the whole process's), beside GNU `sort` (LC_ALL=C, one thread) ordering the same
11-digit keys written one per line, and Python's `sorted` of (key, index) tuples as a second reference.
Then the IMb encoder beside reportlab's usps4s on the same inputs. Goal: under 5 s and 1 GB a million.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailsort.imb import encode_imb  # noqa: E402
from mailsort.model import PresortOptions  # noqa: E402
from mailsort.operators import make_operator, table_roles  # noqa: E402
from mailsort.presort import presort  # noqa: E402
from mailsort.synthetic import synthetic_mailing  # noqa: E402
from mailsort.tables import parse_table  # noqa: E402

TABLES = ROOT / "fixtures" / "mailsort" / "synthetic"


def _status(field: str) -> int:
    """A /proc/self/status figure in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=1_000_000)
    parser.add_argument("--operator", default="usps-fcm")
    parser.add_argument("--imbs", type=int, default=50_000, help="IMbs to encode for the encoder comparison")
    args = parser.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, for us and for the sort child
    except (AttributeError, OSError):
        pass

    tables = {r: parse_table((TABLES / f"{r}.csv").read_text(), r) for r in table_roles(args.operator)}
    operator = make_operator(args.operator, tables)
    t0 = time.perf_counter()
    pieces = synthetic_mailing(args.pieces, 2026, operator=args.operator)
    print(f"made {len(pieces):,} synthetic pieces in {time.perf_counter() - t0:.2f} s (not timed below)")
    options = PresortOptions(dt.date(2026, 11, 23), overflow=True, mailer_id="123456", origin_zip3="303")

    before = _status("VmRSS")
    exact_peak = _reset_peak()
    t0 = time.perf_counter()
    result = presort(pieces, operator, options)
    seconds = time.perf_counter() - t0
    peak = _status("VmHWM")
    levels: dict[str, int] = {}
    for c in result.containers:
        levels[c.level] = levels.get(c.level, 0) + c.pieces
    print(f"presort {args.operator}: {len(result):,} pieces into {len(result.containers):,} containers "
          f"({', '.join(f'{k} {v:,}' for k, v in levels.items())})")

    sort_bin = shutil.which("sort")
    gnu = None
    with tempfile.TemporaryDirectory(prefix="pmc-bench-") as tmp:
        keys = Path(tmp) / "keys.txt"
        keys.write_text("\n".join(p.postcode for p in pieces) + "\n")
        if sort_bin:
            env = dict(os.environ, LC_ALL="C")
            t1 = time.perf_counter()
            subprocess.run([sort_bin, "--parallel=1", "-o", str(Path(tmp) / "sorted.txt"), str(keys)],
                           check=True, env=env)
            gnu = time.perf_counter() - t1
    pairs = [(p.postcode, i) for i, p in enumerate(pieces)]
    t1 = time.perf_counter()
    pairs.sort()
    tuples = time.perf_counter() - t1
    del pairs

    print()
    print(f"{'':<44}{'seconds':>10}{'ratio':>10}")
    print(f"{'pmc presort (one core)':<44}{seconds:>10.2f}{'':>10}")
    if gnu is not None:
        print(f"{'GNU sort, same keys from a file (1 thread)':<44}{gnu:>10.2f}{seconds / gnu:>9.1f}x")
    else:
        print("GNU sort not found: no peer figure")
    print(f"{'Python list.sort of (key, index) tuples':<44}{tuples:>10.2f}{seconds / tuples:>9.1f}x")
    what = "peak above the pieces" if exact_peak else "process peak (VmHWM not resettable here)"
    print(f"memory: {what} {(peak - before) / 2**20:,.0f} MiB; process peak {peak / 2**20:,.0f} MiB "
          f"(goal: under 5 s and 1 GB)")

    # the IMb encoder beside reportlab's on the same inputs
    from reportlab.graphics.barcode.usps4s import USPS_4State

    inputs = [(f"00300123456{k:09d}", result.pieces[result.order[k % len(result)]].postcode)
              for k in range(min(args.imbs, len(result)))]
    inputs = [(t, r if len(r) == 11 and r.isdigit() else "") for t, r in inputs]
    t1 = time.perf_counter()
    ours = [encode_imb(t, r).bars for t, r in inputs]
    t_ours = time.perf_counter() - t1
    t1 = time.perf_counter()
    theirs = [USPS_4State(t + r).barcodes for t, r in inputs]
    t_theirs = time.perf_counter() - t1
    agree = sum(a == b for a, b in zip(ours, theirs))
    print()
    print(f"IMb encode {len(inputs):,}: pmc {t_ours:.2f} s ({len(inputs) / t_ours:,.0f}/s), reportlab usps4s "
          f"{t_theirs:.2f} s ({len(inputs) / t_theirs:,.0f}/s), ratio {t_ours / t_theirs:.2f}x; "
          f"{agree:,}/{len(inputs):,} identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
