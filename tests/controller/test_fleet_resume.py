"""Resuming an interrupted fleet run, for real: `pmc fleet print` runs in a child process against simulated
printers that live in this test's process (on 127.0.0.1), so they go on printing when the child is
SIGKILLed; `pmc fleet print --resume`, in a new process, finishes the run from the ledger and the printers.
Every piece ends printed, every sheet is on an output stack once (plus once per duplicate the report
names), and the ledger verifies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest

from controller.commands.fleet import write_print_plan
from controller.ledger import Ledger
from controller.model import PieceState
from drivers.controlcode import ControlCode, encode, job_token, piece_token
from simulators.printer import Fault, SimIppPrinter

from tests.controller.test_fleet import RUN, open_ledger, run_of, write_plant

ROOT = Path(__file__).resolve().parents[2]
# --io-timeout bounds each wait for a printer that answers as well as for one that is silent: on a busy machine an answer
# later than 0.3 s made a printer that answers look silent (its page counter unread, its jobs moved off it)
FAST = ["--grace", "5", "--poll", "0.02", "--io-timeout", "2", "--orphan-timeout", "5"]


@contextlib.asynccontextmanager
async def print_room(tmp_path: Path, pieces_n: int = 24, jobs_n: int = 4, speed: float = 60):
    """Two simulated printers, a plant file naming them, a plan and a ledger holding its pieces as sorted."""
    pieces, jobs = run_of(pieces_n, jobs_n)
    async with contextlib.AsyncExitStack() as stack:
        sims = [await stack.enter_async_context(SimIppPrinter(name=f"lp-{i + 1}", speed=speed, snmp=True))
                for i in range(2)]
        plant = write_plant(tmp_path / "plant.toml", sims)
        plan = tmp_path / "plan.json"
        write_print_plan(plan, RUN, pieces, jobs)
        ledger = await open_ledger(tmp_path / "ledger.sqlite", pieces)
        await ledger.aclose()
        yield sims, pieces, jobs, [str(plant), str(plan), "--ledger", str(tmp_path / "ledger.sqlite")]


async def start_pmc(*args: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "controller.cli", "fleet", "print", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)


def printed_in_ledger(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM pieces WHERE state = 'printed'").fetchone()[0]
    except sqlite3.OperationalError:  # the writer holds it this instant
        return 0
    finally:
        con.close()


async def until(predicate, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


def jobs_on(sims: list[SimIppPrinter]):
    return [j for s in sims for j in s.state.jobs.values()]


def sheets_on_stacks(sims: list[SimIppPrinter]) -> Counter:
    return Counter(s.control_code for sim in sims for s in sim.state.output)


def planned_sheets(pieces) -> dict[str, str]:
    token = job_token(RUN)
    return {encode(ControlCode(token, piece_token(p.sequence), n, p.sheets)): p.piece_id
            for p in pieces for n in range(1, p.sheets + 1)}


async def kill(proc: asyncio.subprocess.Process, *, may_have_ended: bool = False) -> bool:
    """SIGKILL the controller; whether the kill is what ended it (with `may_have_ended`, a controller that
    finished on its own just before, and was not reaped yet, is no failure: the caller is told)."""
    try:
        proc.send_signal(signal.SIGKILL)
    except ProcessLookupError:  # it ended and asyncio reaped it before the signal: nothing left to kill
        pass
    _, err = await proc.communicate()
    killed = proc.returncode == -signal.SIGKILL
    assert killed or may_have_ended, f"the controller ended before it was killed: {err.decode()[-2000:]}"
    if not killed:
        assert proc.returncode in (0, 1), f"the controller failed: {err.decode()[-2000:]}"
    return killed


async def resume(args: list[str], paused: list[SimIppPrinter] = ()) -> tuple[int, str]:
    """Run `pmc fleet print --resume`. The `paused` printers had their door opened while the controller was
    down (a real job lasts minutes, a restart seconds: so their jobs are still there to follow); it is
    closed once the new controller has talked to them."""
    proc = await start_pmc(*args, "--resume", *FAST)
    start = [s.requests_answered for s in paused]

    async def close_doors() -> None:
        while any(s.requests_answered < n + 6 for s, n in zip(paused, start)):
            await asyncio.sleep(0.005)
        for s in paused:
            s.clear(Fault.DOOR_OPEN)

    out: list[bytes] = []
    err: list[bytes] = []

    async def read(stream: asyncio.StreamReader, into: list[bytes]) -> None:  # kept as it comes, for a hang's report
        while chunk := await stream.read(65536):
            into.append(chunk)

    try:
        async with asyncio.timeout(60), asyncio.TaskGroup() as tg:
            if paused:
                tg.create_task(close_doors(), name="operator[doors].close")
            tg.create_task(read(proc.stdout, out), name="pmc.resume.stdout")
            tg.create_task(read(proc.stderr, err), name="pmc.resume.stderr")
            tg.create_task(proc.wait(), name="pmc.resume")
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        rest, rest_err = await proc.communicate()
        said = (b"".join(out) + rest + b"".join(err) + rest_err).decode(errors="replace")
        raise AssertionError(f"the resumed controller did not finish within 60 s; it said:\n{said[-4000:]}") from None
    return proc.returncode, b"".join(out).decode() + b"".join(err).decode()


async def ledger_says(path: Path, pieces) -> tuple[list[str], dict]:
    async with Ledger(path) as ledger:
        return await ledger.verify(), await ledger.counts_by_state(RUN)


KILL_POINTS = {
    # both printers took their first job, nothing is finished
    "before-any-job-completes": lambda sims, ledger: (
        sum(1 for s in sims if s.state.jobs) == 2
        and all(j.impressions_completed >= 2 and not j.state.is_final for j in jobs_on(sims))),
    # the controller has marked pieces printed and a job is halfway
    "mid-job": lambda sims, ledger: printed_in_ledger(ledger) > 0 and any(
        not j.state.is_final and j.impressions_completed * 2 >= j.impressions for j in jobs_on(sims)),
    # a printer has just finished a job: the controller has not seen it yet, or has, and sends the next
    "between-jobs": lambda sims, ledger: any(j.state.is_final for j in jobs_on(sims)),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", list(KILL_POINTS))
async def test_a_run_killed_mid_way_is_finished_by_resume_with_every_sheet_printed_once(tmp_path, point):
    async with print_room(tmp_path) as (sims, pieces, jobs, args):
        ledger_path = tmp_path / "ledger.sqlite"
        proc = await start_pmc(*args, *FAST)
        try:
            await until(lambda: KILL_POINTS[point](sims, ledger_path) or proc.returncode is not None)
        finally:
            await kill(proc)
        was_printing = [j.name.split(" ")[0] for j in jobs_on(sims) if not j.state.is_final]  # the print job
        paused = [s for s in sims if any(not j.state.is_final for j in s.state.jobs.values())]
        for s in paused:
            s.inject(Fault.DOOR_OPEN)
        code, out = await resume(args, paused)
        stacks = sheets_on_stacks(sims)
        sent = len(jobs_on(sims))
    assert code == 0, out
    problems, counts = await ledger_says(ledger_path, pieces)
    assert problems == [] and counts == {RUN: {PieceState.PRINTED: len(pieces)}}
    want = planned_sheets(pieces)
    assert stacks == Counter(list(want)), "a sheet is missing or printed twice"
    assert "resumed:" in out and "ALERT" not in out
    assert sent <= len(jobs) + 2  # at most the jobs queued in the killed controller were sent again under new names
    for name in was_printing:  # a job still printing was followed, not sent again
        assert any(line.startswith(f"  resumed: {name} on ") and line.endswith("; tracked") for line in out.splitlines()), out
    if point != "between-jobs":
        assert was_printing


def submitted_in_ledger(path: Path, printer: str) -> int:
    """Jobs the ledger records as taken by `printer` (a SPOOLED event with data.submitted)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM events WHERE kind = 'spooled' AND device = ?"
                           " AND json_extract(data, '$.submitted') = 1", (printer,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def spooled_in_ledger(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM pieces WHERE state = 'spooled'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


LOST_AT = {
    # lp-1 took pj-1 (the ledger recorded it) and no piece of it is marked printed yet
    "just-sent": lambda sims, ledger: submitted_in_ledger(ledger, "lp-1") > 0 and printed_in_ledger(ledger) == 0,
    # pieces of pj-1 are marked printed and lp-1 is halfway through it
    "mid-job": lambda sims, ledger: printed_in_ledger(ledger) > 0 and any(
        not j.state.is_final and j.impressions_completed * 2 >= j.impressions for j in sims[0].state.jobs.values()),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", list(LOST_AT))
async def test_resume_counts_what_a_printer_printed_of_a_job_it_lost_while_the_controller_was_down(tmp_path, point):
    """The controller is killed, then lp-1 loses its power and its job table. The ledger recorded pj-1 reaching lp-1
    and the page counter then, so the resumed run knows it was sent, reads from lp-1's (non-volatile) counter how
    much of it lp-1 made, prints the pieces not marked printed again and names exactly the sheets printed twice;
    the lost job's reconciliation balances on the counter."""
    async with print_room(tmp_path, pieces_n=24, jobs_n=2, speed=40) as (sims, pieces, jobs, args):
        ledger_path = tmp_path / "ledger.sqlite"
        lp1 = sims[0]
        proc = await start_pmc(*args, *FAST)
        try:
            await until(lambda: LOST_AT[point](sims, ledger_path) or proc.returncode is not None)
        finally:
            await kill(proc)
        lp1.inject(Fault.POWER_OFF)
        lp1.clear(Fault.POWER_OFF)
        assert not lp1.state.jobs
        made = lp1.state.life_impressions
        code, out = await resume(args)
        stacks = sheets_on_stacks(sims)
    problems, counts = await ledger_says(ledger_path, pieces)
    assert problems == [] and counts == {RUN: {PieceState.PRINTED: len(pieces)}}
    assert "resumed: pj-1 on lp-1: lp-1 lost job 1 (a restart?)" in out, out
    extra = assert_every_extra_sheet_named(stacks, pieces, out)  # each sheet printed twice is named, no other
    (lost,) = [line for line in out.splitlines() if line.startswith("  reconcile pj-1 on lp-1:")]
    assert f"IPP lost (restart), counter +{made}," in lost and lost.endswith(": balanced"), out
    alerts = [line for line in out.splitlines() if "ALERT" in line]
    assert all("before it lost the job in a restart: pull the sheets of pieces" in a for a in alerts), out
    assert (code, len(alerts)) == ((1, 1) if extra else (0, 0)), out
    if point == "mid-job":
        assert extra


@pytest.mark.timeout(120)
async def test_a_job_whose_answer_was_lost_before_the_kill_and_then_lost_by_its_printer_is_counted(tmp_path):
    """lp-1 takes pj-1 but its answer is lost and lp-1 drops off the network, printing on; the controller is killed
    before it could ask lp-1 again, so the ledger holds only the record of pj-1 being sent (and lp-1's counter then).
    lp-1 then restarts, losing its job table. The resumed run reads from lp-1's counter that it made sheets of pj-1,
    prints every piece again and names those sheets as duplicates."""
    from tests.controller.test_fleet import lose_the_print_job_answer

    async with print_room(tmp_path, pieces_n=24, jobs_n=2, speed=40) as (sims, pieces, jobs, args):
        ledger_path = tmp_path / "ledger.sqlite"
        lp1 = sims[0]
        lp1.wire_hook = lose_the_print_job_answer(lp1, then=lambda: lp1.inject(Fault.OFFLINE))
        proc = await start_pmc(*args, *FAST)
        try:
            await until(lambda: any(j.impressions_completed >= 4 for j in lp1.state.jobs.values())
                        or proc.returncode is not None)
        finally:
            await kill(proc)
        assert submitted_in_ledger(ledger_path, "lp-1") == 0  # its answer never came
        lp1.inject(Fault.POWER_OFF)
        lp1.clear(Fault.POWER_OFF)
        lp1.clear(Fault.OFFLINE)
        made = lp1.state.life_impressions
        code, out = await resume(args)
        stacks = sheets_on_stacks(sims)
    problems, counts = await ledger_says(ledger_path, pieces)
    assert problems == [] and counts == {RUN: {PieceState.PRINTED: len(pieces)}}
    assert " on lp-1: lp-1 lost job (a restart?) after 0 pieces printed; its page counter moved " in out, out
    extra = assert_every_extra_sheet_named(stacks, pieces, out)
    assert extra and code == 1, out
    (lost,) = [line for line in out.splitlines() if line.startswith("  reconcile ") and "IPP lost (restart)" in line]
    assert f"counter +{made}," in lost and lost.endswith(": balanced"), out


@pytest.mark.timeout(120)
async def test_a_run_killed_after_routing_and_before_sending_is_resumed_without_an_alert(tmp_path):
    """Both printers answer every Print-Job busy: the controller routes all four jobs (SPOOLED) and none reaches a
    printer before it is killed. No printer holds a job of the run, and the ledger records none sent: the resumed
    run routes them again as never sent, with no alert."""
    async with print_room(tmp_path) as (sims, pieces, jobs, args):
        ledger_path = tmp_path / "ledger.sqlite"
        many = 10**6
        for s in sims:
            s.inject(Fault.BUSY, count=many)
        proc = await start_pmc(*args, *FAST)
        try:
            await until(lambda: (spooled_in_ledger(ledger_path) == len(pieces)
                                 and all(s.state.busy_left < many for s in sims)) or proc.returncode is not None)
        finally:
            await kill(proc)
        for s in sims:
            s.clear(Fault.BUSY)
        assert not jobs_on(sims)
        code, out = await resume(args)
        stacks = sheets_on_stacks(sims)
    assert code == 0 and "ALERT" not in out, out
    problems, counts = await ledger_says(ledger_path, pieces)
    assert problems == [] and counts == {RUN: {PieceState.PRINTED: len(pieces)}}
    assert stacks == Counter(list(planned_sheets(pieces)))
    # the two being sent (refused busy) by the counter that did not move, the two queued by the ledger
    never = [line for line in out.splitlines() if line.startswith("  resumed: ")
             and (": never sent;" in line or "has not moved since it was being sent: never printed;" in line)]
    assert len(never) == len(jobs), out
    assert all(r.endswith(": balanced") for r in out.splitlines() if r.startswith("  reconcile "))


async def test_printing_a_plan_whose_run_was_begun_is_refused_without_resume(tmp_path, capsys):
    from controller.cli import build_parser
    from controller.model import PieceEvent, PieceEventKind

    async with print_room(tmp_path, pieces_n=4, jobs_n=1) as (sims, pieces, jobs, args):
        async with Ledger(tmp_path / "ledger.sqlite") as ledger:
            await ledger.append(PieceEvent(PieceEventKind.SPOOLED, pieces[0].piece_id, device="lp-1",
                                           data={"print_job": "pj-1"}))
        parsed = build_parser().parse_args(["fleet", "print", *args])
        assert await parsed.func(parsed) == 1
        said = capsys.readouterr().out
        assert not any(s.state.jobs for s in sims)  # nothing was sent
    assert "this plan's run was begun (1 spooled)" in said and "--resume" in said


def respooled(path: Path) -> int:
    """Pieces the ledger shows spooled more than once (moved to another printer)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        # a routing, not the record of a submission (data: submitted)
        return len(con.execute("SELECT piece_id FROM events WHERE kind = 'spooled'"
                               " AND json_extract(data, '$.submitted') IS NULL GROUP BY piece_id"
                               " HAVING count(*) > 1").fetchall())
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def assert_every_extra_sheet_named(stacks: Counter, pieces, out: str, most: int = 2) -> int:
    """Each planned sheet on the stacks once or twice (up to `most` times); a piece's copies beyond the first are the
    sheets the report names."""
    import re

    want = planned_sheets(pieces)
    assert set(stacks) == set(want), "a sheet is missing, or one nobody planned was printed"
    assert all(1 <= n <= most for n in stacks.values())
    extra = Counter()
    for code, n in stacks.items():
        extra[want[code]] += n - 1
    extra = +extra
    named: Counter = Counter()
    for m in re.finditer(r"spoiled (\d+) sheets on \S+ \(\S+, piece (\S+)\): .*duplicate", out):
        named[m.group(2)] += int(m.group(1))
    assert extra == named, out
    return sum(extra.values())


@pytest.mark.timeout(120)
async def test_a_run_killed_after_a_failover_is_resumed_and_names_the_cut_jobs_sheets(tmp_path):
    """lp-1 jams mid-job and stays jammed; the controller moves the rest of its job to lp-2 and is killed. The
    resumed run finds the cut job cancelled on lp-1 and names what it delivered beyond its printed pieces."""
    async with print_room(tmp_path, pieces_n=24, jobs_n=2) as (sims, pieces, jobs, args):
        ledger_path = tmp_path / "ledger.sqlite"
        lp1 = sims[0]
        # q007 (two sheets) is cut: its first sheet delivered, then the jam (q000-q006 take 20 impressions)
        lp1.schedule(Fault.MEDIA_JAM, at_impression=22)
        proc = await start_pmc(*args, "--grace", "0.3", "--poll", "0.02", "--io-timeout", "2")
        try:
            await until(lambda: respooled(ledger_path) > 0)
        finally:
            await kill(proc)
        code, out = await resume(args)
        stacks = sheets_on_stacks(sims)
    problems, counts = await ledger_says(ledger_path, pieces)
    assert problems == [] and counts == {RUN: {PieceState.PRINTED: len(pieces)}}
    assert "resumed: pj-1 on lp-1: moved off before; job 1 canceled" in out, out
    extra = assert_every_extra_sheet_named(stacks, pieces, out)
    assert extra == 1 and code == 1, out  # q007's first sheet: on lp-1's stack, and printed again on lp-2


@pytest.mark.timeout(120)
async def test_a_printer_silent_at_resume_is_worked_around_and_its_late_sheets_named(tmp_path):
    """The controller is killed mid-job and lp-1's network drops: the resumed run cannot ask lp-1, routes its
    pieces to lp-2, and when lp-1 answers again names what it printed unheard (it printed on) as duplicates."""
    async with print_room(tmp_path, pieces_n=24, jobs_n=2) as (sims, pieces, jobs, args):
        ledger_path = tmp_path / "ledger.sqlite"
        lp1 = sims[0]
        proc = await start_pmc(*args, *FAST)
        try:
            await until(lambda: printed_in_ledger(ledger_path) > 0 and any(
                not j.state.is_final and j.impressions_completed * 2 >= j.impressions for j in lp1.state.jobs.values()))
        finally:
            await kill(proc)
        lp1.inject(Fault.OFFLINE)

        async def reconnect() -> None:
            await until(lambda: respooled(ledger_path) > 0)
            lp1.clear(Fault.OFFLINE)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(reconnect(), name="operator[lp-1].reconnect")
            resumed = tg.create_task(resume(args), name="pmc.resume")
        code, out = resumed.result()
        stacks = sheets_on_stacks(sims)
    problems, counts = await ledger_says(ledger_path, pieces)
    assert problems == [] and counts == {RUN: {PieceState.PRINTED: len(pieces)}}
    assert "resumed: pj-1 on lp-1: lp-1 does not answer" in out, out
    extra = assert_every_extra_sheet_named(stacks, pieces, out)
    assert extra and code == 1, out  # lp-1 printed on unheard: its sheets are duplicates to pull


MOVED_TO_LP2 = {
    # the rest of pj-1 is routed to lp-2 as pj-1~1 (sent or not)
    "routed": lambda sims, ledger: respooled(ledger) > 0,
    # lp-2 prints pj-1~1 (it goes on unheard while lp-2 is off the network)
    "printing": lambda sims, ledger: any(j.name.startswith("pj-1~1 ") and j.impressions_completed >= 2
                                         and not j.state.is_final for j in sims[1].state.jobs.values()),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", list(MOVED_TO_LP2))
async def test_a_printer_silent_at_resume_and_back_takes_the_work_moved_off_it(tmp_path, point):
    """lp-1 jams for good and the controller moves the rest of pj-1 to lp-2 (pj-1~1), then is killed. lp-2 does not
    answer when the resumed run asks for its jobs, and is back a second later: the resumed run routes lp-2's pieces
    again, and once lp-2 answers looks for its jobs there (naming what it printed unheard as duplicates) and prints
    the moved work on it, the only printer able to. It used to keep lp-2 excluded for that work for good: the run
    waited for the jammed lp-1 and never ended."""
    async with print_room(tmp_path, pieces_n=24, jobs_n=2) as (sims, pieces, jobs, args):
        ledger_path = tmp_path / "ledger.sqlite"
        lp1, lp2 = sims
        lp1.schedule(Fault.MEDIA_JAM, at_impression=22)  # q007 cut after its first sheet, as above
        proc = await start_pmc(*args, "--grace", "0.3", "--poll", "0.02", "--io-timeout", "2")
        try:
            await until(lambda: MOVED_TO_LP2[point](sims, ledger_path) or proc.returncode is not None)
        finally:
            await kill(proc)
        lp2.inject(Fault.OFFLINE)
        start = lp2.connections_accepted

        async def reconnect() -> None:
            # the resumed run's first poll, then its Get-Jobs: both unanswered; lp-2 is back a second after the second
            await until(lambda: lp2.connections_accepted >= start + 2)
            await asyncio.sleep(1.0)
            lp2.clear(Fault.OFFLINE)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(reconnect(), name="operator[lp-2].reconnect")
            resumed = tg.create_task(resume(args), name="pmc.resume")
        code, out = resumed.result()
        stacks = sheets_on_stacks(sims)
    assert "lp-2 does not answer; its jobs are looked for when it does" in out, out
    assert "resumed: pj-1~1 on lp-2: lp-2 does not answer" in out, out
    problems, counts = await ledger_says(ledger_path, pieces)
    assert problems == [] and counts == {RUN: {PieceState.PRINTED: len(pieces)}}
    # q007's first sheet on lp-1; and what lp-2 printed of pj-1~1 unheard: q007's first sheet a third time
    extra = assert_every_extra_sheet_named(stacks, pieces, out, most=3)
    assert extra >= 1 and code == 1, out
    assert "pj-1~2" in {j.name.split(" ")[0] for j in lp2.state.jobs.values()}, out  # the moved work printed on lp-2
    if point == "printing":  # pj-1~1 found on lp-2 once it answered, what it delivered beyond its printed pieces named
        assert any(line.startswith("  reconcile pj-1~1 on lp-2: ") and line.endswith(": balanced")
                   for line in out.splitlines()), out
        assert "of pj-1~1 after it was cut at impression 0 (found on resuming the run): pull the sheets" in out, out


@pytest.mark.timeout(60)
async def test_a_job_of_an_earlier_run_with_the_same_print_job_name_is_not_taken_for_the_one_routed(tmp_path):
    """The printers hold the finished jobs of an earlier run of the same plan (another ledger); a controller killed
    after routing pj-1 to lp-1, before sending it, is resumed: lp-1's old pj-1 is not taken for it."""
    from controller.fleet import PAGE_LIST_FORMAT, page_list_documents, print_run
    from controller.model import PieceEvent, PieceEventKind
    from tests.controller.test_fleet import printers

    pieces, jobs = run_of(8, 2)
    documents = page_list_documents({p.piece_id: p for p in pieces}, run=RUN)
    options = dict(document_format=PAGE_LIST_FORMAT, poll_s=0.02, io_timeout_s=2.0, run_timeout_s=30)  # both answer
    async with printers(2) as (sims, configs):
        earlier = await open_ledger(tmp_path / "earlier.sqlite", pieces)
        try:
            await print_run(configs, jobs, pieces, documents, earlier, **options)
        finally:
            await earlier.aclose()
        assert {j.name.split(" ")[0] for s in sims for j in s.state.jobs.values()} == {"pj-1", "pj-2"}
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)
        try:
            await ledger.append_many([PieceEvent(PieceEventKind.SPOOLED, pid, device="lp-1",
                                                 data={"print_job": "pj-1", "job_name": "pj-1 0badf00d"})
                                      for pid in jobs[0].piece_ids], batch=0)
            report = await print_run(configs, jobs, pieces, documents, ledger, resume=True, **options)
            assert await ledger.verify() == []
            assert await ledger.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: len(pieces)}}
        finally:
            await ledger.aclose()
        stacks = sheets_on_stacks(sims)
    assert stacks == Counter({code: 2 for code in planned_sheets(pieces)})  # each run printed every sheet once
    assert "pj-1 on lp-1: lp-1 holds no job named pj-1: never sent; 4 pieces routed again as pj-1~1" in [
        line.strip().removeprefix("resumed: ") for line in report.lines()]
    assert report.balanced


