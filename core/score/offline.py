"""The offline scorer: rates papers against fields from weighted phrases, with no network and no model.

It is the default scorer when no LLM is configured and the cheap first stage that decides which papers
the LLM reads. It owns the phrase matching, the evidence -> 1-10 calibration and the short reason. It
must not do IO, read the clock or depend on the day's other papers: a score is an absolute judgement of
one paper, so a quiet day is not forced to have top scores.

How a field's evidence is gathered:
- phrases come from the field's `terms` ("KV cache^3", "quantiz*"), its keywords (strong) and the
  phrases of its name and English description (supporting); an explicit term overrides the others;
- a phrase matches whole words of the title and abstract, ignoring case, plurals and hyphens, and the
  longest phrase wins over its parts ("KV cache" does not also count "KV");
- a title match counts double an abstract match, and repeats in the abstract add a little;
- a field whose name speaks of LLMs, multimodal or deep models keeps part of its evidence when the
  paper shows no sign of that kind of model;
- papers mainly about a field's `ignore` areas (medical/health, remote sensing...) keep part of it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from core.errors import ConfigError
from core.fields import parse_term
from core.models import LANGUAGES, Field, Paper, Score
from core.score.reasons import build_reason, distinct_labels

TITLE_WEIGHT = 1.0  # a phrase in the title says what the paper is about
ABSTRACT_WEIGHT = 0.5  # the first mention in the abstract
REPEAT_WEIGHT = 0.15  # each further mention in the abstract, up to MAX_REPEATS
MAX_REPEATS = 4
SCALE = 5.25  # 7 needs evidence 5.25*ln(3) ~ 5.8: a defining phrase in the title and abstract, plus support
KEYWORD_WEIGHT = 2.5
PHRASE_WEIGHT = 2.0  # a multi-word phrase of the name or description
WORD_WEIGHT = 1.0  # a single word of the name or description
OUT_OF_SCOPE = 0.6  # share of evidence kept when the paper shows no sign of the field's kind of model
IGNORED_FLOOR = 0.35  # share kept by a paper squarely in an ignored area
MAINLY_IGNORED = 2.0  # ignored-area evidence from which the reason names the area
REASON_TERMS = 3
STEM_CACHE_SIZE = 200_000

WORD_RE = re.compile(r"[^\W_]+")
SPLIT_RE = re.compile(r"[,;:()\[\]/。，；：、（）]|\.(?:\s|$)|\s(?:and|or|e\.g\.|i\.e\.|such as|like)\s")

# Words trimmed from the edges of name and description phrases: they say nothing about the topic.
EDGE_WORDS = frozenset(
    "a an the of for to in on with by from and or as such like e g i etc their its that which how what "
    "make making new novel better faster cheaper more less both various other based toward towards via "
    "method methods approach approaches technique techniques paradigm paradigms understanding "
    "who perceive act".split()
)
# A name or description phrase made only of these is too general to count.
GENERIC_WORDS = frozenset(
    "llm llms large language model models deep learning network networks neural data system systems "
    "training inference architecture architectures theory theoretical ai agent agents multimodal "
    "multi modal vision image images task tasks performance".split()
)

# Cues that a paper is about the kind of model a field's name names; the name's words pick the groups.
SCOPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # group: (words in a field name that select it, cue phrases in a paper)
    "llm": (
        ("llm", "llms", "large language model", "language model", "large model", "foundation model"),
        ("LLM", "large language model", "language model", "foundation model", "large model", "transformer",
         "GPT*", "LLaMA*", "Qwen*", "chatbot", "VLM", "MLLM", "LVLM", "LMM", "vision-language model",
         "multimodal model", "pretrained model", "pre-trained model", "generative AI", "token*", "prompt*",
         "diffusion language model", "dLLM", "reasoning model", "LRM", "diffusion model",
         "diffusion transformer", "DiT", "vision transformer", "ViT", "pretrain*", "pre-train*"),
    ),
    "multimodal": (
        ("multimodal", "multi-modal", "vision", "visual", "image", "video"),
        ("multimodal", "multi-modal", "vision", "visual", "image*", "video*", "VLM", "MLLM", "LVLM", "LMM",
         "pixel*", "GUI", "screen*", "embodied", "speech", "audio", "camera*", "3D", "scene*"),
    ),
    "deep": (
        ("deep", "neural", "deep learning", "large model"),
        ("neural", "deep", "network*", "transformer", "LLM", "language model", "foundation model", "CNN",
         "ResNet", "ViT", "attention", "MLP*", "perceptron*", "autoencoder*", "diffusion model", "embedding*",
         "gradient descent", "SGD", "Adam*", "optimizer", "learning rate", "overparameteriz*", "ReLU"),
    ),
}

# What an `ignore` entry covers: a paper hitting these is mainly about the low-priority area.
# Weights: 1 a sure sign, 0.5 also used elsewhere. Unknown entries are matched as written.
IGNORE_AREAS: dict[str, tuple[str, ...]] = {
    "medical": (
        "medical", "medicine", "clinical", "clinician*", "physician*", "patient*", "hospital*", "disease*",
        "diagnos*^0.5", "radiolog*", "patholog*", "histopatholog*", "tumor*", "tumour*", "cancer*",
        "lesion*", "MRI", "fMRI^0.5", "CT", "computed tomography", "X-ray*", "ultrasound", "mammogra*",
        "retina*", "dermatolog*", "surgical", "surgery", "biomedical", "EHR*", "electronic health record*",
        "healthcare", "health care", "ECG", "EEG^0.5", "cardiac", "Alzheimer*", "drug*^0.5", "therap*^0.5",
    ),
    "health": ("health", "healthcare", "mental health", "wellbeing", "well-being", "clinical", "patient*"),
    "remote sensing": (
        "remote sensing", "remote-sensing", "satellite*", "aerial", "hyperspectral", "multispectral",
        "SAR", "synthetic aperture radar", "earth observation", "land cover", "land use", "Sentinel-2",
        "UAV*^0.5", "geospatial", "change detection^0.5",
    ),
    "biology": ("biology", "biological", "protein*", "gene", "genes", "genomic*", "molecular", "cell*^0.5",
                "DNA", "RNA", "single-cell"),
    "chemistry": ("chemistry", "chemical", "molecule*", "molecular", "reaction*^0.5", "catalys*"),
    "finance": ("finance", "financial", "stock*", "trading", "portfolio*", "market*^0.5"),
    "weather": ("weather", "climate", "precipitation", "forecasting^0.5"),
    "autonomous driving": ("autonomous driving", "self-driving", "driving", "vehicle*^0.5", "traffic^0.5"),
    "recommendation": ("recommend*", "recommender", "click-through", "CTR", "user interest*^0.5"),
}
IGNORE_ALIASES = {
    "medicine": "medical", "clinical": "medical", "biomedical": "medical", "healthcare": "health",
    "satellite": "remote sensing", "earth observation": "remote sensing", "bio": "biology",
    "chemical": "chemistry", "financial": "finance", "climate": "weather", "driving": "autonomous driving",
    "recommender": "recommendation", "recommender systems": "recommendation",
}
PLURAL_EXCEPTIONS = {"caches": "cache", "niches": "niche", "analyses": "analysis", "axes": "axis"}


def stem(word: str) -> str:
    """Lowercase a word and drop a plural ending, the same way for phrases and paper text."""
    word = word.lower()
    if len(word) <= 3 or not word.isalpha():
        return word
    if word in PLURAL_EXCEPTIONS:
        return PLURAL_EXCEPTIONS[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@dataclass(frozen=True, slots=True)
class _Phrase:
    """One compiled phrase of one owner (a field, an ignore set or a scope group)."""

    key: str  # the stems joined without spaces, so "KV-cache", "KV cache" and "kvcache" agree
    prefix: bool  # "quantiz*": the last word may go on
    weight: float
    label: str  # how the reason names it; "" for a prefix phrase, which uses the paper's own word


def compile_phrase(text: str, weight: float) -> _Phrase | None:
    """Turn a phrase such as "KV cache" or "quantiz*" into a match key; None if it has no words."""
    prefix = text.rstrip().endswith("*")
    words = WORD_RE.findall(text.replace("*", " "))
    if not words:
        return None
    stems = [stem(w) for w in words[:-1]] + [words[-1].lower() if prefix else stem(words[-1])]
    return _Phrase("".join(stems), prefix, weight, "" if prefix else " ".join(text.replace("*", "").split()))


def derived_phrases(text: str) -> list[str]:
    """Cut a name or description into topic phrases, trimming filler words and dropping generic ones."""
    phrases = []
    for part in SPLIT_RE.split(text):
        words = [w for w in part.split() if WORD_RE.search(w)]
        while words and stem(WORD_RE.findall(words[0])[0]) in EDGE_WORDS:
            words = words[1:]
        while words and stem(WORD_RE.findall(words[-1])[-1]) in EDGE_WORDS:
            words = words[:-1]
        stems = [stem(w) for w in WORD_RE.findall(" ".join(words))]
        if stems and not all(s in GENERIC_WORDS or stem(s) in GENERIC_WORDS for s in stems):
            phrases.append(" ".join(words).strip(".,"))
    return phrases


def field_phrases(field: Field) -> list[_Phrase]:
    """Collect a field's phrases: explicit terms, then keywords, then name and description phrases."""
    seen: dict[tuple[str, bool], _Phrase] = {}
    candidates: list[tuple[str, float]] = [parse_term(t) for t in field.terms]
    candidates += [(k, KEYWORD_WEIGHT) for k in field.keywords]
    for text in (field.name_en, field.description_en):
        for phrase in derived_phrases(text):
            candidates.append((phrase, PHRASE_WEIGHT if len(WORD_RE.findall(phrase)) > 1 else WORD_WEIGHT))
    for text, weight in candidates:
        compiled = compile_phrase(text, weight)
        if compiled is not None and (compiled.key, compiled.prefix) not in seen:
            seen[(compiled.key, compiled.prefix)] = compiled
    return list(seen.values())


