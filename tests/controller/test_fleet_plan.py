import pytest

from controller.fleet_plan import (
    Health,
    PrinterCaps,
    PrinterView,
    counter_delta,
    reconcile,
    route,
    should_fail_over,
    split_for_failover,
)
from controller.model import Piece, Plex, PrintJob

CAPS = [
    PrinterCaps("lp-1", 150, frozenset({"letter"}), duplex=True, colour=False),
    PrinterCaps("lp-2", 100, frozenset({"letter"}), duplex=True, colour=False),
    PrinterCaps("lp-3", 90, frozenset({"letter", "legal"}), duplex=False, colour=True),
]


def job(impressions=300, plex=Plex.DUPLEX, media="letter", colour=False):
    return PrintJob("pj-1", "run-1", ("a",), sheets=impressions // 2, impressions=impressions, plex=plex,
                    media=media, colour=colour)


def views(**health):
    return {name: PrinterView(name, h, queued_impressions=q) for name, (h, q) in health.items()}


def test_route_picks_the_printer_that_finishes_first():
    v = views(**{"lp-1": (Health.PRINTING, 3000), "lp-2": (Health.IDLE, 0), "lp-3": (Health.IDLE, 0)})
    r = route(job(), CAPS, v)
    # lp-1: 3300/150 = 22 min; lp-2: 300/100 = 3 min; lp-3 cannot duplex
    assert (r.printer, r.expected_minutes) == ("lp-2", 3.0)
    assert r.refused == {"lp-3": "cannot print duplex"}


def test_route_by_capability_media_and_colour():
    v = views(**{n: (Health.IDLE, 0) for n in ("lp-1", "lp-2", "lp-3")})
    assert route(job(plex=Plex.SIMPLEX, media="legal"), CAPS, v).printer == "lp-3"
    assert route(job(plex=Plex.SIMPLEX, colour=True), CAPS, v).printer == "lp-3"
    r = route(job(media="a4"), CAPS, v)
    assert r.printer is None and "no a4 media" in r.explain()
    assert route(job(media="na_letter_8.5x11in"), CAPS, v).printer == "lp-1"  # PWG keyword = short name


def test_route_by_size_in_sheets():
    small = [PrinterCaps("lp-9", 500, frozenset({"letter"}), duplex=True, colour=False, max_job_sheets=100), *CAPS]
    v = views(**{n: (Health.IDLE, 0) for n in ("lp-1", "lp-2", "lp-3", "lp-9")})
    assert route(job(impressions=100), small, v).printer == "lp-9"
    r = route(job(impressions=400), small, v)
    assert r.printer == "lp-1" and r.refused["lp-9"] == "200 sheets is more than its limit of 100 per job"


def test_route_skips_stopped_and_offline_printers_and_says_why():
    fleet = {
        "lp-1": PrinterView("lp-1", Health.STOPPED, frozenset({"media-jam-error"})),
        "lp-2": PrinterView("lp-2", Health.OFFLINE),
        "lp-3": PrinterView("lp-3", Health.IDLE),
    }
    r = route(job(), CAPS, fleet)
    assert r.printer is None
    assert r.refused["lp-1"] == "stopped (media-jam-error)" and r.refused["lp-2"] == "offline"
    assert route(job(), CAPS, {**fleet, "lp-2": PrinterView("lp-2", Health.WARNING)}).printer == "lp-2"
    assert route(job(), CAPS, {**fleet, "lp-2": PrinterView("lp-2", Health.IDLE)}, exclude=frozenset({"lp-2"})).printer is None


def test_failover_waits_for_the_grace_time():
    stopped = PrinterView("lp-1", Health.STOPPED, since=100.0)
    assert not should_fail_over(stopped, now=129.0, grace_s=30)
    assert should_fail_over(stopped, now=130.0, grace_s=30)
    assert not should_fail_over(PrinterView("lp-1", Health.WARNING, since=0.0), now=1e6, grace_s=30)