def test_a_reprint_is_resumed_from_where_it_was_queued_not_from_the_pieces_first_life():
    """A closed-loop reprint keeps its piece IDs: its pieces' history holds their first printing too. Resuming the
    reprint run looks only at what followed REPRINT_QUEUED."""
    from controller.fleet import _Run, _Work
    from controller.ledger import HistoryEntry
    from controller.model import PieceEventKind as K, PieceState as S

    pieces, jobs = run_of(4, 1)
    reprint = jobs[0].__class__("rp-1", RUN, jobs[0].piece_ids, jobs[0].sheets, jobs[0].impressions, jobs[0].plex)
    seq = iter(range(1, 1000))

    def entry(kind, frm, to, device=None, data=None):
        return HistoryEntry(next(seq), kind, frm, to, device, None, None, None, data, 0.0)

    histories = {}
    for i, p in enumerate(pieces):
        histories[p.piece_id] = [
            entry(K.INDEXED, None, S.INDEXED), entry(K.SORTED, S.INDEXED, S.SORTED),
            entry(K.SPOOLED, S.SORTED, S.SPOOLED, "lp-1", {"print_job": "pj-1", "job_name": "pj-1 aa"}),
            entry(K.PRINTED, S.SPOOLED, S.PRINTED, "lp-1", {"print_job": "pj-1", "ipp_job": 1}),
            entry(K.DIVERTED, S.PRINTED, S.DIVERTED), entry(K.REPRINT_QUEUED, S.DIVERTED, S.REPRINT_QUEUED),
            entry(K.SPOOLED, S.REPRINT_QUEUED, S.SPOOLED, "lp-2", {"print_job": "rp-1", "job_name": "rp-1 bb"}),
        ] + ([entry(K.PRINTED, S.SPOOLED, S.PRINTED, "lp-2", {"print_job": "rp-1", "ipp_job": 7})] if i == 0 else [])
    states = {p.piece_id: S.PRINTED if i == 0 else S.SPOOLED for i, p in enumerate(pieces)}
    run = _Run([], None, lambda job: b"", document_format="", grace_s=0, poll_s=0, io_timeout_s=0,  # type: ignore[arg-type]
               route_timeout_s=0, orphan_timeout_s=0)
    (placement,) = run.placements_of(_Work(reprint, tuple(pieces)), histories, states)
    assert (placement.device, placement.work.ipp_name, placement.prefix, placement.ipp_job) == ("lp-2", "rp-1 bb", 1, 7)
    assert [x.piece_id for x in placement.live] == [p.piece_id for p in pieces[1:]]


