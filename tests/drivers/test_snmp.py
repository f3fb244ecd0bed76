"""The SNMP poller against the simulated printer's agent: decoding, unknowns, errors, credentials, the fleet."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time

import pytest

import simulators.snmp_agent as sim
from drivers.errors import DeviceError, DeviceTimeoutError
from drivers.snmp import (
    AlertCode,
    AlertGroup,
    AlertSeverity,
    CounterUnit,
    DeviceState,
    PrinterError,
    PrinterState,
    SnmpAuthError,
    SnmpManager,
    SnmpV3Credentials,
    SpecialLevel,
    SupplyType,
    open_snmp_printer,
    poll_fleet,
    poll_urls,
)


def _printer(**changes) -> sim.PrinterMibState:
    state = sim.PrinterMibState(
        printer_name="lp-7",
        uptime=360_000,
        device_status=sim.HrDeviceStatus.RUNNING,
        printer_status=sim.HrPrinterStatus.PRINTING,
        trays=(
            sim.InputTray("Tray 1", "iso_a4_210x297mm", 500, 480),
            sim.InputTray("Tray 2", "na_letter_8.5x11in", 2000, -3),
            sim.InputTray("Bypass", "unknown", -2, -2, input_type=5),
        ),
        counter_unit=7,
        life_count=40_123,
        supplies=(
            sim.Supply(3, "Black Toner", 1000, 250),
            sim.Supply(4, "Waste Toner", 100, -3, supply_class=4),
            sim.Supply(15, "Fuser Unit", -1, -1),
        ),
        console_lines=("Printing", "Tray 2"),
    )
    return dataclasses.replace(state, **changes)


async def test_poll_decodes_a_busy_printer():
    state = _printer()
    async with sim.SimSnmpAgent(lambda: state) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            status = await printer.poll()
    assert status.reachable and status.problems == () and status.error is None
    assert status.uptime == 360_000
    assert status.device_state is DeviceState.RUNNING
    assert status.printer_state is PrinterState.PRINTING
    assert status.errors == frozenset() and status.error_octets == b"\x00\x00"
    assert status.printer_name == "lp-7"
    assert (status.page_count, status.page_count_unit) == (40_123, CounterUnit.IMPRESSIONS)
    assert [(t.index, t.name, t.media_name) for t in status.trays] == [
        (1, "Tray 1", "iso_a4_210x297mm"), (2, "Tray 2", "na_letter_8.5x11in"), (3, "Bypass", "unknown"),
    ]
    assert [(t.max_capacity, t.current_level) for t in status.trays] == [
        (500, 480), (2000, SpecialLevel.SOME_REMAINING), (SpecialLevel.UNKNOWN, SpecialLevel.UNKNOWN),
    ]
    toner, waste, fuser = status.supplies
    assert (toner.kind, toner.description, toner.percent) == (SupplyType.TONER, "Black Toner", 25.0)
    assert (waste.kind, waste.level, waste.percent) == (SupplyType.WASTE_TONER, SpecialLevel.SOME_REMAINING, None)
    assert (fuser.kind, fuser.max_capacity, fuser.level) == (SupplyType.FUSER, SpecialLevel.OTHER, SpecialLevel.OTHER)
    assert status.alerts == ()
    assert status.console == ("Printing", "Tray 2")


@pytest.mark.parametrize(
    ("bits", "octets", "wire", "expected"),
    [
        (sim.DetectedError.JAMMED, 1, b"\x04", {PrinterError.JAMMED}),
        (sim.DetectedError.NO_PAPER | sim.DetectedError.OFFLINE, 1, b"\x42", {PrinterError.NO_PAPER, PrinterError.OFFLINE}),
        (sim.DetectedError.LOW_TONER | sim.DetectedError.INPUT_TRAY_MISSING, 2, b"\x20\x80",
         {PrinterError.LOW_TONER, PrinterError.INPUT_TRAY_MISSING}),
        (sim.DetectedError.SERVICE_REQUESTED | sim.DetectedError.OVERDUE_PREVENT_MAINT, 2, b"\x01\x02",
         {PrinterError.SERVICE_REQUESTED, PrinterError.OVERDUE_PREVENT_MAINT}),
        (0, 1, b"\x00", set()),
    ],
)
async def test_error_bits_from_one_or_two_octets(bits, octets, wire, expected):
    state = _printer(detected_errors=bits, error_octets=octets)
    async with sim.SimSnmpAgent(lambda: state) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            status = await printer.poll()
    assert status.error_octets == wire
    assert status.errors == frozenset(expected)


async def test_poll_follows_a_jam_and_its_clearing():
    current = {"state": _printer()}
    jam = sim.Alert(severity=3, group=13, code=8, description="Paper jam at fuser", group_index=1)
    toner = sim.Alert(severity=4, group=11, code=1104, description="Toner low", group_index=1, index=9)
    async with sim.SimSnmpAgent(lambda: current["state"]) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            assert (await printer.poll()).alerts == ()

            current["state"] = _printer(
                device_status=sim.HrDeviceStatus.DOWN,
                printer_status=sim.HrPrinterStatus.OTHER,
                detected_errors=sim.DetectedError.JAMMED | sim.DetectedError.LOW_TONER,
                alerts=(jam, toner),
                console_lines=("PAPER JAM", "OPEN DOOR B"),
                life_count=40_130,
            )
            jammed = await printer.poll()

            current["state"] = _printer(life_count=40_130, alerts=(toner,))
            cleared = await printer.poll()

    assert jammed.device_state is DeviceState.DOWN and jammed.printer_state is PrinterState.OTHER
    assert jammed.errors == {PrinterError.JAMMED, PrinterError.LOW_TONER}
    assert [(a.index, a.severity, a.group, a.code, a.description) for a in jammed.alerts] == [
        (1, AlertSeverity.CRITICAL, AlertGroup.MEDIA_PATH, AlertCode.JAM, "Paper jam at fuser"),
        (9, AlertSeverity.WARNING, AlertGroup.MARKER_SUPPLIES, AlertCode.MARKER_TONER_ALMOST_EMPTY, "Toner low"),
    ]
    assert jammed.console == ("PAPER JAM", "OPEN DOOR B")
    assert jammed.page_count == 40_130
    assert [a.index for a in cleared.alerts] == [9]
    assert cleared.device_state is DeviceState.RUNNING and cleared.errors == frozenset()


async def test_unnamed_enumeration_values_stay_integers():
    state = _printer(
        counter_unit=12,  # not a PrtMarkerCounterUnitTC value
        alerts=(sim.Alert(severity=4, group=33, code=1509, description="complex page"),
                sim.Alert(severity=4, group=5, code=4242, description="vendor code")),
        supplies=(sim.Supply(99, "vendor thing", 10, 5),),
    )
    async with sim.SimSnmpAgent(lambda: state) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            status = await printer.poll()
    assert status.page_count_unit == 12
    assert [a.code for a in status.alerts] == [1509, 4242]
    assert status.alerts[0].group is AlertGroup.FIN_ATTRIBUTE
    assert status.supplies[0].kind == 99


async def test_tables_longer_than_one_answer_are_read_to_the_end():
    supplies = tuple(sim.Supply(3, f"Toner {i}", 100, i) for i in range(30))
    alerts = tuple(sim.Alert(severity=4, group=8, code=807, description=f"tray {i} low", group_index=i) for i in range(20))
    trays = tuple(sim.InputTray(f"Tray {i}", "iso_a4_210x297mm", 500, 10 * i) for i in range(12))
    state = _printer(supplies=supplies, alerts=alerts, trays=trays)
    async with sim.SimSnmpAgent(lambda: state) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            status = await printer.poll()
    assert [s.level for s in status.supplies] == list(range(30))
    assert [a.group_index for a in status.alerts] == list(range(20))
    assert [t.current_level for t in status.trays] == [10 * i for i in range(12)]
    assert status.problems == ()


async def test_page_counter_is_a_wrapping_counter32():
    state = _printer(life_count=2**32 + 17)
    async with sim.SimSnmpAgent(lambda: state) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            assert (await printer.poll()).page_count == 17


async def test_get_several_objects_in_one_request_and_missing_ones_are_none():
    state = _printer()
    async with sim.SimSnmpAgent(lambda: state) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            got = await printer.get("1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.43.10.2.1.4.1.1", "1.3.6.1.2.1.43.18.1.1.7.1.1",
                                    (1, 3, 6, 1, 2, 1, 43, 77, 0))
        answered = agent.requests_answered
    assert list(got.values()) == [b"lp-7", 40_123, None, None]
    assert answered == 1


async def test_a_silent_printer_is_unreachable_not_a_crash_and_comes_back():
    current: dict[str, sim.PrinterMibState | None] = {"state": None}
    async with sim.SimSnmpAgent(lambda: current["state"]) as agent:
        # the bound is what the silent agent costs; the one that answers again must be heard within it on a busy machine
        async with await open_snmp_printer(agent.url, timeout=1.0, retries=0) as printer:
            down = await printer.poll()
            with pytest.raises(DeviceTimeoutError, match=f"snmp://127.0.0.1:{agent.port}"):
                await printer.get("1.3.6.1.2.1.1.3.0")
            current["state"] = _printer()
            up = await printer.poll()
    assert not down.reachable
    assert isinstance(down.error, DeviceTimeoutError)
    assert down.printer_state is None and down.alerts is None and down.trays is None and down.page_count is None
    assert "no SNMP answer" in down.problems[0]
    assert up.reachable and up.printer_state is PrinterState.PRINTING


async def test_wrong_community_gets_no_answer():
    state = _printer()
    async with sim.SimSnmpAgent(lambda: state, community="s3cret-ro") as agent:
        url = agent.url.replace("s3cret-ro", "public")
        async with await open_snmp_printer(url, timeout=0.2, retries=0) as printer:
            status = await printer.poll()
        async with await open_snmp_printer(agent.url) as printer:
            good = await printer.poll()
    assert isinstance(status.error, DeviceTimeoutError)
    assert good.reachable and good.printer_name == "lp-7"


async def test_snmpv3_auth_priv_and_refused_credentials(caplog):
    caplog.set_level(logging.DEBUG)
    state = _printer()
    user = sim.SnmpV3User("pmc-ops", auth_key="auth-Secret-1", priv_key="priv-Secret-2",
                          auth_protocol="sha256", priv_protocol="aes")
    good = SnmpV3Credentials("pmc-ops", auth_key="auth-Secret-1", priv_key="priv-Secret-2",
                             auth_protocol="sha256", priv_protocol="aes")
    wrong = dataclasses.replace(good, auth_key="auth-Wrong-9")
    async with sim.SimSnmpAgent(lambda: state, community="unused-community", v3_users=[user]) as agent:
        url = f"snmp://127.0.0.1:{agent.port}?version=3"
        async with SnmpManager() as snmp:
            ok = await (await snmp.open_printer(url, credentials=good)).poll()
            # one engine holds one key set per user name: a second one is refused, not silently swapped in
            with pytest.raises(ValueError, match="another SnmpManager"):
                await snmp.open_printer(url, credentials=wrong)
        async with SnmpManager() as snmp:
            # the agent answers a wrong key with a report at once: a short bound would only turn a slow answer into a timeout
            refused = await (await snmp.open_printer(url, credentials=wrong, timeout=2.0, retries=0)).poll()
    assert ok.reachable and ok.printer_name == "lp-7" and ok.page_count == 40_123
    assert not refused.reachable
    assert isinstance(refused.error, SnmpAuthError)
    text = caplog.text + repr(good) + repr(wrong) + str(refused) + str(ok)
    for secret in ("auth-Secret-1", "priv-Secret-2", "auth-Wrong-9"):
        assert secret not in text


async def test_printer_names_and_errors_never_carry_the_community():
    with pytest.raises(ValueError) as bad:
        await open_snmp_printer("http://10.0.0.1/?community=s3cret")
    assert "s3cret" not in str(bad.value)
    async with await open_snmp_printer("snmp://127.0.0.1:9?community=s3cret", timeout=0.1, retries=0) as printer:
        status = await printer.poll()
    assert "s3cret" not in repr(printer) + printer.name + str(status)
    with pytest.raises(ValueError, match="SnmpV3Credentials"):
        await open_snmp_printer("snmp://127.0.0.1:9?version=3")
    with pytest.raises(ValueError, match="auth protocol"):
        SnmpV3Credentials("u", auth_key="12345678", auth_protocol="sha3")


async def test_a_closed_manager_refuses_requests():
    state = _printer()
    async with sim.SimSnmpAgent(lambda: state) as agent:
        snmp = SnmpManager()
        printer = await snmp.open_printer(agent.url)
        assert (await printer.poll()).reachable
        await snmp.aclose()
        with pytest.raises(DeviceError, match="closed"):
            await printer.get("1.3.6.1.2.1.1.3.0")
        with pytest.raises(DeviceError, match="closed"):
            await snmp.open_printer(agent.url)


async def test_poll_fleet_keeps_order_and_survives_a_dead_printer():
    states = [_printer(printer_name=f"lp-{i}", life_count=1000 * i) for i in range(6)]
    agents = [sim.SimSnmpAgent(lambda s=s: s) for s in states]
    dead = sim.SimSnmpAgent(lambda: None)
    for agent in [*agents, dead]:
        await agent.start()
    try:
        async with SnmpManager() as snmp:
            printers = [await snmp.open_printer(a.url, timeout=2.0, retries=0) for a in agents]  # heard, however busy
            printers.insert(3, await snmp.open_printer(dead.url, name="lp-dead", timeout=0.2, retries=0))
            statuses = await poll_fleet(printers, concurrency=2)
    finally:
        for agent in [*agents, dead]:
            await agent.aclose()
    assert [s.printer_name for s in statuses] == ["lp-0", "lp-1", "lp-2", None, "lp-3", "lp-4", "lp-5"]
    assert [s.page_count for s in statuses if s.reachable] == [0, 1000, 2000, 3000, 4000, 5000]
    assert statuses[3].device == "lp-dead" and isinstance(statuses[3].error, DeviceTimeoutError)
    with pytest.raises(ValueError):
        await poll_fleet([], concurrency=0)


async def test_uptime_follows_the_agents_clock():
    state = _printer(uptime=None, started_at=time.monotonic() - 30)
    async with sim.SimSnmpAgent(lambda: state) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            first = (await printer.poll()).uptime
            await asyncio.sleep(0.05)
            second = (await printer.poll()).uptime
    assert 3000 <= first <= second


async def test_tables_that_were_empty_are_still_seen_when_they_fill_and_empty_again():
    current = {"state": _printer(supplies=(), alerts=(), console_lines=())}
    many_alerts = tuple(sim.Alert(severity=3, group=8, code=808, description=f"tray {i} empty", group_index=i)
                        for i in range(1, 13))
    many_supplies = tuple(sim.Supply(3, f"Toner {i}", 100, i) for i in range(11))
    async with sim.SimSnmpAgent(lambda: current["state"]) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            empty = await printer.poll()
            first_request = printer.poll_request()
            current["state"] = _printer(supplies=many_supplies, alerts=many_alerts, console_lines=("TRAYS EMPTY",))
            full = await printer.poll()
            current["state"] = _printer(supplies=(), alerts=(), console_lines=())
            emptied = await printer.poll()
    assert (empty.supplies, empty.alerts, empty.console) == ((), (), ())
    # the empty tables are probed with one OID each rather than read column by column
    non_repeaters, _, oids = first_request
    assert non_repeaters == 7 + 3
    assert "1.3.6.1.2.1.43.18.1.1.2.1" in oids[:non_repeaters]
    assert "1.3.6.1.2.1.43.18.1.1.8.1" not in oids
    assert [a.group_index for a in full.alerts] == list(range(1, 13))
    assert [a.code for a in full.alerts] == [AlertCode.INPUT_MEDIA_SUPPLY_EMPTY] * 12
    assert [s.level for s in full.supplies] == list(range(11))
    assert full.console == ("TRAYS EMPTY",)
    assert (emptied.supplies, emptied.alerts, emptied.console) == ((), (), ())
    assert len(emptied.trays) == 3


async def test_a_printer_that_stops_answering_mid_poll_leaves_only_the_unread_table_unknown():
    long_state = _printer(supplies=tuple(sim.Supply(3, f"Toner {i}", 100, i) for i in range(30)))
    answers = iter([long_state])  # the first request is answered, the follow-up for the supplies is not

    async with sim.SimSnmpAgent(lambda: next(answers, None)) as agent:
        # the first request must be answered within the bound on a busy machine; the follow-up costs it once
        async with await open_snmp_printer(agent.url, timeout=1.0, retries=0) as printer:
            status = await printer.poll()
    assert status.reachable
    assert status.printer_name == "lp-7" and status.page_count == 40_123
    assert len(status.trays) == 3 and status.alerts == () and status.console == ("Printing", "Tray 2")
    assert status.supplies is None
    assert isinstance(status.error, DeviceTimeoutError)
    assert any(p.startswith("supplies:") for p in status.problems)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:20] + bytes(len(data) - 20), id="zeroed"),
        pytest.param(lambda data: b"\x30\x84\xff\xff\xff\xff" + data, id="absurd-length"),
        pytest.param(lambda data: None, id="dropped"),
    ],
)
async def test_a_damaged_answer_is_an_unreachable_status_not_a_crash(damage):
    state = _printer()
    async with sim.SimSnmpAgent(lambda: state, response_hook=damage) as agent:
        async with await open_snmp_printer(agent.url, timeout=0.2, retries=0) as printer:
            status = await printer.poll()
    assert not status.reachable
    assert isinstance(status.error, DeviceError)
    assert status.printer_state is None and status.trays is None


async def test_an_intact_answer_through_the_hook_is_read_as_usual():
    seen: list[int] = []
    state = _printer()

    def count(data: bytes) -> bytes:
        seen.append(len(data))
        return data

    async with sim.SimSnmpAgent(lambda: state, response_hook=count) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            status = await printer.poll()
        answered = agent.requests_answered
    assert status.reachable and status.printer_name == "lp-7"
    assert len(seen) == 1 and seen[0] > 100
    # one GETBULK, however many repetitions, is answered from one snapshot of the printer
    assert answered == 1


async def test_summary_reads_as_an_operator_line():
    jam = sim.Alert(severity=3, group=13, code=8, description="Paper jam")
    state = _printer(device_status=sim.HrDeviceStatus.DOWN, printer_status=sim.HrPrinterStatus.OTHER,
                     detected_errors=sim.DetectedError.JAMMED, alerts=(jam,))
    async with sim.SimSnmpAgent(lambda: state) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            line = (await printer.poll()).summary()
    assert line.startswith("lp-7: down/other, errors jammed, alerts critical jam (Paper jam), 40123 impressions")
    assert "Black Toner 25%" in line and "Waste Toner some_remaining" in line
    async with await open_snmp_printer("snmp://127.0.0.1:9", timeout=0.1, retries=0) as printer:
        assert (await printer.poll()).summary() == "snmp://127.0.0.1:9: unreachable (no SNMP answer in 0.1 s x 1 tries)"


async def test_page_advance_across_a_counter_wrap_and_not_across_a_restart():
    current = {"state": _printer(life_count=2**32 - 5, uptime=100_000)}
    async with sim.SimSnmpAgent(lambda: current["state"]) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            before = await printer.poll()
            current["state"] = _printer(life_count=2**32 + 20, uptime=100_500)
            after_wrap = await printer.poll()
            current["state"] = _printer(life_count=3, uptime=200)
            after_restart = await printer.poll()
            current["state"] = _printer(life_count=10, uptime=300, counter_unit=8)
            in_sheets = await printer.poll()
    assert after_wrap.pages_since(before) == 25
    assert after_wrap.restarted_since(before) is False
    assert after_restart.restarted_since(after_wrap) is True
    assert after_restart.pages_since(after_wrap) is None
    assert in_sheets.pages_since(after_restart) is None  # impressions then sheets: not comparable
    unreachable = dataclasses.replace(before, reachable=False, uptime=None, page_count=None)
    assert after_wrap.pages_since(unreachable) is None and after_wrap.restarted_since(unreachable) is None


# ---- the contract any printer's SNMP agent meets: the simulator always, real hardware when given ----------

_CONTRACT_TARGETS = ["simulator"] + (["hardware"] if os.environ.get("PMC_TEST_SNMP_URL") else [])


@pytest.fixture(params=_CONTRACT_TARGETS)
async def printer_url(request):
    if request.param == "hardware":
        yield os.environ["PMC_TEST_SNMP_URL"]  # e.g. snmp://10.1.2.3?community=public
        return
    state = _printer(uptime=None, started_at=time.monotonic())
    async with sim.SimSnmpAgent(lambda: state) as agent:
        yield agent.url


class TestPrinterAgentContract:
    async def test_a_poll_answers_every_printer_part(self, printer_url):
        async with await open_snmp_printer(printer_url, timeout=2) as printer:
            status = await printer.poll()
        assert status.reachable, status.problems
        assert isinstance(status.device_state, DeviceState) and isinstance(status.printer_state, PrinterState)
        assert isinstance(status.errors, frozenset)
        assert isinstance(status.page_count, int) and status.page_count_unit is not None
        assert isinstance(status.trays, tuple) and isinstance(status.supplies, tuple)
        assert isinstance(status.alerts, tuple) and isinstance(status.console, tuple)

    async def test_two_polls_in_a_row_count_forward(self, printer_url):
        async with await open_snmp_printer(printer_url, timeout=2) as printer:
            first = await printer.poll()
            second = await printer.poll()
        assert second.restarted_since(first) is False
        assert second.pages_since(first) is not None and second.pages_since(first) >= 0


def _too_big_above(limit: int):
    """A response hook: answers longer than `limit` bytes become tooBig (error-status 1), as a small agent's would."""

    def tlv(data: bytes, pos: int) -> tuple[int, int]:
        """(start of value, end of value) of the BER TLV at pos."""
        length = data[pos + 1]
        start = pos + 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(data[start : start + size], "big")
            start += size
        return start, start + length

    def hook(data: bytes) -> bytes:
        if len(data) <= limit:
            return data
        message, _ = tlv(data, 0)
        _, after_version = tlv(data, message)
        _, after_community = tlv(data, after_version)
        pdu, _ = tlv(data, after_community)
        _, after_request_id = tlv(data, pdu)
        status_at, _ = tlv(data, after_request_id)
        patched = bytearray(data)
        patched[status_at] = 1  # tooBig
        return bytes(patched)

    return hook


