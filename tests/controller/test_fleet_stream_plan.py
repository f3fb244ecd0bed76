"""Plans of print-ready stream files: `pmc stream split` cuts a real stream (AFP made by Apache FOP, PDF by
Ghostscript, PostScript and PCL) into stamped job files, `pmc fleet plan` writes their plan, and `pmc fleet print`
sends each file as it is over IPP to simulated printers, one of which jams and stays jammed: the rest of its job
is cut from its own file and printed on the other. The printers read the stamps off the documents they were sent."""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from controller.cli import build_parser
from controller.commands.fleet import import_plan, load_print_plan, plan_for_job_files
from controller.errors import ConfigError
from controller.ledger import Ledger
from controller.model import PieceState
from controller.streams.paged import plan_stamps
from controller.streams.registry import index_stream
from simulators.printer import Fault, SimIppPrinter
from tests.controller.test_fleet import write_plant

ROOT = Path(__file__).resolve().parents[2]
STREAMS = {
    "afp": ("afp/fop_plain.afp", "application/vnd.ibm.modcap"),
    "pdf": ("pdf/gs_pdfwrite.pdf", "application/pdf"),
    "ps": ("ps/statements_duplex.ps", "application/postscript"),
    "pcl": ("pcl/statements_duplex.pcl", "application/vnd.hp-pcl"),
}


def pmc(*argv: str):  # noqa: ANN201
    parsed = build_parser(list(argv)).parse_args(list(argv))
    return parsed.func(parsed)


def split_and_plan(tmp_path: Path, stream: Path, jobs: int = 3) -> Path:
    assert pmc("stream", "split", str(stream), "--jobs", str(jobs), "--sort", "postal", "--stamp",
               "--out", str(tmp_path / "jobs")) == 0
    return tmp_path / "plan.json"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", list(STREAMS))
async def test_job_files_split_from_a_stream_are_printed_as_they_are_and_a_jammed_jobs_rest_is_cut_from_its_file(
        tmp_path, capsys, kind):
    name, mime = STREAMS[kind]
    stream = ROOT / "fixtures" / "streams" / name
    plan_path = split_and_plan(tmp_path, stream)
    assert await pmc("fleet", "plan", str(stream), str(tmp_path / "jobs"), "--out", str(plan_path)) == 0
    plan = load_print_plan(plan_path)
    assert plan.document_format == mime and all(not Path(j.file).is_absolute() for j in plan.print_jobs)
    source = index_stream(stream)
    pieces, jobs = plan.model()
    assert sorted(p.piece_id for p in pieces) == sorted(p.piece_id for p in source.pieces)
    want = Counter(s.control_code for s in plan_stamps(source).values())
    capsys.readouterr()
    async with contextlib.AsyncExitStack() as stack:
        sims = [await stack.enter_async_context(SimIppPrinter(name=f"lp-{i + 1}", speed=400, snmp=True))
                for i in range(2)]
        sims[0].schedule(Fault.MEDIA_JAM, at_impression=3)  # mid its first job; it stays jammed
        plant = write_plant(tmp_path / "plant.toml", sims, duplex=True)
        ledger_path = tmp_path / "ledger.sqlite"
        async with Ledger(ledger_path) as ledger:
            await import_plan(ledger, plan, source=str(plan_path))
        code = await pmc("fleet", "print", str(plant), str(plan_path), "--ledger", str(ledger_path),
                         "--grace", "0.3", "--poll", "0.02", "--io-timeout", "1")
        out = capsys.readouterr().out
        sent = [(j.name.split(" ")[0], j.document_format) for s in sims for j in s.state.jobs.values()]
        stacks = Counter(sheet.control_code for s in sims for sheet in s.state.output)
        first_on_lp1 = min(sims[0].state.jobs.values(), key=lambda j: j.job_id)
    assert code == 0, out
    async with Ledger(ledger_path) as ledger:
        assert await ledger.verify() == []
        assert await ledger.counts_by_state(plan.run) == {plan.run: {PieceState.PRINTED: len(pieces)}}
    # every job went as its stream format; the jammed one's rest went to lp-2 as a file cut from it
    assert {fmt for _, fmt in sent} == {mime}
    cut = first_on_lp1.name.split(" ")[0]
    assert f"failover {cut} off lp-1" in out and any(n == f"{cut}~1" for n, _ in sent), out
    # the sheets the printers read off the documents: every planned sheet, each once, plus the delivered sheets
    # of the piece cut by the jam (named as spoils), and nothing else
    named = sum(int(m.group(1)) for m in re.finditer(r"spoiled (\d+) sheets on \S+ \(\S+, piece \S+\)", out))
    assert set(stacks) == set(want) and sum(stacks.values()) == sum(want.values()) + named, out
    assert all(n == 1 for c, n in stacks.items()) or named