def ignore_phrases(entries: Iterable[str]) -> list[_Phrase]:
    """Expand `ignore` entries such as "medical/health" into phrases labelled with their entry."""
    out: dict[tuple[str, bool], _Phrase] = {}
    for entry in entries:
        for part in re.split(r"[/,;]", entry):
            name = " ".join(part.lower().split())
            if not name:
                continue
            area = IGNORE_ALIASES.get(name, name)
            for term in IGNORE_AREAS.get(area, (part,)):
                compiled = compile_phrase(*parse_term(term))
                if compiled is not None:
                    out.setdefault((compiled.key, compiled.prefix), replace(compiled, label=entry.strip()))
    return list(out.values())


def field_scopes(field: Field) -> tuple[str, ...]:
    """Name the kinds of model a field's name is about ("llm", "multimodal", "deep"); empty: any."""
    name = " " + " ".join(stem(w) for w in WORD_RE.findall(field.name_en)) + " "
    return tuple(
        group for group, (words, _) in SCOPES.items()
        if any(" " + " ".join(stem(w) for w in WORD_RE.findall(word)) + " " in name for word in words)
    )


class _Matcher:
    """Finds every owner's phrases in a text with one pass over its words and dictionary lookups."""

    def __init__(self, owners: Sequence[Sequence[_Phrase]]) -> None:
        self.exact: dict[str, list[tuple[int, int]]] = {}
        self.prefixes: dict[str, list[tuple[int, int]]] = {}
        self.partials: set[str] = set()
        for owner, phrases in enumerate(owners):
            for index, phrase in enumerate(phrases):
                table = self.prefixes if phrase.prefix else self.exact
                table.setdefault(phrase.key, []).append((owner, index))
                self.partials.update(phrase.key[:i] for i in range(1, len(phrase.key)))
        self.prefix_lengths = sorted({len(k) for k in self.prefixes})
        self.owner_count = len(owners)
        self.stems: dict[str, str] = {}

    def find(self, text: str) -> list[dict[int, tuple[int, str]]]:
        """Return, per owner, {phrase index: (count, first matched text)}; the longest phrase wins."""
        spans = [(m.start(), m.end()) for m in WORD_RE.finditer(text)]
        stems = self.stems
        words = []
        if len(stems) > STEM_CACHE_SIZE:  # a long-lived scorer sees new words every day
            stems.clear()
        for start, end in spans:
            word = text[start:end]
            s = stems.get(word)
            if s is None:
                s = stems[word] = stem(word)
            words.append(s)
        hits: list[tuple[int, int, tuple[int, int]]] = []  # (start word, end word, (owner, index))
        for i in range(len(words)):
            key = ""
            for j in range(i, len(words)):
                before = len(key)
                key += words[j]
                for ref in self.exact.get(key, ()):
                    hits.append((i, j + 1, ref))
                for length in self.prefix_lengths:
                    if length > len(key):
                        break
                    if length > before:
                        for ref in self.prefixes.get(key[:length], ()):
                            hits.append((i, j + 1, ref))
                if key not in self.partials:
                    break
        hits.sort(key=lambda h: (h[0], -h[1], h[2]))
        found: list[dict[int, tuple[int, str]]] = [{} for _ in range(self.owner_count)]
        covered = [0] * self.owner_count
        for start, end, (owner, index) in hits:
            if start < covered[owner]:
                continue
            covered[owner] = end
            count, surface = found[owner].get(index, (0, ""))
            found[owner][index] = (count + 1, surface or text[spans[start][0]:spans[end - 1][1]])
        return found


