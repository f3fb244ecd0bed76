"""The SNMP agent's state: what a printer simulator may put in it. Wire behaviour is in tests/peers/test_snmp_peers.py."""

from __future__ import annotations

import dataclasses
import time

import pytest

from simulators.snmp_agent import DetectedError, PrinterMibState, SimSnmpAgent


def test_a_one_octet_error_state_refuses_bits_beyond_the_first_octet():
    PrinterMibState(detected_errors=DetectedError.JAMMED | DetectedError.SERVICE_REQUESTED, error_octets=1)
    with pytest.raises(ValueError, match="does not fit in 1 octet"):
        PrinterMibState(detected_errors=DetectedError.INPUT_TRAY_MISSING, error_octets=1)


def test_error_octets_are_one_or_two():
    with pytest.raises(ValueError, match="1 or 2"):
        PrinterMibState(error_octets=3)


def test_uptime_counts_from_the_start_time_unless_given():
    state = PrinterMibState(started_at=time.monotonic() - 12.5)
    assert 1250 <= state.uptime_hundredths() < 1250 + 100 * 60
    assert dataclasses.replace(state, uptime=77).uptime_hundredths() == 77
    assert PrinterMibState().uptime_hundredths() == 0


def test_state_is_frozen():
    state = PrinterMibState()
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.printer_name = "other"  # type: ignore[misc]


async def test_two_agents_get_two_ports_and_close_cleanly():
    state = PrinterMibState()
    async with SimSnmpAgent(lambda: state) as first, SimSnmpAgent(lambda: state, community="ops") as second:
        assert first.port != second.port
        assert second.url.endswith("?community=ops")
    assert first.requests_answered == 0


def test_alert_rows_need_distinct_indexes():
    from simulators.snmp_agent import Alert

    jam = Alert(3, 13, 8, "jam")
    PrinterMibState(alerts=(jam, Alert(3, 6, 501, "door", index=5)))
    with pytest.raises(ValueError, match="distinct"):
        PrinterMibState(alerts=(jam, Alert(3, 6, 501, "door", index=1)))  # the jam is row 1 already
    with pytest.raises(ValueError, match="distinct"):
        PrinterMibState(alerts=(Alert(3, 6, 501, "door", index=0),))
