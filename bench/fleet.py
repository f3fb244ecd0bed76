"""The fleet's polling cost: 200 simulated printers (IPP + SNMP) watched from one controller process.

    .venv/bin/python bench/fleet.py [--printers 200] [--agent-processes 4] [--rounds 3] [--concurrency 16]
                                    [--sustained-cycles 3] [--ipp-requests 1000]

The printers are `SimIppPrinter(snmp=True)`s, in `--agent-processes` other processes (`--serve` mode).
In the same run, from this one process:
  1. SNMP status polls per second across all printers (pmc's poller), beside Net-SNMP's `snmpbulkget`
     sending each printer the same GETBULK: bench/snmp.py's own measurements, imported;
  2. IPP Get-Printer-Attributes (a watcher's status poll) per second: across all printers from one
     process, and on one printer beside CUPS's `ipptool` (bench/ipp.py's measurements, imported);
  3. the goal: what a fleet watcher does each poll (IPP status + SNMP status, merged into one view, by
     `controller.fleet.FleetMonitor`) for every printer every 5 s, measured over real 5 s cycles as this
     process's CPU time over wall time: it must stay under a quarter of one core.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from controller.config import PrinterConfig  # noqa: E402
from controller.fleet import FleetMonitor  # noqa: E402
from controller.fleet_plan import Health  # noqa: E402
from drivers.ipp import STATUS_ATTRIBUTES, IppPrinter  # noqa: E402

POLL_INTERVAL_S = 5.0


def _bench_module(name: str):
    """bench/snmp.py and bench/ipp.py, by path: their names would shadow nothing, but `bench` is no package."""
    spec = importlib.util.spec_from_file_location(f"pmc_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_snmp = _bench_module("snmp")
bench_ipp = _bench_module("ipp")


async def serve(first: int, count: int) -> None:
    """Agent process: `count` simulated printers (IPP + SNMP); prints their URLs, serves until stdin closes."""
    from simulators.printer import Fault, SimIppPrinter

    sims = []
    try:
        for n in range(first, first + count):
            sim = SimIppPrinter(name=f"lp-{n}", speed=1000, snmp=True)
            await sim.start()
            sims.append(sim)
            if n % 7 == 0:
                sim.inject(Fault.MEDIA_JAM)  # some printers stopped, so alerts and reasons are not always empty
        print(json.dumps([[s.name, s.url, s.snmp_url] for s in sims]), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        for sim in sims:
            await sim.aclose()


async def start_printers(printers: int, processes: int):
    per = -(-printers // processes)
    procs, found = [], []
    for p in range(processes):
        first, count = p * per, min(per, printers - p * per)
        if count <= 0:
            break
        procs.append(await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", str(first), str(count),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=BENCH.parent,
        ))
    for proc in procs:
        async with asyncio.timeout(180):
            found += json.loads(await proc.stdout.readline())
    return procs, found


async def ipp_fleet_rate(configs: list[PrinterConfig], rounds: int, concurrency: int) -> tuple[float, float]:
    """IPP status polls per second over every printer, `concurrency` at a time; CPU microseconds per poll."""
    clients = [IppPrinter(c.ipp_url, timeout=5, name=c.name) for c in configs]
    try:
        gate = asyncio.Semaphore(concurrency)

        async def one(client: IppPrinter) -> None:
            async with gate:
                await client.status()

        async def sweep() -> None:
            async with asyncio.TaskGroup() as tg:
                for client in clients:
                    tg.create_task(one(client))

        await sweep()  # connections opened
        cpu0, t0 = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            await sweep()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        for client in clients:
            await client.aclose()
    polls = rounds * len(configs)
    return polls / wall, cpu / polls * 1e6


async def fleet_goal(configs: list[PrinterConfig], cycles: int, concurrency: int):
    async with FleetMonitor(configs, io_timeout_s=2.0, concurrency=concurrency) as monitor:
        looks = await monitor.poll()  # warm-up: connections, SNMP table sizes
        cpu0, t0 = time.process_time(), time.perf_counter()
        sweep_wall = []
        for cycle in range(cycles):
            s0 = time.perf_counter()
            looks = await monitor.poll()
            sweep_wall.append(time.perf_counter() - s0)
            await asyncio.sleep(max(0.0, t0 + (cycle + 1) * POLL_INTERVAL_S - time.perf_counter()))
        share = (time.process_time() - cpu0) / (time.perf_counter() - t0)
    stopped = sum(look.view.health is Health.STOPPED for look in looks)
    silent = sum(look.view.health is Health.OFFLINE for look in looks)
    return share, max(sweep_wall), stopped, silent


async def main(args) -> None:
    print(f"starting {args.printers} simulated printers (IPP + SNMP) in {args.agent_processes} processes ...", flush=True)
    procs, found = await start_printers(args.printers, args.agent_processes)
    configs = [PrinterConfig(name=name, ipp_url=url, snmp_url=snmp_url) for name, url, snmp_url in found]
    snmp_ports = [int(c.snmp_url.split(":")[2].split("?")[0]) for c in configs]
    try:
        measured = await bench_snmp.bench_pmc(ports=snmp_ports, procs=procs, rounds=args.rounds,
                                              concurrency=args.concurrency, sustained_cycles=0)
        polls, wall, cpu, unreachable, jammed, requests = measured[:6]
        peer = await bench_snmp.bench_snmpbulkget(snmp_ports, requests, args.concurrency)
        ipp_rate, ipp_cpu = await ipp_fleet_rate(configs, args.rounds, args.concurrency)
        one_url = configs[1].ipp_url
        mine_one, mine_one_cpu = await bench_ipp.ours(one_url, STATUS_ATTRIBUTES, args.ipp_requests)
        ipptool = None
        if shutil.which("ipptool"):
            ipptool = await asyncio.to_thread(bench_ipp.ipptool_rate, one_url, STATUS_ATTRIBUTES, args.ipp_requests)
        share, sweep, stopped, silent = await fleet_goal(configs, args.sustained_cycles, args.concurrency)
    finally:
        await bench_snmp.stop_agents(procs)

    n = len(configs)
    print(f"\n{n} simulated printers, concurrency {args.concurrency}, {os.cpu_count()} CPUs shared with the agents")
    print("SNMP status polls (one GETBULK each):")
    print(f"  pmc (pysnmp, 1 process)            {polls / wall:8.1f} polls/s  {1000 * cpu / polls:6.2f} ms CPU/poll"
          f"  ({unreachable} unreachable; {jammed} printers with alerts)")
    bench_snmp.print_peer(peer, polls / wall, cpu / polls)
    print("IPP Get-Printer-Attributes (a watcher's status poll, 10 attributes):")
    print(f"  pmc IppPrinter across {n} printers {ipp_rate:8.1f} req/s    {ipp_cpu:6.0f} us CPU/req")
    if ipptool is None:
        print("  ipptool: not installed (Debian cups-ipp-utils); no peer figure")
    else:
        print(f"  one printer: pmc IppPrinter {mine_one:7.0f} req/s ({mine_one_cpu:5.0f} us CPU/req), "
              f"ipptool {ipptool[0]:7.0f} req/s ({ipptool[1]:5.0f} us CPU/req); ratio {mine_one / ipptool[0]:5.2f}x")
    verdict = "meets" if share < 0.25 else "MISSES"
    print(f"Fleet watch (IPP + SNMP merged per printer, FleetMonitor), every {POLL_INTERVAL_S:g} s over "
          f"{args.sustained_cycles} cycles:")
    print(f"  {100 * share:.1f}% of one core ({verdict} the goal of < 25%); slowest sweep of {n} printers "
          f"{sweep:.2f}s; {stopped} stopped, {silent} silent")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        asyncio.run(serve(int(sys.argv[2]), int(sys.argv[3])))
        sys.exit(0)
    parser = bench_snmp.fleet_arguments(__doc__, rounds=3)
    parser.add_argument("--ipp-requests", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
