"""Small, hand-made models shared by tests (no IO)."""

from __future__ import annotations

from datetime import date

from core.models import Field, Paper, Score

DAY = date(2026, 1, 19)

FIELDS = (
    Field("efficient-llm", "高效大模型训练与推理", "Efficient LLM training and inference",
          "让大模型更快更省", "Making LLM training and inference faster and cheaper", ("KV cache", "quantization")),
    Field("safety-alignment", "大模型安全与对齐", "LLM safety and alignment",
          "安全与对齐", "Safety and alignment of large models", ("alignment", "LLM safety")),
)


def paper(n: int, title: str = "", *, day: date = DAY, authors: int = 2, abstract: str = "") -> Paper:
    return Paper(
        arxiv_id=f"2601.{n:05d}",
        title=title or f"Paper number {n}",
        abstract=abstract or f"We study problem {n}. It matters. We solve it well.",
        authors=tuple(f"Author {n}-{i}" for i in range(authors)),
        categories=("cs.LG", "cs.AI"),
        primary_category="cs.LG",
        published=day,
    )


def score(p: Paper, field: str, value: float, reason: str = "fits", stage: str = "offline") -> Score:
    return Score(p.arxiv_id, field, value, reason, stage, {field: value})
