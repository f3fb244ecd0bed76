"""A printer's part of `pmc demo`: one simulated printer (IPP + SNMP over one state) driven by our IPP client.

It prints a run of stamped pages, jams mid-job, has the operator clear the jam, and shows that every
sheet reached the output stack once, that the spoiled sheets were counted, and that the marker's
life counter (what SNMP reports) equals the delivered impressions plus the spoiled ones.

This is demo glue, not a simulator: it is the one module under simulators/ that drives a simulator
with the driver's client (drivers.ipp). The controller's demo may call it, or move it under controller/.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from drivers.controlcode import ControlCode, encode as encode_code
from drivers.ipp import IppPrinter, JobState, PrinterState
from simulators.printer import Fault, SimIppPrinter
from simulators.printer_documents import PAGE_LIST


@dataclass(frozen=True, slots=True)
class PrinterDemoResult:
    job_id: int
    impressions_planned: int
    impressions_completed: int  # IPP job-impressions-completed
    sheets_delivered: int
    sheets_spoiled: int
    impressions_spoiled: int
    life_count: int  # the marker's counter, as SNMP reports it
    codes_in_order: bool


async def printer_demo(*, pieces: int = 30, sheets_per_piece: int = 2, speed: float = 5000.0,
                       jam_at_impression: int = 17, snmp: bool = True,
                       out: Callable[[str], None] = print) -> PrinterDemoResult:
    payloads = [encode_code(ControlCode("DEMO", f"P{p}", s + 1, sheets_per_piece))
                for p in range(pieces) for s in range(sheets_per_piece)]
    async with SimIppPrinter("production-mono-150", name="lp-1", speed=speed, snmp=snmp) as sim, \
            IppPrinter(sim.url, timeout=5) as client:
        out(f"  printer lp-1: IPP {sim.url}" + (f", SNMP {sim.snmp_url}" if sim.snmp_url else ""))
        sim.schedule(Fault.MEDIA_JAM, at_impression=jam_at_impression)
        job = await client.print_job("\n".join(payloads).encode(), document_format=PAGE_LIST, job_name="demo-run")
        async with asyncio.timeout(30):
            while (status := await client.status()).state != PrinterState.STOPPED:
                await asyncio.sleep(0.01)
        stopped = await client.get_job_attributes(job.job_id)
        out(f"  jam: printer {status.state.name.lower()} {list(status.reasons)}, job {job.job_id} "
            f"at {stopped.impressions_completed}/{len(payloads)} impressions, {len(sim.state.spoiled)} sheets spoiled")
        sim.clear(Fault.MEDIA_JAM)
        done = await client.wait_for_job(job.job_id, poll=0.01, timeout=30)
        life = sim.mib_state().life_count
    delivered = [s.control_code for s in sim.state.output]
    result = PrinterDemoResult(job.job_id, len(payloads), done.impressions_completed or 0, len(delivered),
                               len(sim.state.spoiled), sum(len(s.pages) for s in sim.state.spoiled), life,
                               delivered == payloads)
    out(f"  job {job.job_id} {JobState(done.state).name.lower()}: {result.impressions_completed} impressions, "
        f"{result.sheets_delivered} sheets on the output stack in order: {result.codes_in_order}; "
        f"marker life counter {life} = {result.impressions_completed} + {result.impressions_spoiled} spoiled")
    return result
