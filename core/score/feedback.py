"""What a chat's own signals do to its next digests (pure): votes, followed authors and avoided topics.

Owns the paper similarity (tf-idf cosine over title and abstract words, idf from the day's papers), the
chat's learned model (core/score/votes_model.py) and the adjustment rule. It must not read the store or
decide wording: core/prepare/reader.py loads the votes and follows, core/build/digest.py applies an
Adjustment and says why.

The rule, per paper of a digest:
- the chat voted on this paper: 👎 hides it from that chat's later digests, 👍 adds MAX_DELTA;
- otherwise, once the chat has liked a paper, a per-chat linear model (arxiv-sanity's classic: tf-idf
  features, logistic regression on 👍 against 👎 and the unvoted papers) moves it by at most ±MAX_DELTA
  (a third of that after one like, the whole from three), relative to the day's typical paper, so the day
  as a whole is not moved and a few votes cannot bury a field;
- with only 👎 votes: its most similar disliked paper takes away VOTE_WEIGHT x (similarity -
  SIMILARITY_FLOOR), capped at MAX_DELTA (the similarity rule, which also names the nearest liked and
  disliked papers in every note);
- a paper by an author the chat follows is marked `followed`, and one about a topic the chat's /interests
  avoid ("not X") `avoided`: core/build/digest.py adds FOLLOW_BOOST (+2, and always shows it) or takes
  AVOID_PENALTY (-3, and never shows it under "My interests").
Votes never change a stored score or a profile's cache key: identical profiles still share all the
LLM work, and a vote costs no tokens. Only the last VOTE_LIMIT votes count.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.models import Adjustment, Paper
from core.score.authors import followed_authors
from core.score.offline import WORD_RE, stem
from core.score.profile import Profile, WatchList
from core.score.votes_model import score_moves, train_vote_model

VOTE_LIMIT = 50
# Measured on data/dev-labelled (375 papers): 95% of random pairs are below 0.07 (max 0.21); a paper's
# nearest neighbour has median 0.13 and p95 0.24. Below the floor a vote says nothing about a paper.
SIMILARITY_FLOOR = 0.12
VOTE_WEIGHT = 8.0  # similarity 0.2 to a liked paper: +0.6; 0.37 or more: +2.0
MAX_DELTA = 2.0
TITLE_WEIGHT = 2  # a title word counts as two abstract words
STOP_WORDS = frozenset(
    "the a an of for to in on with by from and or as is are be been being was were this that these those it its "
    "we our us they their which what how when where who whom while than then thus also can could may might "
    "will would should must not no nor but if so such both each other more most less many much few very "
    "via into onto over under between among across within without through about above below up down out "
    "new novel propose proposed proposes present presents introduce introduces show shows shown "
    "paper work study approach approaches method methods result results based using use used "
    "however further first second one two three existing recent state art".split()
)


@dataclass(frozen=True, slots=True)
class Feedback:
    """A chat's recent votes, newest first: (paper, +1 or -1), and the authors it follows (as written)."""

    votes: tuple[tuple[Paper, int], ...] = ()
    follows: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.votes or self.follows)

    def vote_on(self, arxiv_id: str) -> int:
        return next((v for p, v in self.votes if p.arxiv_id == arxiv_id), 0)


def paper_terms(paper: Paper) -> Counter[str]:
    """Content-word stems of a paper's title (weighted) and abstract."""
    terms: Counter[str] = Counter()
    for text, weight in ((paper.title, TITLE_WEIGHT), (paper.abstract, 1)):
        for word in WORD_RE.findall(text):
            s = stem(word)
            if len(s) > 2 and s not in STOP_WORDS and not s.isdigit():
                terms[s] += weight
    return terms


