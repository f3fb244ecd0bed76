"""Soak: a fleet polled round after round while its printers jam, clear, go offline and come back.

Bounded to a few rounds in CI; `PMC_SOAK=1` runs 300.
"""

from __future__ import annotations

import dataclasses
import os
import random

import pytest

import simulators.snmp_agent as sim
from drivers.errors import DeviceTimeoutError
from drivers.snmp import PrinterError, SnmpManager, poll_fleet

ROUNDS = 300 if os.environ.get("PMC_SOAK") == "1" else 4
PRINTERS = 12


@pytest.mark.soak
@pytest.mark.timeout(3600 if ROUNDS > 10 else 60)
async def test_fleet_polls_stay_true_through_faults():
    rng = random.Random(20261123)
    base = [
        sim.PrinterMibState(
            printer_name=f"lp-{i}",
            uptime=1000,
            trays=(sim.InputTray("Tray 1", "iso_a4_210x297mm", 2000, 1500),),
            supplies=(sim.Supply(3, "Black Toner", 100, 70),),
        )
        for i in range(PRINTERS)
    ]
    current: list[sim.PrinterMibState | None] = list(base)
    agents = [sim.SimSnmpAgent(lambda i=i: current[i]) for i in range(PRINTERS)]
    for agent in agents:
        await agent.start()
    try:
        async with SnmpManager() as snmp:
            # an agent that answers must be heard however busy the machine (in CI a 0.15 s bound let a live
            # agent count as offline); one that is offline costs this second once per round
            printers = [await snmp.open_printer(a.url, timeout=1.0, retries=0) for a in agents]
            for round_number in range(ROUNDS):
                for i in range(PRINTERS):
                    roll = rng.random()
                    if roll < 0.1:
                        current[i] = None  # offline
                        continue
                    jammed = roll < 0.3
                    current[i] = dataclasses.replace(
                        base[i],
                        uptime=1000 + 500 * round_number,
                        life_count=round_number * 100 + i,
                        detected_errors=sim.DetectedError.JAMMED if jammed else 0,
                        alerts=(sim.Alert(3, 13, 8, "Paper jam"),) if jammed else (),
                    )
                statuses = await poll_fleet(printers, concurrency=4)
                for state, status in zip(current, statuses):
                    if state is None:
                        assert not status.reachable and isinstance(status.error, DeviceTimeoutError)
                        continue
                    assert status.reachable, status.problems
                    assert status.page_count == state.life_count
                    assert (PrinterError.JAMMED in status.errors) == bool(state.alerts)
                    assert len(status.alerts) == len(state.alerts)
    finally:
        for agent in agents:
            await agent.aclose()
