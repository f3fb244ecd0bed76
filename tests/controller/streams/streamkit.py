"""Helpers for the PDF/PostScript/PCL stream tests: the fixture generator's piece data, plans, stamps."""

from __future__ import annotations

import importlib.util
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from controller.streams.base import EngineeringPlan, PrintJobPlan, SheetStamp, StreamIndex

ROOT = Path(__file__).resolve().parents[3]
STREAMS = ROOT / "fixtures" / "streams"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_pdf_ps_pcl", STREAMS / "make_pdf_ps_pcl.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


generator = _load_generator()
SAMPLE = generator.sample_pieces(12)  # what make_all() wrote into every committed sample


@dataclass(frozen=True)
class SidecarEntry:
    piece_id: str
    first_page: int
    pages: int
    recipient: tuple[str, ...]
    postal_code: str | None
    inserts: frozenset[int] = frozenset()


def sample_sidecar() -> list[SidecarEntry]:
    out, page = [], 0
    for p in SAMPLE:
        out.append(SidecarEntry(p.piece_id, page, p.pages, p.recipient, p.postal_code))
        page += p.pages
    return out


def shuffled_plan(index: StreamIndex, *, seed: int, jobs: int = 2, stamps: bool = True) -> EngineeringPlan:
    from drivers.controlcode import ControlCode, encode, piece_token
    from mailsort.imb import encode_imb

    order = [p.piece_id for p in index.pieces]
    random.Random(seed).shuffle(order)
    cut = [round(len(order) * k / jobs) for k in range(jobs + 1)]
    plan_jobs = tuple(PrintJobPlan(f"job-{k + 1:03d}", tuple(order[cut[k]:cut[k + 1]])) for k in range(jobs))
    stamp_map = {}
    if stamps:
        for p in index.pieces:
            routing = (p.postal_code or "")[:11] if (p.postal_code or "").isdigit() else ""
            if len(routing) not in (0, 5, 9, 11):
                routing = ""
            bars = encode_imb(f"00270123456{p.sequence:09d}", routing).bars
            for s in range(1, p.sheets + 1):
                code = encode(ControlCode("J1", piece_token(p.sequence), s, p.sheets))
                stamp_map[(p.piece_id, s)] = SheetStamp(p.piece_id, s, code, bars if s == 1 else None)
    return EngineeringPlan(jobs=plan_jobs, stamps=stamp_map)


def pieces_view(index: StreamIndex) -> list[tuple]:
    return [(p.piece_id, p.pages, p.sheets, p.plex, p.recipient, p.postal_code) for p in index.pieces]


def expected_after(index: StreamIndex, job_piece_ids: tuple[str, ...]) -> list[tuple]:
    by_id = {v[0]: v for v in pieces_view(index)}
    return [by_id[pid] for pid in job_piece_ids]


def render_pdf(path: Path, page: int, dpi: int, tmp_path: Path) -> np.ndarray:
    import cv2

    exe = shutil.which("pdftoppm")
    if exe is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    stem = tmp_path / f"render-{page}"
    subprocess.run([exe, "-r", str(dpi), "-gray", "-f", str(page), "-l", str(page), "-singlefile", str(path),
                    str(stem)], check=True, timeout=60)
    return cv2.imread(str(stem) + ".pgm", cv2.IMREAD_GRAYSCALE)


def read_imb_bars(image: np.ndarray, imb_left: float, imb_top: float, dpi: int) -> str:
    """Measure the bars in a rendered page: each dark column run is a bar, its extents give A/D/F/T."""
    scale = dpi / 72
    from controller.streams.pdf import IMB_GEOMETRY as g
    x0 = int((imb_left - 4) * scale)
    x1 = int((imb_left + 65 * g["pitch"] + 4) * scale)
    y0 = int((imb_top - 3) * scale)
    y1 = int((imb_top + g["full"] + 3) * scale)
    dark = image[y0:y1, x0:x1] < 128
    cols = dark.any(axis=0)
    runs, start = [], None
    for x, d in enumerate(np.append(cols, False)):
        if d and start is None:
            start = x
        elif not d and start is not None:
            runs.append((start, x))
            start = None
    tops, bottoms = [], []
    for a, b in runs:
        rows = np.nonzero(dark[:, a:b].any(axis=1))[0]
        tops.append(rows[0])
        bottoms.append(rows[-1])
    top, bottom = min(tops), max(bottoms)
    band = (bottom - top) * 0.2
    out = []
    for t, b in zip(tops, bottoms):
        up, down = t < top + band, b > bottom - band
        out.append("F" if up and down else "A" if up else "D" if down else "T")
    return "".join(out)


def render_ps(path: Path, dpi: int, tmp_path: Path) -> list[np.ndarray]:
    """Every page of a PostScript file, rendered by Ghostscript."""
    import cv2

    exe = shutil.which("gs")
    if exe is None:
        pytest.skip("Ghostscript is not installed")
    out = tmp_path / f"render-{path.stem}"
    out.mkdir()
    subprocess.run([exe, "-q", "-dBATCH", "-dNOPAUSE", "-dSAFER", "-sDEVICE=pgmraw", f"-r{dpi}",
                    f"-sOutputFile={out}/%03d.pgm", str(path)], check=True, timeout=60)
    return [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in sorted(out.glob("*.pgm"))]
