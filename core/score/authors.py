"""Who a followed author is: spelling-blind author names and matching them against a paper's authors (pure).

Owns normalising a name (TeX escapes such as `S\\"oren` or `{\\'e}`, accents, case, "Last, First",
hyphens and dots) and deciding whether a followed name is one of a paper's authors: the surnames must
be equal; given names must agree where both give them, an initial agreeing with a full name ("Y. LeCun"
is "Yann LeCun"), and a middle name given on one side only is ignored ("Yann A. LeCun"). A followed
surname alone ("LeCun") follows every LeCun. It must not read the store or decide wording.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.fetch.tex import decode_tex
from core.models import Paper

# Letters NFKD does not take apart.
_PLAIN = str.maketrans({"ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
                        "ı": "i", "ȷ": "j"})
_PARTICLES = frozenset("van von der den de del della di da du dos das le la ten ter zu".split())
MAX_NAME = 100


def plain_name(name: str) -> str:
    """A name without TeX escapes, accents, case, braces or punctuation, words single-spaced (pure)."""
    text = unicodedata.normalize("NFKD", decode_tex(name))  # braces go with the TeX
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold().translate(_PLAIN)
    text = re.sub(r"[^\w,]+|_", " ", text)  # hyphens and dots separate words; a comma keeps "Last, First"
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class AuthorName:
    """A name taken apart: given names (first, middle, ...) and the surname's words."""

    given: tuple[str, ...]
    surname: str

    @classmethod
    def parse(cls, name: str) -> AuthorName:
        text = plain_name(name)
        if "," in text:  # "Last, First": the part before the comma is the surname
            last, _, first = text.partition(",")
            surname, given = last.replace(",", " ").split(), first.replace(",", " ").split()
        else:
            words = text.split()
            cut = len(words) - 1
            while cut > 0 and words[cut - 1] in _PARTICLES:  # "Laurens van der Maaten": surname "van der maaten"
                cut -= 1
            surname, given = words[cut:], words[:cut]
        surname = [w for w in surname if w not in _PARTICLES] or surname  # "van der Maaten" = "Maaten"
        return cls(tuple(given), "".join(surname))

    @property
    def key(self) -> str:
        """The spelling-blind identity of a followed name: two spellings of one name share it."""
        return " ".join((*self.given, self.surname)).strip()

    def matches(self, author: AuthorName) -> bool:
        """True when `author` can be this (followed) name."""
        if not self.surname or self.surname != author.surname:
            return False
        if not self.given or not author.given:
            return True
        if not _same_given(self.given[0], author.given[0]):
            return False
        mine, theirs = self.given[1:], author.given[1:]
        return all(_same_given(a, b) for a, b in zip(mine, theirs, strict=False))


def _same_given(a: str, b: str) -> bool:
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    return a == b


def follow_key(name: str) -> str:
    """The key a followed name is stored and removed under (pure); "" for a name with no letters."""
    return AuthorName.parse(name).key


@dataclass(frozen=True, slots=True)
class FollowList:
    """A chat's followed names, parsed once for matching many papers."""

    names: tuple[tuple[str, AuthorName], ...]  # (as the chat wrote it, parsed)

    @classmethod
    def of(cls, names: Iterable[str]) -> FollowList:
        return cls(tuple((n, AuthorName.parse(n)) for n in names if follow_key(n)))

    def __bool__(self) -> bool:
        return bool(self.names)

    def match(self, paper: Paper) -> tuple[str, ...]:
        """The paper's authors (as the paper spells them) whom the chat follows, in author order."""
        if not self.names:
            return ()
        surnames = {parsed.surname for _, parsed in self.names}
        hits = []
        for author in paper.authors:
            parsed = AuthorName.parse(author)
            if parsed.surname in surnames and any(f.matches(parsed) for _, f in self.names):
                hits.append(author)
        return tuple(hits)


def followed_authors(follows: Sequence[str], papers: Iterable[Paper]) -> dict[str, tuple[str, ...]]:
    """arxiv_id -> the paper's followed authors, for the papers that have any (pure)."""
    follow_list = FollowList.of(follows)
    if not follow_list:
        return {}
    out = {}
    for paper in papers:
        hits = follow_list.match(paper)
        if hits:
            out[paper.arxiv_id] = hits
    return out
