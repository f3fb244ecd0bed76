"""Net-SNMP as the peer: its snmpwalk/snmpget read our agent, and our poller reads its snmpd.

Our agent (simulators/snmp_agent.py) and our poller (drivers/snmp.py) share no codec; these tests pin
each of them to Net-SNMP separately.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
import socket
import time

import pytest

from drivers.errors import DeviceError, DeviceTimeoutError
from drivers.snmp import DeviceState, SnmpAuthError, SnmpManager, SnmpV3Credentials, open_snmp_printer
from simulators.snmp_agent import (
    Alert,
    DetectedError,
    HrDeviceStatus,
    HrPrinterStatus,
    InputTray,
    PrinterMibState,
    SimSnmpAgent,
    SnmpV3User,
    Supply,
)

pytestmark = pytest.mark.peer

PRINTER_MIB = "1.3.6.1.2.1.43"
_LINE = re.compile(r"^(\.[0-9.]+) = (?:([A-Za-z0-9-]+): )?(.*)$")


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (Debian package snmp/snmpd)")
    return path


@pytest.fixture
def netsnmp_env(tmp_path):
    # keep Net-SNMP's persistent files (v3 engine boots, cert indexes) out of /var/lib
    env = dict(os.environ, SNMP_PERSISTENT_DIR=str(tmp_path / "persist"), SNMPCONFPATH=str(tmp_path), MIBS="")
    return env


async def _run(env, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        async with asyncio.timeout(20):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode, out.decode(), err.decode()


def _parse(text: str) -> list[tuple[str, str, str]]:
    """Net-SNMP's `-On` lines as (oid, type, value); strings lose their quotes."""
    rows = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue  # a wrapped continuation of a long value
        oid, kind, value = m.group(1), m.group(2) or "", m.group(3)
        if kind == "STRING" and value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        rows.append((oid.lstrip("."), kind, value.strip()))
    return rows


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split("."))


def _busy_printer(started_at: float) -> PrinterMibState:
    return PrinterMibState(
        printer_name="lp-3",
        serial_number="SN-42",
        started_at=started_at,
        device_status=HrDeviceStatus.RUNNING,
        printer_status=HrPrinterStatus.PRINTING,
        trays=(
            InputTray("Tray 1", "iso_a4_210x297mm", 500, 320),
            InputTray("Tray 2", "na_letter_8.5x11in", 2000, -3),
            InputTray("Bypass", "unknown", -2, -2, input_type=5),
        ),
        counter_unit=7,
        life_count=123456,
        supplies=(
            Supply(3, "Black Toner Cartridge", 100, 64),
            Supply(4, "Waste Toner Box", 100, -3, supply_class=4),
            Supply(15, "Fuser", -2, -1),
        ),
        console_lines=("Printing", "Job 17 of 20"),
    )


async def test_snmpwalk_reads_the_whole_printer_mib_in_order(netsnmp_env):
    snmpwalk = _need("snmpwalk")
    state = _busy_printer(time.monotonic())
    async with SimSnmpAgent(lambda: state) as agent:
        code, out, err = await _run(netsnmp_env, snmpwalk, "-v2c", "-c", "public", "-On", "-t", "2",
                                    f"127.0.0.1:{agent.port}", PRINTER_MIB)
    assert code == 0, err
    assert "No more variables" not in out and "Error" not in out + err
    rows = _parse(out)
    oids = [_oid_key(oid) for oid, _, _ in rows]
    assert oids == sorted(oids) and len(set(oids)) == len(oids)
    assert all(oid[:7] == (1, 3, 6, 1, 2, 1, 43) for oid in oids)
    got = {oid: (kind, value) for oid, kind, value in rows}
    assert got["1.3.6.1.2.1.43.5.1.1.16.1"] == ("STRING", "lp-3")
    assert got["1.3.6.1.2.1.43.10.2.1.3.1.1"] == ("INTEGER", "7")
    assert got["1.3.6.1.2.1.43.10.2.1.4.1.1"] == ("Counter32", "123456")
    # the three trays, special values passed through as signed integers
    assert [got[f"1.3.6.1.2.1.43.8.2.1.9.1.{i}"][1] for i in (1, 2, 3)] == ["500", "2000", "-2"]
    assert [got[f"1.3.6.1.2.1.43.8.2.1.10.1.{i}"][1] for i in (1, 2, 3)] == ["320", "-3", "-2"]
    assert got["1.3.6.1.2.1.43.8.2.1.12.1.2"] == ("STRING", "na_letter_8.5x11in")
    assert [got[f"1.3.6.1.2.1.43.11.1.1.5.1.{s}"][1] for s in (1, 2, 3)] == ["3", "4", "15"]
    assert [got[f"1.3.6.1.2.1.43.11.1.1.9.1.{s}"][1] for s in (1, 2, 3)] == ["64", "-3", "-1"]
    assert got["1.3.6.1.2.1.43.11.1.1.6.1.2"] == ("STRING", "Waste Toner Box")
    assert got["1.3.6.1.2.1.43.16.5.1.2.1.2"] == ("STRING", "Job 17 of 20")
    # no alerts: the alert table has no rows at all
    assert not [oid for oid in got if oid.startswith("1.3.6.1.2.1.43.18.")]


