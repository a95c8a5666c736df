"""Small, hand-made models shared by tests (no IO)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime

from core.build.digest import build_digest
from core.config import PROJECT_ROOT, Settings
from core.daily import run_day
from core.fields import load_fields
from core.models import Digest, Field, Paper, Score
from core.services import Services
from core.store import Store

SAMPLE_DAY_FILE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"

DAY = date(2026, 1, 19)
UPDATED = datetime(2026, 1, 19, 4, 45, 54, tzinfo=UTC)

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


def sample_digest(lang: str = "zh", min_score: float = 7.0, max_per_field: int = 10) -> Digest:
    """A two-field digest whose titles carry markup characters: every formatter is tested on it."""
    p1 = paper(1, "KV-cache <compression> & the *fast* path", authors=8)
    p2 = paper(2, "Quantized attention_kernels")
    p3 = paper(3, "Red-teaming [LLMs] at scale")
    p4 = paper(4, "A paper below the threshold")
    scored = [
        (p2, score(p2, "efficient-llm", 8.0, "Quantizes attention kernels.")),
        (p1, score(p1, "efficient-llm", 9.0, "Score: 9\nCompresses the KV cache 8x.\nField: efficient-llm")),
        (p3, score(p3, "safety-alignment", 7.5, "A red-teaming benchmark.")),
        (p4, score(p4, "safety-alignment", 6.5, "Weak fit.")),
    ]
    return build_digest(DAY, FIELDS, scored, lang=lang, min_score=min_score, max_per_field=max_per_field,
                        papers_read=251, model="deepseek-chat", tokens=12345, updated_at=UPDATED)


@asynccontextmanager
async def scored_sample(settings: Settings, now: datetime, **services: object) -> AsyncIterator[Services]:
    """Services over `settings`' store with the sample day (2025-12-22, 116 papers) scored offline."""
    async with Store.open_settings(settings) as store:
        svc = Services(settings, store, tuple(load_fields(settings.fields_path)), **services)  # type: ignore[arg-type]
        await run_day(svc, now=now, input_path=SAMPLE_DAY_FILE, offline=True, write_markdown=False)
        yield svc
