"""Benchmark (not a test): tokens per paper read, today's tool versus our two-stage LLM scorer.

Runs real listing days through the fake OpenAI server (tests/fakes/openai_server.py), so both sides are
counted by the same function (`count_tokens`: exact o200k_base counts from the `bpe-openai` package, the
`bench` extra; an approximation only if that package is missing; see that module):

  (a) baseline: what today's tool does. Every paper, 50 per prompt, with authors, under a verbose
      Chinese instruction; the reply echoes each pick as a text block (title, authors, affiliations,
      field, score, reason). Picks are the dev labels where a day has them, else 30% of the papers
      (as on the heavy day: 298 of 931), chosen by a hash of the id. Reasoning tokens are not counted,
      so the baseline here is cheaper than the 460-545 tokens per paper seen in practice.
  (b) ours: the learned ranker (the offline scorer) ranks every paper, `select` passes LLM_PASS_RATE of them, and
      `score_papers` scores those in JSON batches with the default settings (batch size, abstract
      characters, JSON mode).

"Per paper" divides by every paper of the day (what both tools are asked to read); "per LLM paper"
divides ours by the papers the LLM itself read. It also reports the cheap stage's recall of the dev days'
picks, and of picks scored >= 8, then sweeps pass rate x batch size, and abstract characters.
Run: `.venv/bin/python bench/cost.py`; `bench/cost.py zh,en` asks for reasons in both languages in one reply
(what a run does when readers of both languages are subscribed), to measure what the second language costs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openai import AsyncOpenAI  # noqa: E402

from core.config import Settings  # noqa: E402
from core.fields import load_fields  # noqa: E402
from core.models import Field, Paper  # noqa: E402
from core.prompts import load_prompt  # noqa: E402
from core.score.cache import OfflineRanker  # noqa: E402
from core.score.llm import LLMConfig, score_papers  # noqa: E402
from core.score.ranker import Ranked, select  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI, default_score, token_counter  # noqa: E402

DAYS = (
    ROOT / "data/dev-labelled/2026-01-19.jsonl",
    ROOT / "data/dev-labelled/2026-01-22.jsonl",
    ROOT / "data/arxiv/2025-12-10.jsonl",
)
BASELINE_BATCH = 50
BASELINE_PICK_SHARE = 0.30
SWEEP_RATES = (0.35, 0.4, 0.5, 0.53, 0.55, 0.6)
SWEEP_BATCHES = (10, 20, 25, 30)
SWEEP_ABSTRACT_CHARS = (400, 450, 500, 550, 600, 800)
AFFILIATIONS = ("清华大学；上海人工智能实验室", "Stanford University; Google DeepMind", "北京大学；微软亚洲研究院",
                "Carnegie Mellon University", "浙江大学；阿里巴巴达摩院", "MIT CSAIL; Meta FAIR")
GENERIC_REASON = ("该论文提出了一种新方法，与所关注领域的核心问题直接相关，实验在多个基准上验证了有效性，"
                  "作者团队在该方向有较强积累，具有较高的参考价值，建议重点阅读。")

BASELINE_INSTRUCTION = """你是一名资深的人工智能领域研究员和论文审稿人，精通深度学习、大模型、多模态与智能体等方向。
现在请你帮我从今天 arXiv 上新发布的论文中，筛选出与我的研究兴趣最相关、最值得阅读的论文。

我的研究兴趣如下（请综合考虑每个方向的关键词）：
{fields}

以下方向为低优先级，除非与上述方向有明显交叉，否则不要推荐：{ignore}。

请仔细阅读每篇论文的标题、作者和摘要，从以下几个维度进行综合评估：
1. 相关性：论文内容与我的研究兴趣的匹配程度；
2. 价值：论文的创新性、技术深度、实验的充分性以及潜在影响；
3. 机构与作者：作者所在机构和作者本人在该领域的影响力与声誉。

评分标准为 1-10 分，只推荐评分在 7 分及以上的论文。对于每一篇推荐的论文，请按以下格式完整输出：

### 论文标题
- 作者：完整作者列表
- 机构：作者所属机构
- 领域：所属研究方向
- 评分：X/10
- 推荐理由：用中文详细说明推荐这篇论文的理由，包括它解决了什么问题、用了什么方法、为什么值得阅读。

