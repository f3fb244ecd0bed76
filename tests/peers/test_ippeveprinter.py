"""Our IPP client against CUPS's reference printer, ippeveprinter (Debian cups-ipp-utils).

ippeveprinter needs a system D-Bus and an avahi-daemon (DNS-SD), so the fixture starts them when they
are not running, on loopback only, and stops what it started by PID. ippeveprinter prints one job at
a time and answers others with server-error-busy: the client must retry.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from drivers.ipp import IppNotFoundError, IppPrinter, JobState, PrinterState

pytestmark = pytest.mark.peer

DOCUMENT = (Path(__file__).resolve().parents[2] / "fixtures" / "ipptool" / "document-letter.pdf").read_bytes()
PROGRAMS = ("ippeveprinter", "dbus-daemon", "avahi-daemon")
AVAHI_CONF = """[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
"""


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _pid_in(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {seconds:g}s")
        time.sleep(0.05)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("localhost", port), timeout=0.2):
            return True
    except OSError:
        return False


def _stop(pid: int) -> None:
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, 9)


@pytest.fixture(scope="module")
def ippeveprinter(tmp_path_factory):
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (Debian cups-ipp-utils, dbus, avahi-daemon)")
    work = tmp_path_factory.mktemp("ippeveprinter")
    started: list[int] = []
    procs: list[subprocess.Popen] = []
    try:
        dbus_pid = _pid_in("/run/dbus/pid")
        if dbus_pid is None or not _alive(dbus_pid):
            Path("/run/dbus").mkdir(parents=True, exist_ok=True)
            Path("/run/dbus/pid").unlink(missing_ok=True)
            out = subprocess.run(["dbus-daemon", "--system", "--fork", "--print-pid"], check=True,
                                 capture_output=True, text=True, timeout=10).stdout
            started.append(int(out.split()[0]))
        if subprocess.run(["avahi-daemon", "--check"], capture_output=True).returncode != 0:
            avahi_pid = _pid_in("/run/avahi-daemon/pid")
            if avahi_pid is not None and not _alive(avahi_pid):
                Path("/run/avahi-daemon/pid").unlink(missing_ok=True)
            conf = work / "avahi-daemon.conf"
            conf.write_text(AVAHI_CONF)
            avahi = subprocess.Popen(["avahi-daemon", "-f", str(conf), "--no-rlimits", "--no-drop-root"],
                                     stdout=subprocess.DEVNULL, stderr=(work / "avahi.log").open("w"))
            procs.append(avahi)
            started.append(avahi.pid)
            _wait(lambda: subprocess.run(["avahi-daemon", "--check"], capture_output=True).returncode == 0,
                  10, "avahi-daemon")
        # the printer job takes a moment, so a second job finds the printer busy
        command = work / "print.sh"
        command.write_text("#!/bin/sh\nsleep 0.6\n")
        command.chmod(0o755)
        spool = work / "spool"
        spool.mkdir()
        keys = work / "keys"  # where ippeveprinter makes its self-signed TLS certificate
        keys.mkdir()
        port = _free_port()
        printer = subprocess.Popen(
            ["ippeveprinter", "-p", str(port), "-n", "localhost", "-f", "application/pdf", "-c", str(command),
             "-d", str(spool), "-K", str(keys), "-s", "60", "pmc-peer"],
            stdout=subprocess.DEVNULL, stderr=(work / "ippeveprinter.log").open("w"))
        procs.append(printer)
        started.append(printer.pid)
        _wait(lambda: _listening(port) or printer.poll() is not None, 15, "ippeveprinter")
        if printer.poll() is not None:
            raise RuntimeError(f"ippeveprinter exited: {(work / 'ippeveprinter.log').read_text()[-500:]}")
        yield f"ipp://localhost:{port}/ipp/print"
    finally:
        for pid in reversed(started):
            _stop(pid)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


async def test_printer_attributes_from_ippeveprinter(ippeveprinter):
    async with IppPrinter(ippeveprinter, timeout=10) as client:
        attrs = await client.get_printer_attributes()
        status = await client.status()
    assert attrs["printer-name"].value == "pmc-peer"
    assert "application/pdf" in attrs["document-format-supported"].values
    assert 0x0002 in attrs["operations-supported"].values
    assert status.state in (PrinterState.IDLE, PrinterState.PROCESSING)


async def test_submit_and_track_to_completed_then_list(ippeveprinter):
    async with IppPrinter(ippeveprinter, timeout=10, busy_backoff=0.1) as client:
        job = await client.print_job(DOCUMENT, job_name="pmc peer test")
        assert job.job_id > 0 and job.uri.startswith("ipp")
        done = await client.wait_for_job(job.job_id, poll=0.1, timeout=30)
        assert done.state == JobState.COMPLETED
        completed = await client.get_jobs(which_jobs="completed")
        assert job.job_id in {j.job_id for j in completed}
        with pytest.raises(IppNotFoundError):
            await client.get_job_attributes(987654)


async def test_concurrent_jobs_are_retried_on_busy_until_accepted(ippeveprinter):
    clients = [IppPrinter(ippeveprinter, timeout=10, busy_retries=40, busy_backoff=0.05, busy_backoff_max=0.3)
               for _ in range(3)]
    try:
        jobs = await asyncio.gather(*(c.print_job(DOCUMENT, job_name=f"busy-{i}") for i, c in enumerate(clients)))
        assert sum(c.busy_retried for c in clients) > 0  # ippeveprinter prints one job at a time
        for job in jobs:
            assert (await clients[0].wait_for_job(job.job_id, poll=0.1, timeout=30)).state == JobState.COMPLETED
    finally:
        for c in clients:
            await c.aclose()


async def test_cancel_a_job_before_it_completes(ippeveprinter):
    async with IppPrinter(ippeveprinter, timeout=10, busy_retries=40, busy_backoff=0.05) as client:
        job = await client.create_job(job_name="to cancel")
        listed = await client.get_jobs()
        assert job.job_id in {j.job_id for j in listed}
        await client.cancel_job(job.job_id)
        final = await client.wait_for_job(job.job_id, poll=0.1, timeout=30)
        assert final.state == JobState.CANCELED


async def test_ipps_to_ippeveprinter(ippeveprinter):
    # ippeveprinter answers TLS on the same port with a self-signed certificate it makes itself
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    url = ippeveprinter.replace("ipp://", "ipps://")
    async with IppPrinter(url, timeout=10, ssl_context=context) as client:
        attrs = await client.get_printer_attributes(["printer-name", "printer-uri-supported"])
    assert attrs["printer-name"].value == "pmc-peer"
    assert any(u.startswith("ipps://") for u in attrs["printer-uri-supported"].values)
