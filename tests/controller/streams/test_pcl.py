"""PCL streams: index by page ends and PJL markers; reorder, split, stamp and re-index; PCL XL page counts."""

from __future__ import annotations

import re

import numpy as np
import pytest

from controller.errors import StreamError
from controller.model import Plex
from controller.streams import pcl
from controller.streams.base import EngineeringPlan, PrintJobPlan, StreamFormat
from tests.controller.streams.streamkit import (
    SAMPLE, STREAMS, expected_after, pieces_view, sample_sidecar, shuffled_plan,
)

PCL_DIR = STREAMS / "pcl"
TOTAL = sum(p.pages for p in SAMPLE)


def expected_sample(plex: Plex) -> list[tuple]:
    sheets = (lambda n: n) if plex is Plex.SIMPLEX else (lambda n: (n + 1) // 2)
    return [(p.piece_id, p.pages, sheets(p.pages), plex, p.recipient, p.postal_code) for p in SAMPLE]


@pytest.mark.parametrize("name,plex", [("statements.pcl", Plex.SIMPLEX), ("statements_duplex.pcl", Plex.DUPLEX)])
def test_index_gives_the_marked_pieces_and_plex(name, plex):
    index = pcl.READER.index(PCL_DIR / name, job_id="J1")
    assert index.format is StreamFormat.PCL
    assert index.pages == TOTAL
    assert pieces_view(index) == expected_sample(plex)


def test_form_feeds_inside_raster_data_are_not_page_ends():
    data = (PCL_DIR / "statements.pcl").read_bytes()
    assert data.count(b"\x0c") > TOTAL  # the raster rows hold 0x0c bytes too
    assert pcl.READER.index(PCL_DIR / "statements.pcl", job_id="J1").pages == TOTAL


def test_pcl_xl_pages_are_counted_and_pieces_come_from_a_sidecar():
    index = pcl.READER.index(PCL_DIR / "statements_pxl.pcl", job_id="J1", sidecar=sample_sidecar())
    assert index.pages == TOTAL
    assert [p.piece_id for p in index.pieces] == [p.piece_id for p in SAMPLE]


def test_sidecar_gives_pieces_when_the_stream_has_no_markers(tmp_path):
    data = (PCL_DIR / "statements.pcl").read_bytes()
    plain = re.sub(rb"\x1b%-12345X@PJL COMMENT[^\x1b]*?@PJL ENTER LANGUAGE=PCL\r\n", b"", data)
    src = tmp_path / "plain.pcl"
    src.write_bytes(plain)
    with pytest.raises(StreamError, match="no piece boundaries"):
        pcl.READER.index(src, job_id="J1")
    index = pcl.READER.index(src, job_id="J1", sidecar=sample_sidecar())
    assert pieces_view(index) == expected_sample(Plex.SIMPLEX)
    plan = shuffled_plan(index, seed=2, jobs=2)
    for job, f in zip(plan.jobs, pcl.WRITER.write(index, plan, tmp_path / "out")):
        again = pcl.READER.index(f, job_id="J1", sidecar=_sidecar_in(job.piece_ids))
        assert pieces_view(again) == expected_after(index, job.piece_ids)


def _sidecar_in(order):
    by_id = {e.piece_id: e for e in sample_sidecar()}
    page, out = 0, []
    for pid in order:
        e = by_id[pid]
        out.append(type(e)(pid, page, e.pages, e.recipient, e.postal_code))
        page += e.pages
    return out


def test_truncated_job_is_an_error_at_the_end(tmp_path):
    data = (PCL_DIR / "statements.pcl").read_bytes()
    cut = data[: data.rindex(b"\x1bE")]  # ends right after the last page's form feed: a clean-looking cut
    src = tmp_path / "cut.pcl"
    src.write_bytes(cut)
    with pytest.raises(StreamError) as err:
        pcl.READER.index(src, job_id="J1")
    assert err.value.offset == len(cut)


def test_raster_block_running_past_the_end_names_its_offset(tmp_path):
    data = (PCL_DIR / "statements.pcl").read_bytes()
    at = data.rindex(b"\x1b*b")
    src = tmp_path / "cut.pcl"
    src.write_bytes(data[: at + 6])
    with pytest.raises(StreamError) as err:
        pcl.READER.index(src, job_id="J1")
    assert err.value.offset == at


@pytest.mark.parametrize("name", ["statements.pcl", "statements_duplex.pcl"])
def test_reorder_split_stamp_and_reindex_gives_the_same_pieces_in_the_new_order(name, tmp_path):
    index = pcl.READER.index(PCL_DIR / name, job_id="J1")
    plan = shuffled_plan(index, seed=13, jobs=3)
    files = pcl.WRITER.write(index, plan, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in files)
    for job, f in zip(plan.jobs, files):
        again = pcl.READER.index(f, job_id="J1")
        assert pieces_view(again) == expected_after(index, job.piece_ids)
        twins = pcl.read_page_twins(f)
        assert [t["ControlCode"] for t in twins if t] == [
            plan.stamps[(p.piece_id, s)].control_code for p in again.pieces for s in range(1, p.sheets + 1)]
        data = f.read_bytes()
        assert data.startswith(b"\x1b%-12345X@PJL JOB") and data.endswith(b"@PJL EOJ\r\n\x1b%-12345X")


def _raster_images(data: bytes) -> list[np.ndarray]:
    """The uncompressed raster graphics of a PCL page, as 0/255 images (an independent, minimal decoder)."""
    images = []
    for block in re.finditer(rb"\x1b\*r1A(.*?)\x1b\*rC", data, flags=re.S):
        rows, body, pos = [], block.group(1), 0
        for m in re.finditer(rb"\x1b\*b(\d+)W", body):
            if m.start() < pos:
                continue
            n = int(m.group(1))
            rows.append(np.unpackbits(np.frombuffer(body[m.end():m.end() + n], dtype=np.uint8)))
            pos = m.end() + n
        width = max(len(r) for r in rows)
        bits = np.array([np.pad(r, (0, width - len(r))) for r in rows])
        images.append(np.where(bits == 1, 0, 255).astype(np.uint8))
    return images


def _rules(data: bytes) -> list[tuple[int, int, int, int]]:
    return [tuple(int(g) for g in m.groups())
            for m in re.finditer(rb"\x1b&a(\d+)h(\d+)V\x1b\*c(\d+)h(\d+)v0P", data)]


def test_stamped_page_carries_a_readable_datamatrix_raster_and_the_imb_rules(tmp_path):
    import zxingcpp

    index = pcl.READER.index(PCL_DIR / "statements.pcl", job_id="J1")
    stamped = shuffled_plan(index, seed=6, jobs=1)
    pid = index.pieces[4].piece_id
    rest = tuple(p.piece_id for p in index.pieces if p.piece_id != pid)
    plan = EngineeringPlan(jobs=(PrintJobPlan("one", (pid,)), PrintJobPlan("rest", rest)), stamps=stamped.stamps)
    out, _ = pcl.WRITER.write(index, plan, tmp_path)
    data = out.read_bytes()
    first_page = data[: data.index(b"\x0c\x1b") + 1] if b"\x0c\x1b" in data else data
    (image,) = _raster_images(first_page)
    reads = [r.text for r in zxingcpp.read_barcodes(np.pad(image, 16, constant_values=255))]
    assert reads == [plan.stamps[(pid, 1)].control_code]
    rules = _rules(first_page)
    assert len(rules) == 65
    tops = [t for _, t, _, _ in rules]
    bottoms = [t + h for _, t, _, h in rules]
    top, bottom = min(tops), max(bottoms)
    bars = "".join("F" if t == top and b == bottom else "A" if t == top else "D" if b == bottom else "T"
                   for t, b in zip(tops, bottoms))
    assert bars == plan.stamps[(pid, 1)].imb_bars


def test_lenient_import_quarantines_a_piece_without_postal_code(tmp_path):
    data = (PCL_DIR / "statements.pcl").read_bytes()
    victim = SAMPLE[5]
    src = tmp_path / "nopostal.pcl"
    src.write_bytes(data.replace(f"PMC-Piece {victim.piece_id} {victim.postal_code}".encode(),
                                 f"PMC-Piece {victim.piece_id}".encode()))
    index = pcl.READER.index(src, job_id="J1", lenient=True)
    assert [q.piece_id for q in index.quarantined] == [victim.piece_id]
    assert [p.piece_id for p in index.pieces] == [p.piece_id for p in SAMPLE if p is not victim]
    with pytest.raises(StreamError) as err:
        pcl.READER.index(src, job_id="J1")
    assert err.value.piece_id == victim.piece_id and err.value.offset is not None


def test_a_pjl_duplex_setting_makes_every_piece_duplex(tmp_path):
    data = (PCL_DIR / "statements.pcl").read_bytes()
    src = tmp_path / "pjl-duplex.pcl"
    src.write_bytes(data.replace(b'@PJL JOB NAME="pmc sample"\r\n', b'@PJL JOB NAME="pmc sample"\r\n@PJL SET DUPLEX=ON\r\n', 1))
    assert {p.plex for p in pcl.READER.index(src, job_id="J1").pieces} == {Plex.DUPLEX}
