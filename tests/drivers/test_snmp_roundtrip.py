"""Any printer state the agent can describe, the poller reads back: agent and poller share no code, so a
value that survives the trip was encoded by one and decoded by the other to the same meaning (and
Net-SNMP pins each of them on its own in tests/peers/test_snmp_peers.py)."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulators.snmp_agent as sim
from drivers.snmp import SnmpManager, SpecialLevel

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
level = st.integers(min_value=-3, max_value=100_000)
trays = st.builds(sim.InputTray, name=text, media_name=text, max_capacity=level, current_level=level)
supplies = st.builds(sim.Supply, supply_type=st.integers(1, 40), description=text, max_capacity=level, level=level)
alerts = st.builds(
    sim.Alert,
    severity=st.sampled_from([1, 3, 4, 5]),
    group=st.integers(1, 40),
    code=st.integers(1, 2000),
    description=text,
    group_index=st.integers(-1, 20),
)


@st.composite
def printer_states(draw) -> sim.PrinterMibState:
    octets = draw(st.sampled_from([1, 2]))
    bits = draw(st.integers(0, 2 ** (8 * octets) - 1)) & 0x7FFF  # bit 15 is not named by any MIB revision
    return sim.PrinterMibState(
        printer_name=draw(text),
        uptime=draw(st.integers(0, 2**32 - 1)),
        device_status=draw(st.integers(1, 5)),
        printer_status=draw(st.integers(1, 5)),
        detected_errors=bits,
        error_octets=octets,
        trays=tuple(draw(st.lists(trays, max_size=5))),
        counter_unit=draw(st.sampled_from([3, 4, 5, 6, 7, 8, 9, 11, 16, 17])),
        life_count=draw(st.integers(0, 2**32 - 1)),
        supplies=tuple(draw(st.lists(supplies, max_size=6))),
        alerts=tuple(draw(st.lists(alerts, max_size=12))),
        console_lines=tuple(draw(st.lists(text, max_size=4))),
    )


def _level(value: int):
    return value if value >= 0 else SpecialLevel(value)


def _int(value) -> int:
    return value if isinstance(value, int) else value.value


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(printer_states(), min_size=1, max_size=6))
def test_any_state_the_agent_serves_is_what_the_poller_reads(states):
    asyncio.run(_round_trip(states))


async def _round_trip(states: list[sim.PrinterMibState]) -> None:
    current = {"state": states[0]}
    async with sim.SimSnmpAgent(lambda: current["state"]) as agent:
        async with SnmpManager() as snmp:
            # one printer across all the states: it adapts its requests to the last poll's table sizes
            printer = await snmp.open_printer(agent.url)
            for state in states:
                current["state"] = state
                status = await printer.poll()
                assert status.reachable and status.problems == (), status.problems
                assert status.uptime == state.uptime
                assert _int(status.device_state) == state.device_status
                assert _int(status.printer_state) == state.printer_status
                assert len(status.error_octets) == state.error_octets
                assert sum(1 << e.value for e in status.errors) == state.detected_errors
                assert status.printer_name == state.printer_name
                assert (status.page_count, _int(status.page_count_unit)) == (state.life_count, state.counter_unit)
                assert [(t.name, t.media_name, t.max_capacity, t.current_level) for t in status.trays] == [
                    (t.name, t.media_name, _level(t.max_capacity), _level(t.current_level)) for t in state.trays
                ]
                assert [(_int(s.kind), s.description, s.max_capacity, s.level) for s in status.supplies] == [
                    (s.supply_type, s.description, _level(s.max_capacity), _level(s.level)) for s in state.supplies
                ]
                assert [
                    (_int(a.severity), _int(a.group), _int(a.code), a.description, a.group_index) for a in status.alerts
                ] == [(a.severity, a.group, a.code, a.description, a.group_index) for a in state.alerts]
                assert status.console == state.console_lines