def pieces(*pages, plex=Plex.DUPLEX):
    return [Piece(f"p{i}", "run", i, pages=n, sheets=-(-n // 2) if plex is Plex.DUPLEX else n, plex=plex)
            for i, n in enumerate(pages)]


@pytest.mark.parametrize(
    "pages, confirmed, in_path, printed, remainder, spoiled, cut",
    [
        ((4, 2, 6), 6, 2, ("p0", "p1"), ("p2",), 2, None),  # cut exactly at a piece boundary
        ((4, 2, 6), 8, 2, ("p0", "p1"), ("p2",), 2 + 1, "p2"),  # 2 of p2's 6 impressions = 1 duplex sheet delivered
        ((4, 2, 6), 9, 0, ("p0", "p1"), ("p2",), 2, "p2"),  # 3 impressions: 2 sheets, the second half-printed
        ((4, 2, 6), 0, 3, (), ("p0", "p1", "p2"), 3, None),
        ((4, 2, 6), 12, 0, ("p0", "p1", "p2"), (), 0, None),
    ],
)
def test_split_for_failover_cuts_at_a_piece_boundary(pages, confirmed, in_path, printed, remainder, spoiled, cut):
    split = split_for_failover(pieces(*pages), confirmed, in_path)
    assert (split.printed, split.remainder, split.spoiled_sheets, split.cut_piece) == (printed, remainder, spoiled, cut)


def test_split_simplex_counts_a_sheet_per_impression():
    split = split_for_failover(pieces(3, 3, plex=Plex.SIMPLEX), 5, 1)
    assert split.printed == ("p0",) and split.spoiled_sheets == 1 + 2 and split.cut_piece == "p1"


def test_every_piece_is_either_printed_or_moved():
    ps = pieces(1, 2, 3, 4, 5, 6, 7)
    for confirmed in range(0, 30):
        split = split_for_failover(ps, confirmed)
        assert split.printed + split.remainder == tuple(p.piece_id for p in ps)


def test_reconcile_balances_when_ipp_and_the_counter_agree_with_the_plan():
    r = reconcile("pj-1", 300, ipp_completed=300, counter_start=1000, counter_end=1304, spoiled=4)
    assert r.balanced and r.counter_delta == 304


def test_reconcile_raises_spoils_nobody_saw():
    r = reconcile("pj-1", 300, ipp_completed=300, counter_start=1000, counter_end=1304, spoiled=0)
    assert not r.balanced
    assert any("moved 304" in d for d in r.discrepancies) and any("differ by 4" in d for d in r.discrepancies)


def test_reconcile_names_every_discrepancy():
    r = reconcile("pj-1", 300, ipp_completed=298, counter_start=1000, counter_end=1301)
    assert not r.balanced
    assert any("IPP reports 298" in d for d in r.discrepancies)
    assert any("page counter moved 301" in d for d in r.discrepancies)
    assert any("differ by 3" in d for d in r.discrepancies)
    assert not reconcile("pj-1", 10, ipp_completed=None).balanced


def test_counter32_wraps():
    assert counter_delta((1 << 32) - 10, 5) == 15


def test_a_duplex_piece_with_an_odd_page_count_takes_whole_sheets():
    # 3 pages duplex: 2 sheets, the blank back counted as the printer counts it
    split = split_for_failover(pieces(3, 3), 4)
    assert split.printed == ("p0",) and split.cut_piece is None and split.remainder == ("p1",)


def test_reconcile_counts_named_duplicates_as_delivered_and_raises_unnamed_ones():
    # a cut job kept 100 impressions and delivered 6 more, unheard, named as duplicates; 2 spoiled at the stop
    r = reconcile("pj-1", 100, ipp_completed=106, counter_start=0, counter_end=108, spoiled=2, duplicates=6)
    assert r.balanced and r.duplicates == 6
    unnamed = reconcile("pj-1", 100, ipp_completed=106, counter_start=0, counter_end=108, spoiled=2, duplicates=4)
    assert any("IPP reports 106" in d and "plus 4 duplicates" in d for d in unnamed.discrepancies)
    assert any("page counter moved 108" in d for d in unnamed.discrepancies)


def test_reconcile_a_job_the_printer_lost_in_a_restart_by_its_page_counter_alone():
    assert reconcile("pj-1", 40, ipp_completed=None, counter_start=7, counter_end=53, duplicates=6,
                     ipp_lost=True).balanced
    short = reconcile("pj-1", 40, ipp_completed=None, counter_start=7, counter_end=50, duplicates=6, ipp_lost=True)
    assert [d for d in short.discrepancies if "page counter moved 43" in d]
    blind = reconcile("pj-1", 40, ipp_completed=None, ipp_lost=True)
    assert not blind.balanced and "nothing witnesses" in blind.discrepancies[0]
