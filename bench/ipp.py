"""IPP Get-Printer-Attributes requests per second: our client beside CUPS's ipptool, same printer, same run.

The printer is our simulator, in a process of its own so neither client shares its CPU with it. Two
request shapes: a fleet watcher's status poll (the ten attributes drivers.ipp.STATUS_ATTRIBUTES asks
for) and `requested-attributes all` (about 80 attributes, collections included). ipptool repeats one
test N times in one file; its process start is taken out by timing two file sizes and dividing the
difference. Both keep one HTTP connection alive, one request at a time. Requests per second are
mostly the printer's figure (both clients wait on the same server); client CPU per request is the
clients' own (ours: process time; ipptool: the child's rusage, start-up taken out the same way).
Goal for the fleet: 200 printers polled every 5 s is 40 status polls/s, under 1% of a core here.

    .venv/bin/python bench/ipp.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drivers.ipp import STATUS_ATTRIBUTES, IppPrinter  # noqa: E402

SERVE = """
import asyncio, sys
from simulators.printer import SimIppPrinter
async def main():
    async with SimIppPrinter(speed=1000) as sim:
        print(sim.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""

TEST = """{{
  NAME "Get-Printer-Attributes"
  OPERATION Get-Printer-Attributes
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name pmc
  ATTR keyword requested-attributes {requested}
  STATUS successful-ok
}}
"""


async def ours(url: str, requested: tuple[str, ...], n: int) -> tuple[float, float]:
    """(requests per second, client CPU microseconds per request)"""
    async with IppPrinter(url, timeout=10) as client:
        for _ in range(20):
            await client.get_printer_attributes(requested)
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            await client.get_printer_attributes(requested)
        return n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6


def ipptool_rate(url: str, requested: tuple[str, ...], n: int) -> tuple[float, float]:
    block = TEST.format(requested=",".join(requested))

    def timed(count: int) -> tuple[float, float]:
        with tempfile.NamedTemporaryFile("w", suffix=".test") as f:
            f.write(block * count)
            f.flush()
            start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(["ipptool", "-q", url, f.name], check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            return time.perf_counter() - start, cpu

    small, large = max(1, n // 10), n
    timed(small)  # warm the page cache
    (t1, c1), (t2, c2) = timed(small), timed(large)
    return (large - small) / (t2 - t1), (c2 - c1) / (large - small) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    if shutil.which("ipptool") is None:
        print("ipptool is not installed (Debian cups-ipp-utils): no peer to compare with", file=sys.stderr)
        return 1
    server = subprocess.Popen([sys.executable, "-c", SERVE], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        url = server.stdout.readline().strip()
        print(f"IPP Get-Printer-Attributes, {args.requests} sequential requests on one keep-alive connection")
        print(f"printer: our simulator at {url} (own process)")
        for label, requested in (("status poll (10 attributes)", STATUS_ATTRIBUTES), ("all attributes", ("all",))):
            mine, mine_cpu = asyncio.run(ours(url, requested, args.requests))
            peer, peer_cpu = ipptool_rate(url, requested, args.requests)
            print(f"  {label:<28} pmc IppPrinter {mine:7.0f} req/s   ipptool {peer:7.0f} req/s   ratio {mine / peer:5.2f}")
            print(f"  {'':<28} client CPU     {mine_cpu:7.0f} us/req  ipptool {peer_cpu:7.0f} us/req  ratio {mine_cpu / peer_cpu:5.2f}")
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