请按评分从高到低排序输出，不要遗漏任何值得推荐的论文。下面是今天的论文列表：
"""


@dataclass(frozen=True, slots=True)
class Label:
    field: str
    score: float
    reason_zh: str


def load_day(path: Path) -> tuple[list[Paper], dict[str, Label]]:
    """Read one JSONL day: papers, and the dev labels if the file has them."""
    papers: list[Paper] = []
    labels: dict[str, Label] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        papers.append(Paper(
            arxiv_id=row["id"], title=row["title"], abstract=row["abstract"], authors=tuple(row["authors"]),
            categories=tuple(row["categories"]), primary_category=row["primary_category"],
            published=date.fromisoformat(row["published"]),
        ))
        if row.get("label"):
            labels[row["id"]] = Label(row["label"]["field"], float(row["label"]["score"]), row["label"]["reason_zh"])
    return papers, labels


def _share(arxiv_id: str) -> float:
    return int(hashlib.sha256(arxiv_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def baseline_picks(papers: Sequence[Paper], labels: dict[str, Label], fields: Sequence[Field]) -> dict[str, Label]:
    """The dev labels, or 30% of the papers by hash on a day without labels."""
    if labels:
        return labels
    return {p.arxiv_id: Label(fields[int(_share(p.arxiv_id) * 1000) % len(fields)].slug, 7.5, GENERIC_REASON)
            for p in papers if _share(p.arxiv_id) < BASELINE_PICK_SHARE}


def baseline_prompt(papers: Sequence[Paper], fields: Sequence[Field]) -> str:
    field_text = "\n".join(f"- {f.name_zh}：{f.description_zh} 关键词：{', '.join(f.keywords)}" for f in fields)
    ignore = "、".join(sorted({i for f in fields for i in f.ignore}))
    lines = [BASELINE_INSTRUCTION.format(fields=field_text, ignore=ignore)]
    for i, p in enumerate(papers, 1):
        lines.append(f"[{i}] 标题：{p.title}\n作者：{', '.join(p.authors)}\n分类：{', '.join(p.categories)}\n"
                     f"摘要：{p.abstract}\n")
    return "\n".join(lines)


def baseline_reply(papers: Sequence[Paper], picks: dict[str, Label], fields: Sequence[Field]) -> str:
    names = {f.slug: f.name_zh for f in fields}
    blocks = []
    for p in papers:
        label = picks.get(p.arxiv_id)
        if label is None:
            continue
        blocks.append(
            f"### {p.title}\n- 作者：{', '.join(p.authors)}\n"
            f"- 机构：{AFFILIATIONS[int(_share(p.arxiv_id) * 97) % len(AFFILIATIONS)]}\n"
            f"- 领域：{names.get(label.field, label.field)}\n- 评分：{label.score:g}/10\n"
            f"- 推荐理由：{label.reason_zh}\n"
        )
    return "\n".join(blocks) if blocks else "今天没有值得推荐的论文。"


async def run_baseline(fake: FakeOpenAI, llm: AsyncOpenAI, papers: Sequence[Paper], picks: dict[str, Label],
                       fields: Sequence[Field]) -> int:
    """Send the day the old way; return tokens in + out as the fake counted them."""
    before = sum(fake.usage_totals())
    for i in range(0, len(papers), BASELINE_BATCH):
        chunk = papers[i: i + BASELINE_BATCH]
        fake.push("raw", content=baseline_reply(chunk, picks, fields))
        await llm.chat.completions.create(
            model="reasoner", messages=[{"role": "user", "content": baseline_prompt(chunk, fields)}])
    return sum(fake.usage_totals()) - before


@dataclass(frozen=True, slots=True)
class Day:
    name: str
    papers: list[Paper]
    labels: dict[str, Label]
    offline: list[Ranked]
    baseline_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Ours:
    llm_read: int
    tokens: int
    requests: int
    picks_kept: int
    picks8_kept: int


def dev_scorer(labels: dict[str, Label]) -> Callable[[dict[str, Any], list[str]], tuple[str, int]]:
    """Let the fake answer like the dev model: its label where it picked, else a score of 6 or less."""
    def scorer(paper: dict[str, Any], slugs: list[str]) -> tuple[str, int]:
        label = labels.get(str(paper["id"]))
        if label is not None:
            return label.field, round(label.score)
        slug, score = default_score(paper, slugs)
        return slug, min(score, 6)  # the dev model picked every paper it scored 7 or more
    return scorer


async def measure_baseline(day: Day, fields: Sequence[Field]) -> int:
    async with FakeOpenAI() as fake:
        llm = AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="bench", max_retries=0)
        try:
            return await run_baseline(fake, llm, day.papers, baseline_picks(day.papers, day.labels, fields), fields)
        finally:
            await llm.close()


async def measure_ours(day: Day, fields: Sequence[Field], config: LLMConfig, pass_rate: float) -> Ours:
    """Cheap stage at `pass_rate`, then score_papers through the fake; return what it cost and kept."""
    passed = set(select(day.offline, pass_rate))
    to_llm = [p for p in day.papers if p.arxiv_id in passed]
    async with FakeOpenAI() as fake:
        fake.scorer = dev_scorer(day.labels)
        llm = AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="bench", max_retries=0)
        try:
            result = await score_papers(llm, to_llm, fields, prompt=load_prompt("score_papers"), config=config,
                                        fallback={r.score.arxiv_id: r.score for r in day.offline})
        finally:
            await llm.close()
        counted = sum(fake.usage_totals())
    assert counted == result.tokens, (counted, result.tokens)
    assert len(result.scores) == len(to_llm) and result.fallbacks == 0
    picks8 = {i for i, label in day.labels.items() if label.score >= 8}
    return Ours(llm_read=len(to_llm), tokens=result.tokens, requests=result.requests,
                picks_kept=len(day.labels.keys() & passed), picks8_kept=len(picks8 & passed))


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


async def main(langs: Sequence[str] = ()) -> None:
    logging.basicConfig(level=logging.WARNING)
    settings = Settings.from_env({})
    fields = load_fields(settings.fields_path)
    config = LLMConfig.from_settings(settings, langs=langs)
    scorer = OfflineRanker(fields)
    days = []
    for path in DAYS:
        day_papers, labels = load_day(path)
        day = Day(path.name, day_papers, labels, scorer.rank_many(day_papers, settings.digest_language))
        days.append(dataclasses.replace(day, baseline_tokens=await measure_baseline(day, fields)))
    print(f"settings: pass rate {settings.llm_pass_rate}, batch {config.batch_size}, abstract chars "
          f"{config.abstract_chars}, json mode {config.json_mode}, reasons in {'+'.join(config.reason_langs)}, "
          f"{len(fields)} fields; "
          f"tokens = in + out, counted by tests/fakes/openai_server.count_tokens ({token_counter()})")
    print(f"{'day':<18}{'papers':>7}{'to LLM':>7}{'base tok':>10}{'base/pp':>9}{'ours tok':>10}"
          f"{'ours/pp':>9}{'ratio':>7}{'reqs':>6}  cheap-stage recall: picks, picks>=8")
    results = [await measure_ours(day, fields, config, settings.llm_pass_rate) for day in days]
    for day, r in zip(days, results, strict=True):
        picks8 = sum(1 for label in day.labels.values() if label.score >= 8)
        recall = (f"{r.picks_kept}/{len(day.labels)} {pct(r.picks_kept, len(day.labels))}, "
                  f"{r.picks8_kept}/{picks8} {pct(r.picks8_kept, picks8)}") if day.labels else "no labels"
        n, base = len(day.papers), day.baseline_tokens
        print(f"{day.name:<18}{n:>7}{r.llm_read:>7}{base:>10}{base / n:>9.1f}{r.tokens:>10}{r.tokens / n:>9.1f}"
              f"{r.tokens / base:>7.3f}{r.requests:>6}  {recall}")
    papers = sum(len(d.papers) for d in days)
    base = sum(d.baseline_tokens for d in days)
    picks = sum(len(d.labels) for d in days)
    picks8 = sum(1 for d in days for label in d.labels.values() if label.score >= 8)

    def totals(rs: Sequence[Ours]) -> tuple[int, int, int, int, int]:
        return (sum(r.llm_read for r in rs), sum(r.tokens for r in rs), sum(r.requests for r in rs),
                sum(r.picks_kept for r in rs), sum(r.picks8_kept for r in rs))

    read, ours, reqs, kept, kept8 = totals(results)
    print(f"{'all':<18}{papers:>7}{read:>7}{base:>10}{base / papers:>9.1f}{ours:>10}{ours / papers:>9.1f}"
          f"{ours / base:>7.3f}{reqs:>6}  {kept}/{picks} {pct(kept, picks)}, {kept8}/{picks8} {pct(kept8, picks8)}")
    print(f"ours per paper the LLM read: {ours / read:.1f} tokens; baseline excludes reasoning tokens "
          f"(today's tool measured 460-545 per paper in practice)")
    checks = [
        ("ours <= 150 tokens per paper read (every paper of the day)", ours / papers <= 150),
        ("ours <= 0.3 x baseline", ours / base <= 0.3),
        ("cheap stage keeps >= 97% of picks scored >= 8", picks8 > 0 and kept8 / picks8 >= 0.97),
    ]
    for name, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")

    print("\nsweep (all days): pass rate x batch size")
    print(f"{'pass':>6}{'batch':>6}{'to LLM':>8}{'ours/pp':>9}{'ratio':>7}{'tok/LLM paper':>15}"
          "  recall: picks, picks>=8")
    for rate in SWEEP_RATES:
        for batch in SWEEP_BATCHES:
            cfg = dataclasses.replace(config, batch_size=batch)
            read, ours, _, kept, kept8 = totals([await measure_ours(d, fields, cfg, rate) for d in days])
            print(f"{rate:>6.2f}{batch:>6}{read:>8}{ours / papers:>9.1f}{ours / base:>7.3f}{ours / read:>15.1f}"
                  f"  {pct(kept, picks)}, {kept8}/{picks8} {pct(kept8, picks8)}")

    print(f"\nsweep (all days): abstract characters, at pass rate {settings.llm_pass_rate}, batch {config.batch_size}")
    print(f"{'chars':>6}{'ours/pp':>9}{'ratio':>7}{'tok/LLM paper':>15}")
    for chars in SWEEP_ABSTRACT_CHARS:
        cfg = dataclasses.replace(config, abstract_chars=chars)
        read, ours, _, _, _ = totals([await measure_ours(d, fields, cfg, settings.llm_pass_rate) for d in days])
        print(f"{chars:>6}{ours / papers:>9.1f}{ours / base:>7.3f}{ours / read:>15.1f}")


if __name__ == "__main__":
    asyncio.run(main(tuple(sys.argv[1].split(",")) if len(sys.argv) > 1 else ()))
