"""The words a search requires (pure): one definition for the store's full-text queries (SQLite FTS5 and
PostgreSQL), the command layer's "only common words" answer, and the static site's search box.
"""

from __future__ import annotations

import re

_FTS_WORD = re.compile(r"[\w.\-]+", re.UNICODE)
_LETTER = re.compile(r"[^\W_]")  # a word holds a letter or digit ("..." or "-" alone is none)
# PostgreSQL's `english` text-search configuration ignores these words (its tsearch_data/english.stop); SQLite's
# queries drop them too, so a query matches the same papers on both ("attention is all you need" needs
# "attention" and "need"), and a query of these words alone searches for nothing on either.
SEARCH_STOP = frozenset("""
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it
its itself they them their theirs themselves what which who whom this that these those am is are was were be been
being have has had having do does did doing a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on off over under again
further then once here there when where why how all any both each few more most other some such no nor not only
own same so than too very s t can will just don should now
""".split())


def search_words(words: str, *, common: bool = False) -> list[str]:
    """The words a search requires, as typed, quotes removed, common English words left out unless `common`
    (pure)."""
    typed = (t.replace('"', "") for t in _FTS_WORD.findall(words))
    return [t for t in typed if _LETTER.search(t) and (common or t.lower() not in SEARCH_STOP)]
