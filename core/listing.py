"""What storing a listing changes: which papers are new and which earlier lookups it claims.

A paper is stored once, by id without version. One fetched by a one-off lookup (`paper ID`) carries
the announce type LOOKUP and belongs to no listing day until a listing names it; then it takes that
listing's day, type and version. Pure: the store reads what is stored and writes what this decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.models import Paper

# announce_type of a paper stored by a one-off lookup (`paper ID`), not by a listing: it belongs to
# no listing day until a listing names it.
LOOKUP = "lookup"


@dataclass(frozen=True, slots=True)
class PaperWrites:
    """The writes that storing a batch of papers takes: rows to insert and lookups to promote."""

    new: tuple[Paper, ...]  # not stored yet: insert, first occurrence of each id
    promote: tuple[Paper, ...]  # stored by a lookup and now named by a listing: take this listing day

    @property
    def written(self) -> list[Paper]:
        """Every paper these writes store or change, new ones first."""
        return [*self.new, *self.promote]


def plan_paper_writes(papers: Iterable[Paper], stored_types: Mapping[str, str]) -> PaperWrites:
    """Decide what storing `papers` changes, given the announce type of each id already stored."""
    new: dict[str, Paper] = {}
    promote: dict[str, Paper] = {}
    for p in papers:
        stored = stored_types.get(p.arxiv_id)
        if stored is None:
            new.setdefault(p.arxiv_id, p)
        elif stored == LOOKUP and p.announce_type != LOOKUP:
            promote.setdefault(p.arxiv_id, p)
    return PaperWrites(tuple(new.values()), tuple(promote.values()))