async def test_a_plan_whose_pieces_the_ledger_holds_under_another_job_is_refused(tmp_path, capsys):
    from controller.cli import build_parser
    from controller.model import PieceEvent, PieceEventKind

    pieces, jobs = run_of(4, 1)
    plant = tmp_path / "plant.toml"
    plant.write_text('[[printers]]\nname = "lp-1"\nipp_url = "ipp://127.0.0.1:9/ipp/print"\nspeed_ipm = 150\n')
    write_print_plan(tmp_path / "plan.json", RUN, pieces, jobs)
    async with Ledger(tmp_path / "l.sqlite") as ledger:
        await ledger.append_many([PieceEvent(PieceEventKind.INDEXED, p.piece_id, job_id="OTHER") for p in pieces])
        await ledger.append_many([PieceEvent(PieceEventKind.SORTED, p.piece_id) for p in pieces])
    argv = ["fleet", "print", str(plant), str(tmp_path / "plan.json"), "--ledger", str(tmp_path / "l.sqlite")]
    parsed = build_parser(argv).parse_args(argv)
    assert await parsed.func(parsed) == 1
    assert f"4 pieces of the plan are in the ledger under another job than the plan's run {RUN}" in capsys.readouterr().out


async def test_a_plan_with_pieces_the_ledger_does_not_hold_is_refused(tmp_path, capsys):
    from controller.cli import build_parser

    pieces, jobs = run_of(4, 1)
    plant = tmp_path / "plant.toml"
    plant.write_text('[[printers]]\nname = "lp-1"\nipp_url = "ipp://127.0.0.1:9/ipp/print"\nspeed_ipm = 150\n')
    write_print_plan(tmp_path / "plan.json", RUN, pieces, jobs)
    ledger = await open_ledger(tmp_path / "l.sqlite", pieces[1:])
    await ledger.aclose()
    argv = ["fleet", "print", str(plant), str(tmp_path / "plan.json"), "--ledger", str(tmp_path / "l.sqlite")]
    parsed = build_parser(argv).parse_args(argv)
    assert await parsed.func(parsed) == 1
    assert "1 pieces of the plan are not in the ledger: record them (sorted) first" in capsys.readouterr().out