async def test_an_agent_that_finds_answers_too_big_gets_smaller_bulks():
    state = _printer(supplies=tuple(sim.Supply(3, f"Toner {i}", 100, i) for i in range(30)))
    async with sim.SimSnmpAgent(lambda: state, response_hook=_too_big_above(1200)) as agent:
        async with await open_snmp_printer(agent.url) as printer:
            first = await printer.poll()
            second = await printer.poll()
            _, repetitions, _ = printer.poll_request()
    for status in (first, second):
        assert status.reachable and status.problems == ()
        assert [s.level for s in status.supplies] == list(range(30))
    assert repetitions < 8


async def test_poll_urls_polls_each_printer_once_and_releases_everything():
    jam = sim.Alert(severity=3, group=13, code=8, description="Paper jam")
    states = [_printer(printer_name="lp-a"), _printer(printer_name="lp-b", alerts=(jam,))]
    async with sim.SimSnmpAgent(lambda: states[0]) as a, sim.SimSnmpAgent(lambda: states[1]) as b:
        statuses = await poll_urls([a.url, b.url])
        answered = (a.requests_answered, b.requests_answered)
    assert [s.printer_name for s in statuses] == ["lp-a", "lp-b"]
    assert [len(s.alerts) for s in statuses] == [0, 1]
    assert answered == (1, 1)


async def test_an_ipv6_printer():
    state = _printer()
    async with sim.SimSnmpAgent(lambda: state, host="::1") as agent:
        assert agent.url.startswith("snmp://[::1]:")
        async with await open_snmp_printer(agent.url) as printer:
            status = await printer.poll()
    assert status.reachable and status.printer_name == "lp-7"
    assert status.device == f"snmp://[::1]:{agent.port}"
