"""What an `/interests` text means: interests, avoided topics and a keyword watch list (pure).

Owns parsing the text, normalising profiles so trivially different spellings share work (`Profile.key`),
the reader's own field, and matching the watch list against papers. It must not read the store, call the
LLM or decide how a digest looks: core/score/interests.py judges profiles, core/build/ lays digests out.

The text, as `/interests` takes it:
- Comma-, semicolon- or newline-separated phrases are free-text interests, scored as the reader's
  own field "My interests" (as before watch lists existed). "not X", "no X", "without X", "exclude X",
  "不要X", "不看X", "排除X" make X an avoided (low-priority) topic.
- Watch terms are matched literally and listed under "Keyword matches", with a summary:
  - arXiv category codes (cs.LG, math.OC, stat.ML, q-bio.NC, quant-ph...), wherever they appear;
  - "quoted phrases" (also “...”, 「...」, 『...』);
  - everything after `watch:` (or `keywords:`, `kw:`, `关键词:`), comma-separated.
  A keyword matches whole words of the title or abstract, ignoring case, plurals, and hyphens versus
  spaces ("LLM memory" matches "LLM-memories"); a category matches any of the paper's categories
  (an archive alone, such as quant-ph or astro-ph, matches its subcategories too).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.build.digest import INTERESTS_SLUG
from core.models import Field, Paper
from core.score.offline import WORD_RE, stem

_SEPARATORS = re.compile(r"[,;，；、\n]+")
_NEGATION = re.compile(r"^(?:(?:not|no|without|exclude)\s+|(?:不要|不看|排除)\s*)(.+)$", re.IGNORECASE)
_WATCH_PREFIX = re.compile(r"(?:^|(?<=[\s,;]))(?:watch|keywords?|kw|关键词)\s*:", re.IGNORECASE)
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|「([^」]+)」|『([^』]+)』')
_CATEGORY = re.compile(
    r"^(?:(?:cs|math|stat|eess|econ|q-bio|q-fin|physics|astro-ph|cond-mat|nlin)\.[a-z][a-z-]*"
    r"|quant-ph|gr-qc|hep-(?:th|ph|ex|lat)|nucl-(?:th|ex)|math-ph|astro-ph|cond-mat|q-bio|q-fin)$",
    re.IGNORECASE,
)
_INNER_DASH = re.compile(r"(?<=\w)[-_‐‑–/](?=\w)")
_DASHES = re.compile(r"[-_‐‑–—]+")


def canonical_phrase(phrase: str) -> str:
    """Normalise one phrase: width, case, dashes and underscores as spaces, spacing, outer punctuation (pure)."""
    text = unicodedata.normalize("NFKC", phrase).casefold()
    text = _DASHES.sub(" ", text)
    return " ".join(text.split()).strip(" .:!?\"'“”「」『』")


def is_category(term: str) -> bool:
    """True for an arXiv category code such as cs.LG or quant-ph."""
    return bool(_CATEGORY.match(term.strip()))


@dataclass(frozen=True, slots=True)
class Profile:
    """One `/interests` text, parsed. Phrases keep the reader's spelling; `key` is spelling-blind."""

    text: str
    interests: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # watch keywords, matched literally
    categories: tuple[str, ...] = ()  # watch arXiv categories

    @property
    def has_interests(self) -> bool:
        return bool(self.interests)

    @property
    def watch(self) -> tuple[str, ...]:
        return (*self.keywords, *self.categories)

    @property
    def normalised(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The interests and avoided topics as the LLM sees them: canonical, deduplicated, sorted."""
        return (tuple(sorted({c for c in map(canonical_phrase, self.interests) if c})),
                tuple(sorted({c for c in map(canonical_phrase, self.avoid) if c})))

    @property
    def key(self) -> str:
        """Identity of the judged profile: the same for any spelling, order or watch list; "" without interests."""
        if not self.interests:
            return ""
        blob = json.dumps(self.normalised, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def field(self) -> Field:
        """The reader's own field, in their spelling: the digest section and the offline router use it."""
        description = "; ".join(self.interests) or " ".join(self.text.split())
        return Field(slug=INTERESTS_SLUG, name_zh="我的兴趣", name_en="My interests", description_zh=description,
                     description_en=description, keywords=self.interests, ignore=self.avoid)

    def judge_field(self) -> Field:
        """The field the LLM judges against: normalised, so identical profiles send identical requests."""
        interests, avoid = self.normalised
        description = "; ".join(interests)
        return Field(slug=INTERESTS_SLUG, name_zh="我的兴趣", name_en="My interests", description_zh=description,
                     description_en=description, keywords=interests, ignore=avoid)


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(canonical_phrase(item), item)
    return tuple(v for k, v in seen.items() if k)


def parse_interests(text: str) -> Profile:
    """Parse an `/interests` text into interests, avoided topics and a watch list (pure)."""
    text = unicodedata.normalize("NFKC", text or "")
    head, watch_part = text, ""
    prefix = _WATCH_PREFIX.search(text)
    if prefix is not None:
        head, watch_part = text[: prefix.start()], text[prefix.end():]
    keywords: list[str] = []
    categories: list[str] = []

    def take_quoted(match: re.Match[str]) -> str:
        keywords.append(next(g for g in match.groups() if g is not None).strip())
        return ","

    head = _QUOTED.sub(take_quoted, head)
    watch_part = _QUOTED.sub(take_quoted, watch_part)
    interests: list[str] = []
    avoid: list[str] = []
    for part in (p.strip() for p in _SEPARATORS.split(head)):
        if not part:
            continue
        if is_category(part):
            categories.append(part)
            continue
        negated = _NEGATION.match(part)
        (avoid if negated else interests).append(negated.group(1).strip() if negated else part)
    for part in (p.strip().strip("\"'") for p in _SEPARATORS.split(watch_part)):
        if part:
            (categories if is_category(part) else keywords).append(part)
    return Profile(text=text, interests=_dedupe(interests), avoid=_dedupe(avoid),
                   keywords=_dedupe(k for k in keywords if k), categories=_dedupe(categories))


def interest_field(interests: str) -> Field:
    """Turn `/interests` text into the reader's own field (pure); watch terms are not part of it.

    "diffusion LLMs, KV-cache compression, not medical imaging": comma- or semicolon-separated phrases
    become keywords; phrases starting with "not", "no", "without" or "不要/不看" become low-priority areas.
    """
    return parse_interests(interests).field()


# -- the watch list ----------------------------------------------------------------------------------


def _stems(text: str) -> str:
    return " " + " ".join(stem(w) for w in WORD_RE.findall(_INNER_DASH.sub(" ", text))) + " "


def _probe(word: str) -> str:
    """A substring every spelling of `word` that stems alike contains (for a cheap prefilter)."""
    lowered, stemmed = word.lower(), stem(word)
    common = 0
    for a, b in zip(lowered, stemmed, strict=False):
        if a != b:
            break
        common += 1
    return lowered[: min(common, 4)] or lowered[:1]


@dataclass(frozen=True, slots=True)
class WatchList:
    """A profile's watch terms compiled for matching (pure)."""

    keywords: tuple[tuple[str, str, str], ...]  # (as given, " stem stem ", probe)
    categories: tuple[tuple[str, str], ...]  # (as given, lower-case code)

    @classmethod
    def of(cls, profile: Profile) -> WatchList:
        keywords = []
        for kw in profile.keywords:
            stems = _stems(kw)
            words = WORD_RE.findall(_INNER_DASH.sub(" ", kw))
            if words:
                keywords.append((kw, stems, _probe(max(words, key=len))))
        return cls(tuple(keywords), tuple((c, c.strip().lower()) for c in profile.categories))

    def match(self, paper: Paper) -> tuple[str, ...]:
        """The watch terms `paper` matches, in watch-list order."""
        hits: list[str] = []
        cats = [c.lower() for c in paper.categories]
        for shown, code in self.categories:
            if any(c == code or ("." not in code and c.startswith(code + ".")) for c in cats):
                hits.append(shown)
        if self.keywords:
            raw = (paper.title + " " + paper.abstract).lower()
            stems = ""
            for shown, wanted, probe in self.keywords:
                if probe not in raw:
                    continue
                stems = stems or _stems(paper.title) + " | " + _stems(paper.abstract)
                if wanted in stems:
                    hits.append(shown)
        return tuple(hits)


def watch_matches(profile: Profile, papers: Sequence[Paper]) -> list[tuple[Paper, tuple[str, ...]]]:
    """Papers that match the profile's watch list, with the terms each matched, in input order (pure)."""
    if not profile.watch:
        return []
    watch = WatchList.of(profile)
    out = []
    for paper in papers:
        terms = watch.match(paper)
        if terms:
            out.append((paper, terms))
    return out


def rank_matches(
    matches: Sequence[tuple[Paper, tuple[str, ...]]], best: Mapping[str, float],
) -> list[tuple[Paper, tuple[str, ...]]]:
    """Order watch matches: more terms first, then the paper's best known score, then id (pure)."""
    return sorted(matches, key=lambda m: (-len(m[1]), -best.get(m[0].arxiv_id, 0.0), m[0].arxiv_id))