def _vector(counts: Counter[str], df: Counter[str], n: int) -> dict[str, float]:
    vec = {t: (1.0 + math.log(c)) * math.log((n + 1) / (df[t] + 0.5)) for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {t: v / norm for t, v in vec.items() if v > 0}


@functools.lru_cache(maxsize=4)  # a memo of a pure function: every chat's digest of a day shares it
def _day_model(papers: tuple[Paper, ...]) -> tuple[dict[str, dict[str, float]], Counter[str], int]:
    """Unit tf-idf vectors of a day's papers keyed by id, with the document frequencies behind them."""
    terms = {p.arxiv_id: paper_terms(p) for p in papers}
    df: Counter[str] = Counter()
    for counts in terms.values():
        df.update(counts.keys())
    n = len(terms)
    return {i: _vector(counts, df, n) for i, counts in terms.items()}, df, n


def _vectors(papers: Sequence[Paper], others: Sequence[Paper] = ()) -> dict[str, dict[str, float]]:
    """Unit tf-idf vectors of `papers` and `others`, idf from `papers` (a day's listing)."""
    day, df, n = _day_model(tuple(papers))
    extra = {p.arxiv_id: _vector(paper_terms(p), df, n) for p in others if p.arxiv_id not in day}
    return {**day, **extra} if extra else day


BACKGROUND = 150  # unvoted papers of the day the model learns "not liked" from (a fixed, id-ordered sample)


def background_sample(papers: Sequence[Paper], voted: set[str], limit: int = BACKGROUND) -> list[Paper]:
    """A deterministic sample of unvoted papers: the same day gives the same sample (pure)."""
    ranked = sorted((p for p in papers if p.arxiv_id not in voted),
                    key=lambda p: hashlib.sha1(p.arxiv_id.encode()).hexdigest())
    return ranked[:limit]


def learned_moves(
    papers: Sequence[Paper], votes: Sequence[tuple[Paper, int]], unvoted: Sequence[Paper] | None = None,
) -> dict[str, float]:
    """The chat's learned model's move of each of `papers` (empty without a liked paper; pure).

    `unvoted` are the negatives besides the 👎 (default: a sample of `papers`, arxiv-sanity's "every other
    paper"); the idf comes from `papers`.
    """
    own = {p.arxiv_id: v for p, v in reversed(votes)}
    voted = [p for p, _ in votes]
    background = list(unvoted) if unvoted is not None else background_sample(papers, set(own))
    vectors = _vectors(papers, [*voted, *background])
    liked = [vectors[i] for i, v in own.items() if v > 0]
    disliked = [vectors[i] for i, v in own.items() if v < 0]
    model = train_vote_model(liked, disliked, [vectors[p.arxiv_id] for p in background])
    if model is None:
        return {}
    return score_moves(model, {p.arxiv_id: vectors[p.arxiv_id] for p in papers}, MAX_DELTA)


def adjustments(
    papers: Iterable[Paper], feedback: Feedback | None, *, avoid: Sequence[str] = (),
) -> dict[str, Adjustment]:
    """How the chat's votes, follows and avoided topics (`avoid`, from /interests) move each of `papers`;
    papers they leave alone are absent (pure)."""
    feedback = feedback or Feedback()
    papers = list({p.arxiv_id: p for p in papers}.values())
    out = _vote_adjustments(papers, feedback) if feedback.votes else {}
    followed = followed_authors(feedback.follows, papers)
    avoided = _avoided_topics(avoid, papers)
    for arxiv_id in set(followed) | set(avoided):
        base = out.get(arxiv_id) or Adjustment(arxiv_id, 0.0)
        out[arxiv_id] = dataclasses.replace(base, followed=followed.get(arxiv_id, ()),
                                            avoided=avoided.get(arxiv_id, ()))
    return out


def _avoided_topics(avoid: Sequence[str], papers: Sequence[Paper]) -> dict[str, tuple[str, ...]]:
    """arxiv_id -> the avoided topics a paper is about (whole words of its title or abstract, as the watch list)."""
    if not avoid:
        return {}
    topics = WatchList.of(Profile(text="", keywords=tuple(avoid)))
    out = {}
    for paper in papers:
        hits = topics.match(paper)
        if hits:
            out[paper.arxiv_id] = hits
    return out


def _vote_adjustments(papers: list[Paper], feedback: Feedback) -> dict[str, Adjustment]:
    votes = list(feedback.votes[:VOTE_LIMIT])
    vectors = _vectors(papers, [p for p, _ in votes])
    learned = learned_moves(papers, votes)
    # An inverted index over the voted papers: each paper costs its own terms, not terms x votes.
    index: dict[str, list[tuple[int, float]]] = {}
    for i, (voted, _) in enumerate(votes):
        for term, weight in vectors[voted.arxiv_id].items():
            index.setdefault(term, []).append((i, weight))
    own = {p.arxiv_id: v for p, v in reversed(votes)}  # newest vote wins
    out: dict[str, Adjustment] = {}
    for paper in papers:
        if paper.arxiv_id in own:
            vote = own[paper.arxiv_id]
            out[paper.arxiv_id] = Adjustment(paper.arxiv_id, MAX_DELTA if vote > 0 else -10.0, own_vote=vote)
            continue
        dots = [0.0] * len(votes)
        for term, weight in vectors[paper.arxiv_id].items():
            for i, other in index.get(term, ()):
                dots[i] += weight * other
        like = max(((d, i) for i, d in enumerate(dots) if votes[i][1] > 0), default=(0.0, -1))
        dislike = max(((d, i) for i, d in enumerate(dots) if votes[i][1] < 0), default=(0.0, -1))
        if learned:
            raw = learned.get(paper.arxiv_id, 0.0)
        else:
            raw = VOTE_WEIGHT * (max(0.0, like[0] - SIMILARITY_FLOOR) - max(0.0, dislike[0] - SIMILARITY_FLOOR))
        delta = round(max(-MAX_DELTA, min(MAX_DELTA, raw)), 1)
        if delta == 0:
            continue
        liked = votes[like[1]][0] if like[0] > SIMILARITY_FLOOR else None
        disliked = votes[dislike[1]][0] if dislike[0] > SIMILARITY_FLOOR else None
        out[paper.arxiv_id] = Adjustment(
            paper.arxiv_id, delta,
            liked_id=liked.arxiv_id if liked else "", liked_title=liked.title if liked else "",
            like_similarity=round(like[0], 3) if liked else 0.0,
            disliked_id=disliked.arxiv_id if disliked else "", disliked_title=disliked.title if disliked else "",
            dislike_similarity=round(dislike[0], 3) if disliked else 0.0,
        )
    return out
