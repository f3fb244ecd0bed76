"""The IPP client against our printer simulator, and against small raw servers for transport failures."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from drivers.errors import DeviceError, DeviceTimeoutError, WireProtocolError
from drivers.ipp import (
    Attribute, IppBusyError, IppFormatError, IppHttpError, IppMessage, IppNotFoundError, IppNotPossibleError,
    IppPrinter, JobState, PrinterState, Status, Tag, encode,
)
from simulators.printer import Fault, SimIppPrinter
from simulators.printer_documents import PAGE_LIST

FAST = 20000
PAGES = "\n".join(["-"] * 6).encode()


async def test_submit_track_list_and_cancel():
    async with SimIppPrinter(speed=FAST) as sim, IppPrinter(sim.url) as client:
        sim.inject(Fault.DOOR_OPEN)  # hold the queue so the listing sees both jobs
        first = await client.print_job(PAGES, document_format=PAGE_LIST, job_name="run-1")
        second = await client.print_job(PAGES, document_format=PAGE_LIST, job_name="run-2")
        listed = await client.get_jobs()
        assert [(j.job_id, j.name) for j in listed] == [(first.job_id, "run-1"), (second.job_id, "run-2")]
        await client.cancel_job(second.job_id)
        sim.clear(Fault.DOOR_OPEN)
        done = await client.wait_for_job(first.job_id, poll=0.01)
        assert done.state == JobState.COMPLETED and done.impressions_completed == 6
        canceled = await client.get_job_attributes(second.job_id)
        assert canceled.state == JobState.CANCELED and "job-canceled-by-user" in canceled.reasons
        assert [j.job_id for j in await client.get_jobs()] == []
        assert {j.job_id for j in await client.get_jobs(which_jobs="completed")} == {first.job_id, second.job_id}


async def test_create_job_then_send_document():
    async with SimIppPrinter(speed=FAST) as sim, IppPrinter(sim.url) as client:
        await client.validate_job(document_format=PAGE_LIST)
        job = await client.create_job(job_name="two-step", attributes=[Attribute("copies", 2)])
        assert "job-incoming" in job.reasons
        await client.send_document(job.job_id, PAGES, document_format=PAGE_LIST)
        done = await client.wait_for_job(job.job_id, poll=0.01)
        assert done.impressions_completed == 12  # two copies of six pages


async def test_status_reports_state_reasons_and_queue():
    async with SimIppPrinter(speed=FAST) as sim, IppPrinter(sim.url) as client:
        sim.inject(Fault.MEDIA_EMPTY)
        await client.print_job(PAGES, document_format=PAGE_LIST)
        status = await client.status()
        assert status.state == PrinterState.STOPPED
        assert status.has_reason("media-empty") and status.queued_job_count == 1
        assert status.up_time >= 1 and status.accepting_jobs


async def test_busy_answers_are_retried_with_backoff():
    async with SimIppPrinter(speed=FAST) as sim, IppPrinter(sim.url, busy_backoff=0.01) as client:
        sim.inject(Fault.BUSY, count=3)
        job = await client.print_job(PAGES, document_format=PAGE_LIST)
        assert client.busy_retried == 3
        assert (await client.wait_for_job(job.job_id, poll=0.01)).state == JobState.COMPLETED


async def test_a_printer_busy_for_longer_than_the_retries_is_a_busy_error():
    async with SimIppPrinter(speed=FAST) as sim, IppPrinter(sim.url, busy_retries=2, busy_backoff=0.01) as client:
        sim.inject(Fault.BUSY)
        with pytest.raises(IppBusyError) as err:
            await client.print_job(PAGES, document_format=PAGE_LIST)
        assert err.value.status == Status.BUSY and client.busy_retried == 2
        assert "server-error-busy" in str(err.value) and sim.url in str(err.value)


async def test_status_errors_are_typed_and_carry_the_status_code():
    async with SimIppPrinter(speed=FAST) as sim, IppPrinter(sim.url) as client:
        with pytest.raises(IppNotFoundError) as err:
            await client.get_job_attributes(4242)
        assert err.value.status == 0x0406
        job = await client.print_job(PAGES, document_format=PAGE_LIST)
        await client.wait_for_job(job.job_id, poll=0.01)
        with pytest.raises(IppNotPossibleError):
            await client.cancel_job(job.job_id)
        with pytest.raises(IppFormatError) as err:
            await client.print_job(b"GIF89a", document_format="image/gif")
        assert err.value.status == 0x040A and isinstance(err.value, DeviceError)


async def test_one_keep_alive_connection_carries_many_requests():
    async with SimIppPrinter(speed=FAST) as sim, IppPrinter(sim.url) as client:
        for _ in range(20):
            await client.status()
        assert sim.connections_accepted == 1


async def test_timeout_when_the_printer_does_not_answer_and_recovery_after():
    # the bound is what the silence costs; the answer once it is back must come within it on a busy machine
    async with SimIppPrinter(speed=FAST) as sim, IppPrinter(sim.url, timeout=1.0) as client:
        sim.inject(Fault.OFFLINE)
        with pytest.raises(DeviceTimeoutError, match="no IPP answer"):
            await client.status()
        sim.clear(Fault.OFFLINE)
        assert (await client.status()).state == PrinterState.IDLE


async def test_connection_refused_is_a_device_error():
    async with SimIppPrinter() as sim:
        url = sim.url
    async with IppPrinter(url, timeout=2) as client:
        with pytest.raises(DeviceError, match="connection"):
            await client.status()


# --- transport failures from raw servers ------------------------------------------------------------


def _ok_response(request_id: int = 1) -> bytes:
    msg = IppMessage((2, 0), 0, request_id)
    op = msg.add_group(Tag.OPERATION)
    op.add("attributes-charset", "utf-8", Tag.CHARSET)
    op.add("attributes-natural-language", "en", Tag.LANGUAGE)
    msg.add_group(Tag.PRINTER).add("printer-state", 3, Tag.ENUM)
    return encode(msg)


class RawServer:
    """Answers each HTTP request with the next canned reply, then behaves as told."""

    def __init__(self, replies: list[bytes], close_after_each: bool = False) -> None:
        self.replies = list(replies)
        self.close_after_each = close_after_each
        self.connections = 0
        self.requests = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while self.replies:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
                await reader.readexactly(length)
                self.requests += 1
                reply = self.replies.pop(0)
                if not reply:
                    break  # read the request, close without answering
                writer.write(reply)
                await writer.drain()
                if self.close_after_each:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"ipp://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/ipp/print"

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for w in self._writers:
            w.close()
        await self._server.wait_closed()
        await asyncio.sleep(0)


def http(body: bytes, extra: str = "", status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Type: application/ipp\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def chunked(body: bytes) -> bytes:
    half = len(body) // 2
    chunks = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in (body[:half], body[half:]))
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


async def test_a_keep_alive_connection_closed_by_the_printer_is_reopened():
    async with RawServer([http(_ok_response(1)), http(_ok_response(2))], close_after_each=True) as url:
        async with IppPrinter(url, timeout=2) as client:
            assert (await client.status()).state == PrinterState.IDLE
            await asyncio.sleep(0.05)
            assert (await client.status()).state == PrinterState.IDLE


async def test_chunked_and_continue_responses_are_read():
    reply = b"HTTP/1.1 100 Continue\r\n\r\n" + chunked(_ok_response())
    async with RawServer([reply]) as url, IppPrinter(url, timeout=2) as client:
        assert (await client.status()).state == PrinterState.IDLE


@pytest.mark.parametrize("reply, offset", [
    (http(b"\x02\x00\x00\x00\x00\x00\x00\x01\x01\x21\x00\x01x\x00\x02\x00\x00\x03"), 15),
    (http(_ok_response()[:-4]), None),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", 5),
    (b"SMTP ready\r\n\r\n", 0),
])
async def test_a_malformed_answer_is_a_wire_protocol_error(reply: bytes, offset: int | None):
    async with RawServer([reply]) as url, IppPrinter(url, timeout=2) as client:
        with pytest.raises(WireProtocolError) as err:
            await client.status()
        if offset is not None:
            assert err.value.offset == offset


async def test_an_http_error_status_is_an_http_error():
    async with RawServer([http(b"", status="404 Not Found")]) as url, IppPrinter(url, timeout=2) as client:
        with pytest.raises(IppHttpError) as err:
            await client.status()
        assert err.value.http_status == 404


def test_only_ipp_urls_open():
    with pytest.raises(ValueError, match="ipp://"):
        IppPrinter("snmp://127.0.0.1:161")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
async def test_ipps_over_tls(tmp_path: Path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    async with SimIppPrinter(speed=FAST, ssl_context=server_ctx) as sim:
        assert sim.url.startswith("ipps://")
        async with IppPrinter(sim.url, ssl_context=client_ctx, timeout=5) as client:
            job = await client.print_job(PAGES, document_format=PAGE_LIST)
            assert (await client.wait_for_job(job.job_id, poll=0.01)).state == JobState.COMPLETED
            attrs = await client.get_printer_attributes(["uri-security-supported"])
            assert attrs["uri-security-supported"].value == "tls"
        async with IppPrinter(sim.url, timeout=5) as untrusting:  # the system CAs do not know this printer
            with pytest.raises(DeviceError):
                await untrusting.status()


@pytest.mark.parametrize("hook", [lambda b: b[:len(b) // 2], lambda b: b[:9] + b"\x00" + b[10:]],
                         ids=["truncated", "reserved-tag"])
async def test_an_answer_garbled_on_the_wire_is_a_wire_protocol_error_and_the_next_is_fine(hook):
    async with SimIppPrinter(speed=FAST) as sim, IppPrinter(sim.url) as client:
        sim.wire_hook = hook
        with pytest.raises(WireProtocolError) as err:
            await client.status()
        assert err.value.offset is not None
        sim.wire_hook = None
        assert (await client.status()).state == PrinterState.IDLE


async def test_a_job_submission_is_not_sent_twice_when_the_printer_drops_the_connection():
    server = RawServer([http(_ok_response(1)), b"", http(_ok_response(3))])
    async with server as url, IppPrinter(url, timeout=2) as client:
        await client.status()
        with pytest.raises(DeviceError, match="without answering"):
            await client.print_job(PAGES, document_format=PAGE_LIST)
        assert server.requests == 2


async def test_a_status_poll_is_sent_again_when_the_printer_drops_the_connection():
    server = RawServer([http(_ok_response(1)), b"", http(_ok_response(3))])
    async with server as url, IppPrinter(url, timeout=2) as client:
        await client.status()
        assert (await client.status()).state == PrinterState.IDLE
        assert server.requests == 3 and server.connections == 2


async def test_supply_levels_follow_the_toner():
    async with SimIppPrinter(speed=FAST) as sim, IppPrinter(sim.url) as client:
        sim.inject(Fault.TONER_LOW)
        status = await client.status()
    level = sim.model.toner_low_percent
    assert status.attributes["marker-levels"].value == int(level)
    assert f"level={int(level)};".encode() in status.attributes["printer-supply"].value


class HoldFirstConnection:
    """The first connection's request is never answered; later connections are answered at once."""

    def __init__(self) -> None:
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._release = asyncio.Event()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        self._writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
                await reader.readexactly(length)
                if first:
                    await self._release.wait()
                    break
                writer.write(http(_ok_response()))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"ipp://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/ipp/print"

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        self._server.close()
        for w in self._writers:
            w.close()
        await self._server.wait_closed()
        await asyncio.sleep(0)


async def test_a_status_poll_does_not_wait_behind_a_stuck_upload():
    # the bound is what the stuck upload costs; the poll's answer on the second connection must come within it when busy
    async with HoldFirstConnection() as url, IppPrinter(url, timeout=1.5) as client:
        upload = asyncio.create_task(client.print_job(PAGES, document_format=PAGE_LIST), name="upload")
        await asyncio.sleep(0.05)
        assert (await client.status()).state == PrinterState.IDLE
        assert client.open_connections == 2
        with pytest.raises(DeviceTimeoutError):
            await upload


async def test_with_one_connection_a_poll_behind_a_stuck_upload_times_out():
    big = b"-\n" * 1_000_000  # 2 MB: the upload gets 2 s more than the poll's 0.3 s
    async with HoldFirstConnection() as url, IppPrinter(url, timeout=0.3, connections=1) as client:
        upload = asyncio.create_task(client.print_job(big, document_format=PAGE_LIST), name="upload")
        await asyncio.sleep(0.05)
        with pytest.raises(DeviceTimeoutError, match="connections busy"):
            await client.status()
        upload.cancel()
        with pytest.raises(asyncio.CancelledError):
            await upload
        assert client.open_connections == 0  # a cancelled exchange leaves no half-used connection
