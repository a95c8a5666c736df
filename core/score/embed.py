"""An optional cheap stage: rank papers against fields by embedding similarity (`/v1/embeddings`).

Owns turning papers and fields into texts, calling `llm.embeddings.create`, and cosine similarity.
Its scores only rank candidates for the LLM (`select_candidates`); they are not shown to readers and
must not be stored as a paper's score. Used when EMBEDDING_MODEL is set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import openai
from openai import AsyncOpenAI

from core.errors import ConfigError, ScoringError
from core.models import Field, Paper, Score

EMBED_BATCH = 64  # inputs per request; providers allow 256-2048


@dataclass(frozen=True, slots=True)
class EmbedResult:
    """One Score per input paper (stage "embed", value = best similarity mapped to 1-10) and its cost."""

    scores: list[Score]
    tokens: int
    requests: int


def field_text(field: Field) -> str:
    """Describe a field the way a paper about it would read."""
    keywords = f" Keywords: {', '.join(field.keywords)}." if field.keywords else ""
    name = f"{field.name_en}. " if field.name_en else ""  # a profile has no name (core/score/routing.py)
    return f"{name}{field.description_en}{keywords}"


def paper_text(paper: Paper) -> str:
    return f"{' '.join(paper.title.split())}. {' '.join(paper.abstract.split())}"


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Return the cosine similarity of two vectors (0 when either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def similarity_value(similarity: float) -> float:
    """Map a cosine similarity to the 1-10 scale scores use (only the order matters)."""
    return round(1.0 + 9.0 * max(0.0, min(1.0, similarity)), 3)


async def _embed(llm: AsyncOpenAI, texts: Sequence[str], model: str) -> tuple[list[list[float]], int, int]:
    vectors: list[list[float]] = []
    tokens = requests = 0
    for start in range(0, len(texts), EMBED_BATCH):
        chunk = list(texts[start: start + EMBED_BATCH])
        try:
            # "float" rather than the client's default base64: not every compatible server speaks base64.
            response = await llm.embeddings.create(model=model, input=chunk, encoding_format="float")
        except openai.APIError as exc:
            raise ScoringError(f"embeddings request failed: {type(exc).__name__}") from exc
        requests += 1
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != len(chunk):
            raise ScoringError(f"embeddings reply has {len(data)} vectors for {len(chunk)} texts")
        vectors.extend([float(x) for x in d.embedding] for d in data)
        tokens += response.usage.prompt_tokens if response.usage else 0
    return vectors, tokens, requests


async def score_by_embedding(
    llm: AsyncOpenAI, papers: Sequence[Paper], fields: Sequence[Field], *, model: str
) -> EmbedResult:
    """Rate each paper by its most similar field; raise ScoringError if the endpoint fails."""
    if not model:
        raise ConfigError("EMBEDDING_MODEL is not set")
    if not fields:
        raise ConfigError("no fields to score against")
    if not papers:
        return EmbedResult([], 0, 0)
    field_vectors, field_tokens, field_requests = await _embed(llm, [field_text(f) for f in fields], model)
    paper_vectors, paper_tokens, paper_requests = await _embed(llm, [paper_text(p) for p in papers], model)
    scores = []
    for paper, vector in zip(papers, paper_vectors, strict=True):
        per_field = {f.slug: similarity_value(cosine(vector, fv)) for f, fv in zip(fields, field_vectors, strict=True)}
        best = max(per_field, key=lambda slug: per_field[slug])
        scores.append(Score(paper.arxiv_id, best, per_field[best], "embedding similarity", "embed", per_field))
    return EmbedResult(scores, field_tokens + paper_tokens, field_requests + paper_requests)