def test_a_plan_names_its_job_files_relative_to_itself_and_refuses_files_that_do_not_fit_the_stream(tmp_path):
    pdf = ROOT / "fixtures" / "streams" / "pdf" / "gs_pdfwrite.pdf"
    split_and_plan(tmp_path, pdf, jobs=2)
    (tmp_path / "plans").mkdir()
    plan, left_out = plan_for_job_files(pdf, [tmp_path / "jobs" / "job-002.pdf"], tmp_path / "plans" / "p.json")
    assert [j.file for j in plan.print_jobs] == ["../jobs/job-002.pdf"] and plan.run == "gs_pdfwrite"
    assert (tmp_path / "plans" / plan.source.file).resolve() == pdf.resolve() and plan.source.stamped
    assert len(left_out) == 6 and len(plan.pieces) == 6  # job-001's pieces are left out, and named
    # a job file of another stream: its pieces are not the stream's
    ps = ROOT / "fixtures" / "streams" / "ps" / "statements_duplex.ps"
    with pytest.raises(ConfigError, match="a pdf file, the stream .* is ps"):
        plan_for_job_files(ps, [tmp_path / "jobs" / "job-001.pdf"], tmp_path / "p.json")
    # the same piece in two job files
    again = tmp_path / "again.pdf"
    again.write_bytes((tmp_path / "jobs" / "job-001.pdf").read_bytes())
    with pytest.raises(ConfigError, match="is in job-001.pdf too"):
        plan_for_job_files(pdf, [tmp_path / "jobs" / "job-001.pdf", again], tmp_path / "p.json")
    # the job of the same name twice
    with pytest.raises(ConfigError, match="print job name 'job-001' is taken"):
        plan_for_job_files(pdf, [tmp_path / "jobs" / "job-001.pdf"] * 2, tmp_path / "p.json")
    # a page-list plan names no files; a stream-format plan names one for every job
    raw = json.loads(plan.model_dump_json())
    for fmt, drop in (("application/vnd.pmc.pages", False), ("application/pdf", True)):
        bad = {**raw, "document_format": fmt,
               "print_jobs": [{k: v for k, v in j.items() if not (drop and k == "file")} for j in raw["print_jobs"]]}
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match="names a file|names no file"):
            load_print_plan(tmp_path / "bad.json")


@pytest.mark.timeout(120)
async def test_a_stream_plans_run_killed_mid_job_and_its_printer_restarted_is_resumed_from_the_source_stream(tmp_path):
    """`pmc fleet print` of a plan of PDF job files is SIGKILLed mid-job; lp-1 then loses its power and its job
    table. `--resume` knows lp-1 took the job (the ledger recorded it), counts from lp-1's page counter what it
    made, cuts the pieces not marked printed from the source stream (stamped alike) and names every sheet printed
    twice."""
    from tests.controller.test_fleet_resume import kill, printed_in_ledger, resume, start_pmc, until

    stream = ROOT / "fixtures" / "streams" / "pdf" / "gs_pdfwrite.pdf"
    plan_path = split_and_plan(tmp_path, stream, jobs=2)
    assert await pmc("fleet", "plan", str(stream), str(tmp_path / "jobs"), "--out", str(plan_path)) == 0
    plan = load_print_plan(plan_path)
    pieces, _ = plan.model()
    want = Counter(s.control_code for s in plan_stamps(index_stream(stream)).values())
    async with contextlib.AsyncExitStack() as stack:
        sims = [await stack.enter_async_context(SimIppPrinter(name=f"lp-{i + 1}", speed=10, snmp=True))
                for i in range(2)]
        lp1 = sims[0]
        plant = write_plant(tmp_path / "plant.toml", sims)
        ledger_path = tmp_path / "ledger.sqlite"
        async with Ledger(ledger_path) as ledger:
            await import_plan(ledger, plan, source=str(plan_path))
        args = [str(plant), str(plan_path), "--ledger", str(ledger_path)]
        proc = await start_pmc(*args, "--grace", "5", "--poll", "0.02", "--io-timeout", "2")  # every printer answers
        try:
            await until(lambda: (printed_in_ledger(ledger_path) > 0 and any(
                not j.state.is_final and j.impressions_completed * 2 >= j.impressions
                for j in lp1.state.jobs.values())) or proc.returncode is not None)
        finally:
            await kill(proc)
        lp1.inject(Fault.POWER_OFF)
        lp1.clear(Fault.POWER_OFF)
        made = lp1.state.life_impressions
        code, out = await resume(args)
        stacks = Counter(sheet.control_code for s in sims for sheet in s.state.output)
        cut_from_stream = [j for s in sims for j in s.state.jobs.values() if "~" in j.name]
    async with Ledger(ledger_path) as ledger:
        assert await ledger.verify() == []
        assert await ledger.counts_by_state(plan.run) == {plan.run: {PieceState.PRINTED: len(pieces)}}
    assert cut_from_stream and all(j.document_format == "application/pdf" for j in cut_from_stream), out
    assert "resumed: job-00" in out and " on lp-1: lp-1 lost job 1 (a restart?)" in out, out
    named = sum(int(m.group(1)) for m in re.finditer(r"spoiled (\d+) sheets on \S+ \(\S+, piece \S+\): .*duplicate",
                                                     out))
    assert set(stacks) == set(want) and sum(stacks.values()) == sum(want.values()) + named, out
    (lost,) = [line for line in out.splitlines() if line.startswith("  reconcile ") and " on lp-1: " in line
               and "IPP lost (restart)" in line]
    assert f"counter +{made}," in lost and lost.endswith(": balanced"), out
    assert code == (1 if named else 0), out
