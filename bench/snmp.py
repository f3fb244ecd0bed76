"""SNMP status polls per second across 200 simulated printers, beside Net-SNMP's snmpbulkget.

    .venv/bin/python bench/snmp.py [--printers 200] [--agent-processes 4] [--rounds 5] [--concurrency 16]
                                   [--sustained-cycles 3]

The printers' agents run in other processes (`--serve N` is that mode). In the same run:
  * pmc: one process, one SnmpManager, `poll_fleet` over all printers, `--rounds` times; wall time and
    this process's CPU time (what the controller would spend);
  * Net-SNMP: `snmpbulkget` sending each printer the same GETBULK pmc's poll sends it (same OIDs,
    non-repeaters and max-repetitions, from `SnmpPrinter.poll_request()`), 16 at a time; its CPU is
    the children's CPU time.
Then the goal: polling every printer every 5 s must cost this process under a quarter of one core,
estimated from CPU per poll and measured over `--sustained-cycles` real 5 s cycles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.snmp import SnmpManager, poll_fleet  # noqa: E402
import simulators.snmp_agent as sim  # noqa: E402

POLL_INTERVAL_S = 5.0
def printer_state(n: int) -> sim.PrinterMibState:
    """A plausible production printer; every seventh one is jammed, so alerts are not always empty."""
    jammed = n % 7 == 0
    return sim.PrinterMibState(
        printer_name=f"lp-{n}",
        started_at=time.monotonic(),
        device_status=sim.HrDeviceStatus.DOWN if jammed else sim.HrDeviceStatus.RUNNING,
        printer_status=sim.HrPrinterStatus.OTHER if jammed else sim.HrPrinterStatus.PRINTING,
        detected_errors=sim.DetectedError.JAMMED if jammed else 0,
        trays=(
            sim.InputTray("Tray 1", "iso_a4_210x297mm", 2000, 1200),
            sim.InputTray("Tray 2", "iso_a4_210x297mm", 2000, -3),
            sim.InputTray("Tray 3", "na_letter_8.5x11in", 3000, 2800),
        ),
        life_count=1_000_000 + n,
        supplies=(
            sim.Supply(3, "Black Toner", 100, 60),
            sim.Supply(4, "Waste Toner", 100, -3, supply_class=4),
            sim.Supply(15, "Fuser", 100, 80),
        ),
        alerts=(sim.Alert(3, 13, 8, "Paper jam in fuser area", group_index=1),) if jammed else (),
        console_lines=("JAM" if jammed else "Printing",),
    )


async def serve(first: int, count: int) -> None:
    """Agent process: `count` simulated printers; prints their ports, serves until stdin closes."""
    states = [printer_state(n) for n in range(first, first + count)]
    agents = [sim.SimSnmpAgent(lambda s=s: s) for s in states]
    for agent in agents:
        await agent.start()
    try:
        print(json.dumps([a.port for a in agents]), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        for agent in agents:
            await agent.aclose()


async def start_agents(printers: int, processes: int):
    per = -(-printers // processes)
    procs, ports = [], []
    for p in range(processes):
        first, count = p * per, min(per, printers - p * per)
        if count <= 0:
            break
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", str(first), str(count),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        procs.append(proc)
    for proc in procs:
        async with asyncio.timeout(120):
            line = await proc.stdout.readline()
        ports += json.loads(line)
    return procs, ports


async def stop_agents(procs) -> None:
    for proc in procs:
        proc.stdin.close()
    for proc in procs:
        try:
            async with asyncio.timeout(10):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


def agents_cpu(procs) -> float:
    """CPU seconds the agent processes have used so far (Linux /proc), to show who limits throughput."""
    total = 0.0
    for proc in procs:
        try:
            fields = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def bench_pmc(ports, procs, rounds: int, concurrency: int, sustained_cycles: int):
    async with SnmpManager() as snmp:
        printers = [await snmp.open_printer(f"snmp://127.0.0.1:{port}?community=public", timeout=2, retries=1)
                    for port in ports]
        await poll_fleet(printers, concurrency=concurrency)  # warm-up: engine caches, agents' first answers
        cpu0, t0, agents0 = time.process_time(), time.perf_counter(), agents_cpu(procs)
        unreachable = 0
        for _ in range(rounds):
            statuses = await poll_fleet(printers, concurrency=concurrency)
            unreachable += sum(not s.reachable for s in statuses)
            jammed = sum(1 for s in statuses if s.alerts)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        agents = agents_cpu(procs) - agents0
        requests = [p.poll_request() for p in printers]

        # the goal as it will run: every printer polled every 5 s, CPU measured over whole cycles, idle included
        cpu0, t0 = time.process_time(), time.perf_counter()
        for cycle in range(sustained_cycles):
            await poll_fleet(printers, concurrency=concurrency)
            await asyncio.sleep(max(0.0, t0 + (cycle + 1) * POLL_INTERVAL_S - time.perf_counter()))
        sustained = (time.process_time() - cpu0) / (time.perf_counter() - t0) if sustained_cycles else None
    return rounds * len(ports), wall, cpu, unreachable, jammed, requests, sustained, agents


async def bench_snmpbulkget(ports, requests, concurrency: int):
    program = shutil.which("snmpbulkget")
    if program is None:
        return None
    env = dict(os.environ, MIBS="", MIBDIRS="/nonexistent")
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(port: int, request) -> None:
        nonlocal failures
        non_repeaters, repetitions, oids = request
        async with gate:
            proc = await asyncio.create_subprocess_exec(
                program, "-v2c", "-c", "public", "-On", "-t", "2", "-r", "1",
                f"-Cn{non_repeaters}", f"-Cr{repetitions}", f"127.0.0.1:{port}", *oids,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=env,
            )
            if await proc.wait() != 0:
                failures += 1

    polls = len(ports)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for port, request in zip(ports, requests):
            tg.create_task(one(port, request))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return polls, wall, cpu, failures


async def main(args) -> None:
    print(f"starting {args.printers} simulated printers in {args.agent_processes} agent processes ...", flush=True)
    procs, ports = await start_agents(args.printers, args.agent_processes)
    try:
        polls, wall, cpu, unreachable, jammed, requests, sustained, agents_for_pmc = await bench_pmc(
            ports, procs, args.rounds, args.concurrency, args.sustained_cycles
        )
        a1 = agents_cpu(procs)
        peer = await bench_snmpbulkget(ports, requests, args.concurrency)
        agents_for_peer = agents_cpu(procs) - a1
    finally:
        await stop_agents(procs)

    rate = polls / wall
    cpu_per_poll = cpu / polls
    print(f"\n{len(ports)} printers, {polls} status polls, concurrency {args.concurrency}, {os.cpu_count()} CPUs")
    print(f"  pmc poller (pysnmp, 1 process):  {rate:8.1f} polls/s   {1000 * cpu_per_poll:6.2f} ms CPU/poll"
          f"   ({unreachable} unreachable, {jammed} jammed printers seen per round)")
    print_peer(peer, rate, cpu_per_poll)
    if peer is not None:
        p_polls = peer[0]
        print(f"  the simulated agents (pysnmp) spent {1000 * agents_for_pmc / polls:.2f} ms "
              f"CPU per answer to pmc, {1000 * agents_for_peer / p_polls:.2f} ms to snmpbulkget: on "
              f"{os.cpu_count()} shared CPUs they, not the pollers, bound polls/s")
    share = cpu_per_poll * len(ports) / POLL_INTERVAL_S
    verdict = "meets" if share < 0.25 else "MISSES"
    print(f"  polling {len(ports)} printers every {POLL_INTERVAL_S:g} s costs the controller "
          f"{100 * share:.1f}% of one core from CPU/poll ({verdict} the goal of < 25%)")
    if sustained is not None:
        verdict = "meets" if sustained < 0.25 else "MISSES"
        print(f"  measured over {args.sustained_cycles} real {POLL_INTERVAL_S:g} s cycles: {100 * sustained:.1f}% "
              f"of one core ({verdict} the goal)")


def print_peer(peer: tuple[int, float, float, int] | None, rate: float, cpu_per_poll: float) -> None:
    """snmpbulkget's figures and pmc's ratio to them (bench/fleet.py prints the same lines)."""
    if peer is None:
        print("  Net-SNMP snmpbulkget: not installed (Debian package snmp); no peer figure")
        return
    p_polls, p_wall, p_cpu, failures = peer
    p_rate = p_polls / p_wall
    print(f"  Net-SNMP snmpbulkget (1 process per poll): {p_rate:8.1f} polls/s   "
          f"{1000 * p_cpu / p_polls:6.2f} ms CPU/poll   ({failures} failed)")
    print(f"  ratio pmc / snmpbulkget: polls/s {rate / p_rate:5.2f}x, CPU per poll {cpu_per_poll / (p_cpu / p_polls):5.2f}x")


def fleet_arguments(doc: str, rounds: int) -> argparse.ArgumentParser:
    """The options bench/snmp.py and bench/fleet.py share."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--printers", type=int, default=200)
    parser.add_argument("--agent-processes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sustained-cycles", type=int, default=3, help="5 s polling cycles to measure (0: skip)")
    return parser


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        asyncio.run(serve(int(sys.argv[2]), int(sys.argv[3])))
        sys.exit(0)
    asyncio.run(main(fleet_arguments(__doc__, rounds=5).parse_args()))
