"""Helpers for the PDF/PostScript/PCL stream tests: the fixture generator's piece data, plans, stamps."""

from __future__ import annotations

import importlib.util
import random
import sys
from dataclasses import dataclass
from pathlib import Path

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
