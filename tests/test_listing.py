"""What storing a listing changes (core/listing.py): pure, no store."""

from __future__ import annotations

from dataclasses import replace

from core.listing import LOOKUP, PaperWrites, plan_paper_writes
from tests.samples import paper


def test_papers_not_stored_are_new_once_each_in_listing_order() -> None:
    p1, p2 = paper(1), paper(2)
    plan = plan_paper_writes([p2, p1, p2], {})
    assert plan == PaperWrites(new=(p2, p1), promote=())
    assert plan.written == [p2, p1]


def test_papers_already_listed_change_nothing() -> None:
    p1 = paper(1)
    assert plan_paper_writes([p1, replace(p1, version=2)], {p1.arxiv_id: "new"}) == PaperWrites((), ())
    assert plan_paper_writes([replace(p1, announce_type="cross")], {p1.arxiv_id: "replace"}) == PaperWrites((), ())


def test_a_looked_up_paper_is_promoted_when_a_listing_names_it() -> None:
    looked_up, listed, fresh = paper(7), paper(7), paper(8)
    plan = plan_paper_writes([listed, fresh], {looked_up.arxiv_id: LOOKUP})
    assert plan == PaperWrites(new=(fresh,), promote=(listed,))
    assert plan.written == [fresh, listed]


def test_a_second_lookup_neither_inserts_nor_promotes() -> None:
    again = replace(paper(7), announce_type=LOOKUP)
    assert plan_paper_writes([again], {again.arxiv_id: LOOKUP}) == PaperWrites((), ())


def test_a_new_lookup_is_inserted_as_a_lookup() -> None:
    looked_up = replace(paper(9), announce_type=LOOKUP)
    assert plan_paper_writes([looked_up], {}) == PaperWrites(new=(looked_up,), promote=())