def hold_get_jobs_until_each_is_asked(sims: list[SimIppPrinter]) -> set[str]:
    """The printers hold their answer to Get-Jobs until every one of them has been sent one (a printer slow to
    answer, until the others are asked too): a controller that waits for one printer's answer before asking the
    next hears from none of them in time. Returns the names of the printers asked so far."""
    from drivers.ipp import Op

    asked: set[str] = set()
    everyone = asyncio.Event()
    for sim in sims:
        answer = sim.handle

        async def handle(req, sim=sim, answer=answer):  # noqa: ANN001, ANN202
            if req.code == Op.GET_JOBS and not everyone.is_set():
                asked.add(sim.name)
                if len(asked) == len(sims):
                    everyone.set()
                await everyone.wait()
            return await answer(req)

        sim.handle = handle
    return asked


@pytest.mark.timeout(60)
async def test_printers_slow_to_answer_at_resume_are_asked_at_once_and_each_answer_is_its_own(tmp_path):
    """A run stopped after routing a print job to each of three printers. On resuming, lp-1 and lp-2 answer only
    once both are asked, lp-3 is off the network: all three are asked together, lp-1 and lp-2 are heard (they hold
    no job: never sent) and lp-3 alone is reported silent."""
    from controller.fleet import PAGE_LIST_FORMAT, page_list_documents, print_run
    from controller.model import PieceEvent, PieceEventKind
    from tests.controller.test_fleet import printers

    pieces, jobs = run_of(12, 3)
    async with printers(3) as (sims, configs):
        asked = hold_get_jobs_until_each_is_asked(sims[:2])
        sims[2].inject(Fault.OFFLINE)
        ledger = await open_ledger(tmp_path / "l.sqlite", pieces)
        try:
            for job, sim in zip(jobs, sims):
                await ledger.append_many([PieceEvent(PieceEventKind.SPOOLED, pid, device=sim.name,
                                                     data={"print_job": job.print_job_id,
                                                           "job_name": f"{job.print_job_id} 0badf00d"})
                                          for pid in job.piece_ids], batch=0)
            documents = page_list_documents({p.piece_id: p for p in pieces}, run=RUN)
            report = await print_run(configs, jobs, pieces, documents, ledger, resume=True,
                                     document_format=PAGE_LIST_FORMAT, poll_s=0.02,
                                     io_timeout_s=1.0, orphan_timeout_s=0.5, run_timeout_s=45)
            assert await ledger.verify() == []
            assert await ledger.counts_by_state(RUN) == {RUN: {PieceState.PRINTED: len(pieces)}}
        finally:
            await ledger.aclose()
    assert asked == {"lp-1", "lp-2"}
    resumed = [line.strip().removeprefix("resumed: ") for line in report.lines() if line.startswith("  resumed: ")]
    assert sorted(resumed) == [
        "pj-1 on lp-1: lp-1 holds no job named pj-1: never sent; 4 pieces routed again as pj-1~1",
        "pj-2 on lp-2: lp-2 holds no job named pj-2: never sent; 4 pieces routed again as pj-2~1",
        "pj-3 on lp-3: lp-3 does not answer; 4 pieces routed again as pj-3~1",
    ], report.lines()
    assert not sims[2].state.jobs and {j.printer for j in report.jobs} == {"lp-1", "lp-2"}


async def test_killing_a_controller_that_ended_and_was_reaped_just_before_is_told_not_raised():
    """The soak kills at random moments; one landed just after the run ended and asyncio had reaped it, and
    `send_signal` raised ProcessLookupError. With `may_have_ended` that is an answer (not killed); without
    it, the same moment is the test's failure with the controller's own words."""
    for may_have_ended in (True, False):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sys; sys.stderr.write('run ended')",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await proc.wait()
        if may_have_ended:
            assert await kill(proc, may_have_ended=True) is False
        else:
            with pytest.raises(AssertionError, match="ended before it was killed"):
                await kill(proc)
