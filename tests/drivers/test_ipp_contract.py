"""The printer contract: what the fleet needs from any IPP printer, run against the simulator and, when
PMC_TEST_PRINTER_URL is set (ipp://host:631/ipp/print), against a real printer. Read-only apart from
Validate-Job: nothing here prints a page on real hardware."""

from __future__ import annotations

import contextlib
import os

import pytest

from drivers.ipp import IppNotFoundError, IppPrinter, Op, PrinterState
from simulators.printer import SimIppPrinter

NEEDED = {Op.PRINT_JOB, Op.VALIDATE_JOB, Op.CANCEL_JOB, Op.GET_JOB_ATTRIBUTES, Op.GET_JOBS, Op.GET_PRINTER_ATTRIBUTES}


@pytest.fixture(params=["simulator", "hardware"])
def open_printer(request):
    """Opens the printer inside the test, so the test's own task-leak check sees it closed."""
    url = os.environ.get("PMC_TEST_PRINTER_URL")
    if request.param == "hardware" and not url:
        pytest.skip("PMC_TEST_PRINTER_URL is not set: no real printer to run the contract against")

    @contextlib.asynccontextmanager
    async def opened():
        if request.param == "hardware":
            async with IppPrinter(url, timeout=10) as client:
                yield client
        else:
            async with SimIppPrinter(speed=20000) as sim, IppPrinter(sim.url) as client:
                yield client

    return opened


class TestPrinterContract:
    async def test_status_has_a_state_and_reasons(self, open_printer):
        async with open_printer() as printer:
            status = await printer.status()
        assert status.state in set(PrinterState)
        assert status.reasons
        assert status.up_time > 0

    async def test_it_supports_the_operations_the_fleet_uses(self, open_printer):
        async with open_printer() as printer:
            attrs = await printer.get_printer_attributes(["operations-supported", "document-format-supported"])
        assert NEEDED <= set(attrs["operations-supported"].values)
        assert "application/pdf" in attrs["document-format-supported"].values

    async def test_validate_job_accepts_pdf(self, open_printer):
        async with open_printer() as printer:
            await printer.validate_job(document_format="application/pdf", job_name="pmc contract")

    async def test_job_listing_and_an_unknown_job(self, open_printer):
        async with open_printer() as printer:
            assert isinstance(await printer.get_jobs(), list)
            with pytest.raises(IppNotFoundError):
                await printer.get_job_attributes(2**31 - 7)