async def test_snmpbulkwalk_sees_what_snmpwalk_sees(netsnmp_env):
    snmpwalk, snmpbulkwalk = _need("snmpwalk"), _need("snmpbulkwalk")
    state = dataclasses.replace(_busy_printer(0.0), uptime=4200)  # uptime fixed so both walks agree
    async with SimSnmpAgent(lambda: state) as agent:
        target = f"127.0.0.1:{agent.port}"
        _, walked, _ = await _run(netsnmp_env, snmpwalk, "-v2c", "-c", "public", "-On", target, "1.3.6.1.2.1")
        code, bulked, err = await _run(netsnmp_env, snmpbulkwalk, "-v2c", "-c", "public", "-On", "-Cr7",
                                       target, "1.3.6.1.2.1")
    assert code == 0, err
    assert _parse(bulked) == _parse(walked)
    assert len(_parse(walked)) > 40


async def test_snmpget_follows_injected_faults_live(netsnmp_env):
    snmpget, snmpwalk = _need("snmpget"), _need("snmpwalk")
    healthy = _busy_printer(time.monotonic())
    current = {"state": healthy}
    jam = Alert(severity=3, group=13, code=8, description="Paper jam in fuser area", group_index=1, time=1500)
    door = Alert(severity=3, group=6, code=501, description="Front door open", index=7)
    objects = [
        "1.3.6.1.2.1.25.3.2.1.5.1",  # hrDeviceStatus
        "1.3.6.1.2.1.25.3.5.1.1.1",  # hrPrinterStatus
        "1.3.6.1.2.1.25.3.5.1.2.1",  # hrPrinterDetectedErrorState
        "1.3.6.1.2.1.43.10.2.1.4.1.1",  # prtMarkerLifeCount
    ]
    async with SimSnmpAgent(lambda: current["state"]) as agent:
        target = f"127.0.0.1:{agent.port}"

        _, out, _ = await _run(netsnmp_env, snmpget, "-v2c", "-c", "public", "-On", target, *objects)
        assert [v for _, _, v in _parse(out)] == ["2", "4", "00 00", "123456"]

        current["state"] = dataclasses.replace(
            healthy,
            device_status=HrDeviceStatus.DOWN,
            printer_status=HrPrinterStatus.OTHER,
            detected_errors=DetectedError.JAMMED | DetectedError.DOOR_OPEN | DetectedError.INPUT_TRAY_MISSING,
            life_count=123470,
            alerts=(jam, door),
        )
        _, out, _ = await _run(netsnmp_env, snmpget, "-v2c", "-c", "public", "-On", target, *objects)
        # jammed is bit 5 (0x04), doorOpen bit 4 (0x08) of octet 1; inputTrayMissing bit 8 (0x80) of octet 2
        assert [v for _, _, v in _parse(out)] == ["5", "1", "0C 80", "123470"]

        _, out, _ = await _run(netsnmp_env, snmpwalk, "-v2c", "-c", "public", "-On", target, "1.3.6.1.2.1.43.18")
        alerts = {oid: v for oid, _, v in _parse(out)}
        assert alerts["1.3.6.1.2.1.43.18.1.1.7.1.1"] == "8"
        assert alerts["1.3.6.1.2.1.43.18.1.1.8.1.1"] == "Paper jam in fuser area"
        assert alerts["1.3.6.1.2.1.43.18.1.1.7.1.7"] == "501"
        assert alerts["1.3.6.1.2.1.43.18.1.1.2.1.7"] == "3"
        assert len(alerts) == 16  # two rows of eight columns

        # the jam cleared, the door still open: one alert row left, a one-octet error string
        current["state"] = dataclasses.replace(
            healthy, detected_errors=DetectedError.DOOR_OPEN, error_octets=1, alerts=(door,)
        )
        _, out, _ = await _run(netsnmp_env, snmpwalk, "-v2c", "-c", "public", "-On", target, "1.3.6.1.2.1.43.18")
        assert {oid.rsplit(".", 1)[1] for oid, _, _ in _parse(out)} == {"7"}
        _, out, _ = await _run(netsnmp_env, snmpget, "-v2c", "-c", "public", "-On", "-Ox", target, objects[2])
        assert _parse(out)[0][2] == "08"


