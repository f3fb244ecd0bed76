"""Fuzz the PCL reader: truncation and byte flips give a StreamError with an offset or page, or a whole index."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from controller.streams import pcl
from tests.controller.streams.fuzzkit import check_damaged, damaged
from tests.controller.streams.streamkit import STREAMS, sample_sidecar

SOURCES = {name: (STREAMS / "pcl" / name).read_bytes()
           for name in ("statements.pcl", "statements_duplex.pcl", "statements_pxl.pcl")}


def _run(data: bytes, **kwargs) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.pcl"
        path.write_bytes(data)
        check_damaged(pcl.READER, path, **kwargs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(SOURCES["statements.pcl"]))
def test_damaged_pcl(data):
    _run(data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(SOURCES["statements_duplex.pcl"]))
def test_damaged_duplex_pcl(data):
    _run(data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(SOURCES["statements_pxl.pcl"]))
def test_damaged_pcl_xl(data):
    _run(data, sidecar=sample_sidecar())


def test_every_truncation_is_an_error(tmp_path):
    data = SOURCES["statements.pcl"]
    path = tmp_path / "cut.pcl"
    for cut in range(0, len(data) - 1, len(data) // 60):
        path.write_bytes(data[:cut])
        assert check_damaged(pcl.READER, path) is None, f"a file cut at byte {cut} was accepted"
