"""`pmc ledger import PLAN.json`: a plan's pieces recorded as sorted, all or nothing, so that `pmc fleet print`
prints them; a second import writes nothing; a ledger that disagrees with the plan is left as it was."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from controller.cli import build_parser, main
from controller.commands.fleet import write_print_plan
from controller.ledger import Ledger
from controller.model import PieceEvent, PieceEventKind, PieceState
from simulators.printer import SimIppPrinter
from tests.controller.test_fleet import RUN, run_of, write_plant


def pmc(*argv: str):  # noqa: ANN201
    parsed = build_parser(list(argv)).parse_args(list(argv))
    return parsed.func(parsed)


def a_plan(tmp_path: Path, pieces_n: int = 6, jobs_n: int = 2) -> Path:
    pieces, jobs = run_of(pieces_n, jobs_n)
    path = tmp_path / "plan.json"
    write_print_plan(path, RUN, pieces, jobs)
    return path


def ledger_rows(path: Path) -> tuple[int, dict[str, dict[PieceState, int]]]:
    async def read():
        async with Ledger(path) as ledger:
            assert await ledger.verify() == []
            return await ledger.event_count(), await ledger.counts_by_state()

    return asyncio.run(read())


def record(path: Path, events: list[PieceEvent]) -> None:
    async def write():
        async with Ledger(path) as ledger:
            await ledger.append_many(events, batch=0)

    asyncio.run(write())


@pytest.mark.timeout(60)
async def test_a_plan_imported_into_the_ledger_is_printed_by_fleet_print(tmp_path, capsys):
    plan = a_plan(tmp_path)
    ledger = tmp_path / "L.sqlite"
    async with contextlib.AsyncExitStack() as stack:
        sims = [await stack.enter_async_context(SimIppPrinter(name=f"lp-{i + 1}", speed=400, snmp=True))
                for i in range(2)]
        plant = write_plant(tmp_path / "plant.toml", sims)
        printing = ["fleet", "print", str(plant), str(plan), "--ledger", str(ledger),
                    "--grace", "5", "--poll", "0.02", "--io-timeout", "1"]
        assert await pmc(*printing) == 1  # nothing in the ledger yet: refused, naming the fix
        refused = capsys.readouterr().out
        assert f"pmc ledger import {plan} --ledger {ledger}" in refused
        assert not any(s.state.jobs for s in sims)

        assert await pmc("ledger", "import", str(plan), "--ledger", str(ledger)) == 0
        said = capsys.readouterr().out
        assert said.startswith(f"{ledger}: run {RUN}: 6 of the plan's 6 pieces recorded as sorted"), said
        assert await pmc(*printing) == 0
        out = capsys.readouterr().out
        sent = sum(len(s.state.jobs) for s in sims)
        sheets = sum(len(s.state.output) for s in sims)
    pieces, _ = run_of(6, 2)
    assert sent >= 2 and sheets == sum(p.sheets for p in pieces), out
    async with Ledger(ledger) as opened:
        assert await opened.verify() == []
        assert await opened.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: 6}}
        history = await opened.history(pieces[0].piece_id)
    assert [e.kind for e in history[:3]] == [PieceEventKind.INDEXED, PieceEventKind.SORTED, PieceEventKind.SPOOLED]
    assert history[0].data == {"pages": pieces[0].pages, "sheets": pieces[0].sheets, "plan": str(plan)}


def test_importing_a_plan_again_writes_nothing_and_says_so(tmp_path, capsys):
    plan, ledger = a_plan(tmp_path), tmp_path / "L.sqlite"
    assert main(["ledger", "import", str(plan), "--ledger", str(ledger)]) == 0
    capsys.readouterr()
    before = ledger_rows(ledger)
    assert before == (12, {RUN: {PieceState.SORTED: 6}})
    assert main(["ledger", "import", str(plan), "--ledger", str(ledger)]) == 0
    assert "the plan's 6 pieces are already in the ledger (6 sorted), nothing written" in capsys.readouterr().out
    assert main(["ledger", "import", str(plan), "--ledger", str(ledger), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert (said["imported"], said["sorted"], said["events"], said["already"]) == (0, 0, 0, {"sorted": 6})
    assert ledger_rows(ledger) == before


def test_a_plan_partly_in_the_ledger_under_its_run_has_only_the_rest_recorded(tmp_path, capsys):
    plan, ledger = a_plan(tmp_path), tmp_path / "L.sqlite"
    pieces, _ = run_of(6, 2)
    record(ledger, [PieceEvent(PieceEventKind.INDEXED, p.piece_id, job_id=RUN) for p in pieces[:3]]
           + [PieceEvent(PieceEventKind.SORTED, pieces[0].piece_id)])
    assert main(["ledger", "import", str(plan), "--ledger", str(ledger), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert (said["imported"], said["sorted"], said["already"], said["events"]) == (3, 2, {"sorted": 1}, 8)
    assert ledger_rows(ledger) == (4 + 8, {RUN: {PieceState.SORTED: 6}})


@pytest.mark.parametrize("conflict", ["another run", "a begun run"])
def test_a_ledger_that_disagrees_with_the_plan_makes_the_import_write_nothing(tmp_path, capsys, conflict):
    plan, ledger = a_plan(tmp_path), tmp_path / "L.sqlite"
    pieces, _ = run_of(6, 2)
    last = pieces[-1].piece_id
    if conflict == "another run":
        record(ledger, [PieceEvent(PieceEventKind.INDEXED, last, job_id="OTHER")])
    else:  # the plan's first piece already went to a printer; the others are not in the ledger
        first = pieces[0].piece_id
        record(ledger, [PieceEvent(PieceEventKind.INDEXED, first, job_id=RUN),
                        PieceEvent(PieceEventKind.SORTED, first),
                        PieceEvent(PieceEventKind.SPOOLED, first, device="lp-1")])
    before = ledger_rows(ledger)
    assert main(["ledger", "import", str(plan), "--ledger", str(ledger)]) == 1
    err = capsys.readouterr().err
    if conflict == "another run":
        assert f"1 pieces of the plan are in the ledger under another run than the plan's {RUN}" in err
        assert f"{last} (OTHER, indexed)" in err and "nothing imported" in err
    else:
        assert f"run {RUN} was begun (1 spooled)" in err and "5 not in the ledger" in err
        assert "nothing imported" in err and "--resume" in err
    assert ledger_rows(ledger) == before


@pytest.mark.parametrize("text, says", [
    ('{"run": "R", "pieces": [', "not a print plan"),
    ('{"run": "R", "pieces": []}', "not a print plan: print_jobs: Field required"),
    ('{"run": "R", "pieces": [{"piece_id": "a", "sequence": 0, "pages": 1, "sheets": 1}],'
     ' "print_jobs": [{"print_job_id": "pj-1", "piece_ids": ["a", "b"]}]}', "names pieces the plan does not hold"),
    ('{"run": "R", "pieces": [{"piece_id": "a", "sequence": 0, "pages": 1, "sheets": 1},'
     ' {"piece_id": "a", "sequence": 1, "pages": 1, "sheets": 1}],'
     ' "print_jobs": [{"print_job_id": "pj-1", "piece_ids": ["a"]}]}', "piece a is listed more than once"),
])
def test_a_malformed_plan_is_an_error_with_exit_status_1_and_no_ledger_is_made(tmp_path, capsys, text, says):
    plan, ledger = tmp_path / "plan.json", tmp_path / "L.sqlite"
    plan.write_text(text)
    assert main(["ledger", "import", str(plan), "--ledger", str(ledger)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pmc: ") and says in err, err
    assert not ledger.exists()


def test_a_ledger_that_cannot_be_opened_is_an_error_with_exit_status_1(tmp_path, capsys):
    plan = a_plan(tmp_path)
    not_a_ledger = tmp_path / "notes.txt"
    not_a_ledger.write_text("not a database, and long enough for SQLite to read its header as one" * 4)
    assert main(["ledger", "import", str(plan), "--ledger", str(not_a_ledger)]) == 1
    assert f"{not_a_ledger}: cannot open the ledger" in capsys.readouterr().err
    assert main(["ledger", "import", str(plan), "--ledger", str(tmp_path / "missing" / "L.sqlite")]) == 1
    assert "cannot open the ledger" in capsys.readouterr().err


@pytest.mark.parametrize("held", ["none", "indexed"])
def test_fleet_print_refuses_a_plan_whose_pieces_are_not_sorted_and_names_the_import(tmp_path, capsys, held):
    plan, ledger = a_plan(tmp_path), tmp_path / "L.sqlite"
    pieces, _ = run_of(6, 2)
    if held == "indexed":
        record(ledger, [PieceEvent(PieceEventKind.INDEXED, p.piece_id, job_id=RUN) for p in pieces])
    plant = tmp_path / "plant.toml"
    plant.write_text('[[printers]]\nname = "lp-1"\nipp_url = "ipp://127.0.0.1:9/ipp/print"\nspeed_ipm = 150\n')
    assert main(["fleet", "print", str(plant), str(plan), "--ledger", str(ledger), "--resume"]) == 1
    out = capsys.readouterr().out
    assert ("6 pieces of the plan are not in the ledger" if held == "none" else
            "6 pieces of the plan are indexed, not sorted") in out
    assert f"pmc ledger import {plan} --ledger {ledger}" in out
    assert main(["ledger", "import", str(plan), "--ledger", str(ledger)]) == 0
    assert ledger_rows(ledger)[1] == {RUN: {PieceState.SORTED: 6}}