async def test_snmpget_tells_missing_instances_from_missing_objects(netsnmp_env):
    snmpget = _need("snmpget")
    state = _busy_printer(time.monotonic())
    async with SimSnmpAgent(lambda: state) as agent:
        _, out, _ = await _run(netsnmp_env, snmpget, "-v2c", "-c", "public", "-On", f"127.0.0.1:{agent.port}",
                               "1.3.6.1.2.1.43.18.1.1.7.1.1", "1.3.6.1.2.1.43.99.1.0", "1.3.6.1.2.1.1.3.0")
    rows = _parse(out)
    assert "No Such Instance" in rows[0][2]
    assert "No Such Object" in rows[1][2]
    assert rows[2][1] == "Timeticks"


async def test_snmpwalk_v1_reads_the_same_printer_mib(netsnmp_env):
    snmpwalk = _need("snmpwalk")
    state = dataclasses.replace(_busy_printer(0.0), uptime=4200)
    async with SimSnmpAgent(lambda: state) as agent:
        target = f"127.0.0.1:{agent.port}"
        code, v1, err = await _run(netsnmp_env, snmpwalk, "-v1", "-c", "public", "-On", target, PRINTER_MIB)
        _, v2, _ = await _run(netsnmp_env, snmpwalk, "-v2c", "-c", "public", "-On", target, PRINTER_MIB)
    assert code == 0, err
    assert _parse(v1) == _parse(v2) and len(_parse(v1)) > 30


async def test_snmpset_is_refused_and_changes_nothing(netsnmp_env):
    snmpset, snmpget = _need("snmpset"), _need("snmpget")
    state = _busy_printer(time.monotonic())
    async with SimSnmpAgent(lambda: state) as agent:
        target = f"127.0.0.1:{agent.port}"
        code, out, err = await _run(netsnmp_env, snmpset, "-v2c", "-c", "public", "-On", target,
                                    "1.3.6.1.2.1.43.5.1.1.16.1", "s", "hijacked")
        _, after, _ = await _run(netsnmp_env, snmpget, "-v2c", "-c", "public", "-On", target, "1.3.6.1.2.1.43.5.1.1.16.1")
    assert code != 0 and "notWritable" in out + err
    assert _parse(after)[0][2] == "lp-3"


async def test_snmpv1_get_names_the_missing_object(netsnmp_env):
    snmpget = _need("snmpget")
    state = _busy_printer(time.monotonic())
    async with SimSnmpAgent(lambda: state) as agent:
        code, out, err = await _run(netsnmp_env, snmpget, "-v1", "-c", "public", "-On", "-Cf",
                                    f"127.0.0.1:{agent.port}", "1.3.6.1.2.1.43.18.1.1.7.1.1", "1.3.6.1.2.1.1.5.0")
    assert code != 0
    assert "noSuchName" in out + err and "1.3.6.1.2.1.43.18.1.1.7.1.1" in out + err