@dataclass(frozen=True, slots=True)
class _FieldPlan:
    field: Field
    owner: int  # index of the field's phrases in the matcher
    ignore_owner: int | None
    scope_owners: tuple[int, ...]


class OfflineScorer:
    """Scores papers against fields from phrase evidence; deterministic, pure and fast."""

    def __init__(self, fields: Sequence[Field]) -> None:
        if not fields:
            raise ConfigError("the offline scorer needs at least one field")
        owners: list[list[_Phrase]] = []
        ignore_owner: dict[tuple[str, ...], int] = {}
        scope_owner: dict[str, int] = {}
        plans = []
        for field in fields:
            owner = len(owners)
            owners.append(field_phrases(field))
            ignored = None
            if field.ignore:
                if field.ignore not in ignore_owner:
                    ignore_owner[field.ignore] = len(owners)
                    owners.append(ignore_phrases(field.ignore))
                ignored = ignore_owner[field.ignore]
            scopes = []
            for group in field_scopes(field):
                if group not in scope_owner:
                    scope_owner[group] = len(owners)
                    cues = [compile_phrase(*parse_term(cue)) for cue in SCOPES[group][1]]
                    owners.append([c for c in cues if c is not None])
                scopes.append(scope_owner[group])
            plans.append(_FieldPlan(field, owner, ignored, tuple(scopes)))
        self.phrases = owners
        self.plans = tuple(plans)
        self.matcher = _Matcher(owners)

    def score(self, paper: Paper, lang: str = "zh") -> Score:
        """Score one paper against every field; the best field and its value lead."""
        in_title = self.matcher.find(paper.title)
        in_abstract = self.matcher.find(paper.abstract)
        best: tuple[float, _FieldPlan, list[tuple[float, str]], list[str]] | None = None
        field_scores: dict[str, float] = {}
        for plan in self.plans:
            evidence, reasons = self._evidence(plan.owner, in_title, in_abstract)
            if plan.scope_owners and not any(in_title[o] or in_abstract[o] for o in plan.scope_owners):
                evidence *= OUT_OF_SCOPE
            areas: list[str] = []
            if plan.ignore_owner is not None:
                # A title hit counts 2 and each abstract mention about 0.5: from 2 on, the paper is
                # mainly about the area, and from 3.25 on it keeps only IGNORED_FLOOR of its evidence.
                ignored, hits = self._evidence(plan.ignore_owner, in_title, in_abstract, title_weight=2.0)
                evidence *= max(IGNORED_FLOOR, 1.0 - 0.2 * ignored)
                if ignored >= MAINLY_IGNORED:
                    areas = distinct_labels(hits, limit=len(plan.field.ignore))
            field_scores[plan.field.slug] = calibrate(evidence)
            if best is None or evidence > best[0]:
                best = (evidence, plan, reasons, areas)
        assert best is not None  # __init__ refuses an empty field list
        evidence, plan, reasons, areas = best
        value = field_scores[plan.field.slug]
        labels = distinct_labels(reasons, limit=REASON_TERMS)
        # Wording a reason costs nothing next to matching, so every language is stored: any reader's
        # language is there whichever language the score was asked in.
        worded = {code: build_reason(labels, value, areas, code) for code in LANGUAGES}
        return Score(
            arxiv_id=paper.arxiv_id,
            field_slug=plan.field.slug,
            value=value,
            reason=worded.get(lang) or build_reason(labels, value, areas, lang),
            stage="offline",
            field_scores=field_scores,
            reasons=worded,
        )

    def score_many(self, papers: Sequence[Paper], lang: str = "zh") -> list[Score]:
        """Score papers in order; each score is the same as scoring that paper alone."""
        return [self.score(paper, lang) for paper in papers]

    def _evidence(
        self,
        owner: int,
        in_title: list[dict[int, tuple[int, str]]],
        in_abstract: list[dict[int, tuple[int, str]]],
        title_weight: float = TITLE_WEIGHT,
    ) -> tuple[float, list[tuple[float, str]]]:
        """Sum one owner's phrase evidence; also return (contribution, label) per matched phrase."""
        phrases = self.phrases[owner]
        title, abstract = in_title[owner], in_abstract[owner]
        total = 0.0
        parts = []
        for index in sorted(title.keys() | abstract.keys()):
            phrase = phrases[index]
            t_count, t_text = title.get(index, (0, ""))
            a_count, a_text = abstract.get(index, (0, ""))
            weight = (title_weight if t_count else 0.0) + (
                ABSTRACT_WEIGHT + REPEAT_WEIGHT * min(a_count - 1, MAX_REPEATS) if a_count else 0.0
            )
            contribution = phrase.weight * weight
            total += contribution
            if contribution > 0:
                parts.append((contribution, phrase.label or display_word(t_text or a_text)))
        return max(total, 0.0), parts


def calibrate(evidence: float) -> float:
    """Map evidence to 1-10 on a fixed curve, rounded to one decimal."""
    return round(1.0 + 9.0 * (1.0 - math.exp(-max(evidence, 0.0) / SCALE)), 1)


def display_word(surface: str) -> str:
    """Show text matched by a prefix phrase: lowercased, unless it looks like an acronym."""
    return surface if any(ch.isupper() for ch in surface[1:]) else surface.lower()