async def test_snmpget_v3_auth_priv_user_and_wrong_password(netsnmp_env):
    snmpget = _need("snmpget")
    state = _busy_printer(time.monotonic())
    user = SnmpV3User("pmc-ops", auth_key="authpass123", priv_key="privpass123", auth_protocol="sha", priv_protocol="aes")
    async with SimSnmpAgent(lambda: state, community="not-public", v3_users=[user]) as agent:
        target = f"127.0.0.1:{agent.port}"
        code, out, err = await _run(netsnmp_env, snmpget, "-v3", "-l", "authPriv", "-u", "pmc-ops", "-a", "SHA",
                                    "-A", "authpass123", "-x", "AES", "-X", "privpass123", "-On", target,
                                    "1.3.6.1.2.1.43.5.1.1.16.1")
        assert code == 0, err
        assert _parse(out)[0][2] == "lp-3"
        code, out, err = await _run(netsnmp_env, snmpget, "-v3", "-l", "authPriv", "-u", "pmc-ops", "-a", "SHA",
                                    "-A", "wrongpass123", "-x", "AES", "-X", "privpass123", "-On", "-r", "0",
                                    "-t", "1", target, "1.3.6.1.2.1.43.5.1.1.16.1")
        assert code != 0
        # the community is not "public", so the default community gets no answer
        code, out, err = await _run(netsnmp_env, snmpget, "-v2c", "-c", "public", "-On", "-r", "0", "-t", "0.5",
                                    target, "1.3.6.1.2.1.1.5.0")
        assert code != 0 and "Timeout" in out + err


async def test_offline_printer_does_not_answer_then_comes_back(netsnmp_env):
    snmpget = _need("snmpget")
    state = _busy_printer(time.monotonic())
    current: dict[str, PrinterMibState | None] = {"state": None}
    async with SimSnmpAgent(lambda: current["state"]) as agent:
        target = f"127.0.0.1:{agent.port}"
        code, out, err = await _run(netsnmp_env, snmpget, "-v2c", "-c", "public", "-On", "-r", "0", "-t", "0.5",
                                    target, "1.3.6.1.2.1.1.5.0")
        assert code != 0 and "Timeout" in out + err
        current["state"] = state
        code, out, err = await _run(netsnmp_env, snmpget, "-v2c", "-c", "public", "-On", target, "1.3.6.1.2.1.1.5.0")
        assert code == 0 and _parse(out)[0][2] == "lp-3"


async def test_agent_releases_its_port_on_exit():
    state = PrinterMibState()
    async with SimSnmpAgent(lambda: state) as agent:
        port = agent.port
        assert agent.url == f"snmp://127.0.0.1:{port}?community=public"
    # the port is free again: we can bind it ourselves
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))


# ---- our poller against Net-SNMP's snmpd ---------------------------------------------------------



def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def snmpd(tmp_path, netsnmp_env):
    """Net-SNMP's own agent on a free loopback port: a host, not a printer (no Printer MIB)."""
    program = shutil.which("snmpd") or ("/usr/sbin/snmpd" if os.path.exists("/usr/sbin/snmpd") else None)
    if program is None:
        pytest.skip("snmpd is not installed (Debian package snmpd)")
    conf = tmp_path / "snmpd.conf"
    conf.write_text(
        "rocommunity pmc-ro 127.0.0.1\n"
        "createUser pmcops SHA authpass123 AES privpass123\n"
        "rouser pmcops priv\n"
    )
    env = dict(netsnmp_env, SNMP_PERSISTENT_DIR=str(tmp_path / "snmpd-persist"))
    for attempt in range(3):  # the free port can be taken between our probe and snmpd's bind
        port = _free_udp_port()
        log = open(tmp_path / f"snmpd-{attempt}.log", "wb")
        proc = await asyncio.create_subprocess_exec(
            program, "-f", "-Lo", "-C", "-c", str(conf), f"udp:127.0.0.1:{port}",
            stdout=log, stderr=asyncio.subprocess.STDOUT, env=env,
        )
        try:
            ready = await _wait_for_snmpd(port, proc, netsnmp_env)
            if ready:
                yield port
                return
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(5):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            log.close()
    pytest.fail(f"snmpd did not start; see {tmp_path}/snmpd-*.log")


async def _wait_for_snmpd(port: int, proc, env) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            return False
        code, _, _ = await _run(env, "snmpget", "-v2c", "-c", "pmc-ro", "-r", "0", "-t", "0.3",
                                f"127.0.0.1:{port}", "1.3.6.1.2.1.1.3.0")
        if code == 0:
            return True
    return False


async def _snmpd_devices(env, port: int) -> dict[int, int]:
    """hrDeviceStatus per hrDeviceIndex, as Net-SNMP's snmpwalk reads it."""
    _, out, _ = await _run(env, "snmpwalk", "-v2c", "-c", "pmc-ro", "-On", f"127.0.0.1:{port}",
                           "1.3.6.1.2.1.25.3.2.1.5")
    return {int(oid.rsplit(".", 1)[1]): int(value) for oid, _, value in _parse(out)}


async def test_poller_reads_host_resources_from_snmpd(snmpd, netsnmp_env):
    port = snmpd
    devices = await _snmpd_devices(netsnmp_env, port)
    assert devices, "snmpd lists no hrDevice rows"
    _, out, _ = await _run(netsnmp_env, "snmpget", "-v2c", "-c", "pmc-ro", "-On", f"127.0.0.1:{port}",
                           "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0")
    (_, _, uptime_text), (_, _, descr), (_, _, sys_name) = _parse(out)
    their_uptime = int(re.match(r"\((\d+)\)", uptime_text).group(1))

    url = f"snmp://127.0.0.1:{port}?community=pmc-ro"
    async with SnmpManager() as snmp:
        statuses = {
            index: await (await snmp.open_printer(url, device_index=index)).poll()
            for index in list(devices)[:4]
        }
        got = await (await snmp.open_printer(url)).get("1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0",
                                                       "1.3.6.1.2.1.43.5.1.1.16.1")
    for index, status in statuses.items():
        assert status.reachable, status.problems
        assert status.device_state is DeviceState(devices[index])
        assert status.uptime >= their_uptime
        # a host has no printer: those parts are unknown, not empty and not a crash
        assert status.printer_state is None and status.errors is None and status.page_count is None
        assert status.trays is None and status.supplies is None and status.alerts is None and status.console is None
        assert any("no Printer MIB" in p for p in status.problems)
    assert got[(1, 3, 6, 1, 2, 1, 1, 1, 0)].decode() == descr
    assert got[(1, 3, 6, 1, 2, 1, 1, 5, 0)].decode() == sys_name
    assert got[(1, 3, 6, 1, 2, 1, 43, 5, 1, 1, 16, 1)] is None


async def test_poller_speaks_snmpv3_auth_priv_to_snmpd(snmpd, netsnmp_env):
    port = snmpd
    devices = await _snmpd_devices(netsnmp_env, port)
    index = next(iter(devices))
    url = f"snmp://127.0.0.1:{port}?version=3"
    good = SnmpV3Credentials("pmcops", auth_key="authpass123", priv_key="privpass123", auth_protocol="sha", priv_protocol="aes")
    wrong = dataclasses.replace(good, priv_key="not-the-key")
    wrong_auth = dataclasses.replace(good, auth_key="not-the-key")
    async with SnmpManager() as snmp:
        ok = await (await snmp.open_printer(url, credentials=good, device_index=index)).poll()
    async with SnmpManager() as snmp:
        refused = await (await snmp.open_printer(url, credentials=wrong, timeout=0.5, retries=0)).poll()
    async with SnmpManager() as snmp:
        # snmpd answers a wrong auth key with a report at once: a longer bound costs nothing, a short one fails when busy
        refused_auth = await (await snmp.open_printer(url, credentials=wrong_auth, timeout=5, retries=0)).poll()
    assert ok.reachable and ok.device_state is DeviceState(devices[index])
    # a wrong privacy key makes an undecryptable request, which snmpd drops: no answer
    assert not refused.reachable and isinstance(refused.error, DeviceTimeoutError)
    assert not refused_auth.reachable and isinstance(refused_auth.error, SnmpAuthError)
    assert "not-the-key" not in str(refused.error) + str(refused_auth.error)


async def test_snmpv1_get_works_and_poll_says_it_needs_getbulk(snmpd):
    url = f"snmp://127.0.0.1:{snmpd}?community=pmc-ro&version=1"
    async with await open_snmp_printer(url) as host:
        got = await host.get("1.3.6.1.2.1.1.3.0")
        with pytest.raises(DeviceError, match="noSuchName"):
            await host.get("1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.43.5.1.1.16.1")
        status = await host.poll()
    assert isinstance(got[(1, 3, 6, 1, 2, 1, 1, 3, 0)], int)
    assert not status.reachable and "GETBULK" in status.problems[0]


async def test_snmpget_reads_the_agent_over_ipv6(netsnmp_env):
    snmpget = _need("snmpget")
    state = _busy_printer(time.monotonic())
    async with SimSnmpAgent(lambda: state, host="::1") as agent:
        code, out, err = await _run(netsnmp_env, snmpget, "-v2c", "-c", "public", "-On",
                                    f"udp6:[::1]:{agent.port}", "1.3.6.1.2.1.43.5.1.1.16.1")
    assert code == 0, err
    assert _parse(out)[0][2] == "lp-3"
