"""Benchmark (not a test): subscribers with their own interests, at 20 profiles and at 1,000.

Three runs, each through the real dataflow (`core.daily.run_day`, `core.prepare.reader.score_interests`
and `score_profiles`) with the real openai client against the fake server
(tests/fakes/openai_server.py), every token counted by the fake with exact o200k_base counts:

  - the largest sample day, data/arxiv/2025-12-10.jsonl (144 papers);
  - a ~900-paper day: every paper of data/arxiv and data/dev-labelled (880), re-dated to one day,
    first with the first 20 profiles (a small deployment: the daily run scores them in one call, so the
    figure is tokens per profile = all the profiles' tokens / 20), then with all 1,000.

Profiles: 1,000 distinct interests texts, seed 7. Each mixes one or two of the default fields: two or
three phrases drawn from those fields' `terms`, or from 2-3-word phrases of the titles of dev-day papers
the offline scorer puts in those fields; 15% also avoid a topic ("not medical imaging").

What is measured at 1,000 profiles (see core/score/interests.py for the design):
  - the field run (what the day costs with no interests at all);
  - the first profile alone (it pays for reading its own candidates);
  - profiles 2-500 and 501-1,000 in two batches (`score_profiles`): tokens per added profile is
    (tokens after 1,000 - tokens after 500) / 500, so it includes any paper reading the later profiles
    still caused, not only their judgements;
  - 100 of the same profiles again, respelled (case, order, hyphens, spacing): must cost 0 tokens;
  - today's per-profile way for comparison: the whole two-stage field scorer run with the profile as its
    only field (`score_with_cache`), for 3 profiles.

Recall. The fake cannot judge relevance, so the bench gives it a deterministic judge (`reference_score`),
used both for the LLM's judgements during the run and for the reference. It reads what the judging
request shows (a paper's one-sentence summary, the fake's being the title and the abstract's opening
words; or, for a paper nobody read, its title and opening sentence), and rates a paper 8 when all content
words of one interest phrase appear in it in any order and form (words compared on their first 6
letters), 9 for two phrases, 7 for a one-word phrase, 2 for an avoided topic. The reference set of a
profile is every paper of the day this judge rates >= 7 on the fake summary's first sentence when shown
*every* paper (an exhaustive pass, computed directly, with no tokens). Recall is the share of reference
papers that ended up with an interest score >= 7 in the run, i.e. that the routing (core/score/routing.py:
a paper holding most words of a phrase, a pool of 30 of which the learned ranker keeps 18) sent to the
judge. It measures the cheap stage's recall against a judge that tolerates word order and word form,
not the quality of any real LLM's judgement. The router tolerates both too, so what the figure mostly
shows is what the 18-candidate cap and the ranking lose; a real LLM would also accept synonyms that
neither matches, which no figure here shows.
For contrast the bench also reports what a deployment without an LLM would list: the reference papers
that the offline valuation (`offline_interest_scores`, the learned ranker with the profile as its field)
puts at 7 or more, and the time that valuation takes per profile.

Last, on the real labelled days (when the folder is there), whether the ranker keeps more of a field's
LLM picks than word coverage alone when cutting a routed pool (`labelled_ranking`).

It also reports recall of what a digest can list: per profile min(found, 10) / min(reference, 10), summed,
since a digest lists at most DIGEST_MAX_PER_FIELD (10) interest papers.

Run: `.venv/bin/python bench/profiles.py` (about a minute and a half); `--small` runs only the 20-profile day.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openai import AsyncOpenAI  # noqa: E402

from core import daily  # noqa: E402
from core.config import Settings  # noqa: E402
from core.fetch.jsonl import load_papers  # noqa: E402
from core.fields import load_fields, parse_term  # noqa: E402
from core.models import Field, Paper  # noqa: E402
from core.prepare.reader import score_interests, score_profiles  # noqa: E402
from core.score.cache import score_with_cache  # noqa: E402
from core.score.interests import INTEREST_CANDIDATES  # noqa: E402
from core.score.offline import WORD_RE, OfflineScorer, stem  # noqa: E402
from core.score.profile import parse_interests  # noqa: E402
from core.score.requests import shorten_abstract  # noqa: E402
from core.score.routing import ROUTE_POOL, offline_interest_scores, rank_candidates, route_candidates  # noqa: E402
from core.score.summaries import SUMMARY_ABSTRACT_CHARS, first_sentence  # noqa: E402
from core.services import Services  # noqa: E402
from core.store import Store  # noqa: E402
from tests.fakes.openai_server import (  # noqa: E402
    FakeOpenAI,
    default_score,
    fake_summary,
    find_papers,
    token_counter,
)

SEED = 7
PROFILES = 1000
RESPELLED = 100
OLD_WAY_PROFILES = 3
DAY = date(2026, 2, 2)
NOW = datetime(2026, 2, 2, 1, 30, tzinfo=UTC)
AVOID = ("medical imaging", "remote sensing", "robotics", "autonomous driving", "finance", "chemistry")
STOP = frozenset("the a an of for to in on with by from and or as via at is are its into over under using based "
                 "towards toward new beyond through when what how why can not without".split())
TARGET_PER_PROFILE = 2000  # at 20 profiles
TARGET_AT_SCALE = 1600  # at 1,000 profiles
SMALL = 100  # up to this many profiles are scored in one call, as the daily run does
SMALL_PROFILES = 20
SHOWN = 10  # DIGEST_MAX_PER_FIELD: the most interest papers a digest lists


# -- the bench's judge ---------------------------------------------------------------------------------


def _tokens(text: str) -> set[str]:
    return {stem(w)[:6] for w in WORD_RE.findall(text.replace("-", " ")) if len(w) > 2 and w.lower() not in STOP}


def reference_score(phrases: Sequence[str], avoid: Sequence[str], text: str) -> int:
    """The bench's deterministic judge of one paper's summary `text` against a profile (see the docstring)."""
    return judge_tokens([_tokens(p) for p in phrases], [_tokens(a) for a in avoid], _tokens(text))


def judge_tokens(phrases: Sequence[set[str]], avoid: Sequence[set[str]], words: set[str]) -> int:
    """`reference_score` on word sets already cut to their first 6 letters."""
    if any(a and a <= words for a in avoid):
        return 2
    full = []
    best = 0.0
    for wanted in phrases:
        if not wanted:
            continue
        share = len(wanted & words) / len(wanted)
        best = max(best, share)
        if share == 1.0:
            full.append(len(wanted))
    if len(full) >= 2:
        return 9
    if full:
        return 8 if full[0] >= 2 else 7
    return 5 if best >= 0.5 else 3 if best > 0 else 1


_INTERESTS_LINE = re.compile(r"^Reader's interests: (.*)$", re.MULTILINE)
_AVOID_LINE = re.compile(r"^Avoid \([^)]*\): (.*)\.$", re.MULTILINE)


def judge_hook(paper: dict[str, Any], slugs: list[str], prompt: str) -> tuple[str, int]:
    """The fake's scorer: the bench judge for interest judgements, the default hash for field scoring."""
    found = _INTERESTS_LINE.search(prompt)
    if found is None:
        return default_score(paper, slugs)
    avoid = _AVOID_LINE.search(prompt)
    phrases = found.group(1).split("; ")
    return (slugs[0] if slugs else "interests",
            reference_score(phrases, avoid.group(1).split(", ") if avoid else [], str(paper.get("text", ""))))


def gist_of(paper: Paper) -> str:
    """What the judging request shows for `paper`: the first sentence of the fake's summary of it."""
    sent = {"id": paper.arxiv_id, "title": " ".join(paper.title.split()),
            "abstract": shorten_abstract(paper.abstract, SUMMARY_ABSTRACT_CHARS)}
    return first_sentence(fake_summary(sent, "en"))


# -- profiles ----------------------------------------------------------------------------------------------


def title_phrases(papers: Sequence[Paper], fields: Sequence[Field]) -> dict[str, list[str]]:
    """2-3-word phrases of dev-day titles, grouped by the paper's best field (offline scorer)."""
    scorer = OfflineScorer(fields)
    out: dict[str, list[str]] = {f.slug: [] for f in fields}
    for paper in papers:
        score = scorer.score(paper, "en")
        if score.field_slug is None or (score.value or 0) < 4:
            continue
        words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]+", paper.title)]
        for n in (2, 3):
            for i in range(len(words) - n + 1):
                gram = words[i : i + n]
                if gram[0] not in STOP and gram[-1] not in STOP and all(len(w) > 2 for w in gram):
                    out[score.field_slug].append(" ".join(gram))
    return out


def make_profiles(fields: Sequence[Field], dev_papers: Sequence[Paper], n: int, seed: int) -> list[str]:
    """`n` interests texts with distinct normalised profiles (deterministic)."""
    rng = random.Random(seed)
    terms = {f.slug: sorted({parse_term(t)[0] for t in f.terms} - {t for t in (parse_term(x)[0] for x in f.terms)
                                                                    if t.endswith("*")}) for f in fields}
    titles = title_phrases(dev_papers, fields)
    slugs = [f.slug for f in fields]
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        chosen = rng.sample(slugs, rng.choice((1, 2)))
        phrases = []
        for _ in range(rng.choice((2, 3))):
            slug = rng.choice(chosen)
            pool = titles[slug] if titles[slug] and rng.random() < 0.5 else terms[slug]
            phrases.append(rng.choice(pool))
        if rng.random() < 0.15:
            phrases.append("not " + rng.choice(AVOID))
        text = ", ".join(dict.fromkeys(phrases))
        key = parse_interests(text).key
        if key and key not in seen:
            seen.add(key)
            out.append(text)
    return out


def respell(text: str, rng: random.Random) -> str:
    """The same interests typed differently: order, case, hyphens and spacing."""
    parts = [p.strip() for p in text.split(",")]
    rng.shuffle(parts)
    parts = [p.upper() if rng.random() < 0.3 else p.title() if rng.random() < 0.5 else p for p in parts]
    parts = [p.replace(" ", "-", 1) if rng.random() < 0.3 and not p.lower().startswith("not ") else p for p in parts]
    return " ;  ".join(parts) if rng.random() < 0.5 else ",".join(parts) + " "


# -- one day -------------------------------------------------------------------------------------------------


def write_day(papers: Sequence[Paper], path: Path) -> None:
    """Write papers as one listing day (DAY) in the data/arxiv JSONL shape."""
    rows = [{"id": p.arxiv_id, "title": p.title, "abstract": p.abstract, "authors": list(p.authors),
             "categories": list(p.categories), "primary_category": p.primary_category,
             "published": DAY.isoformat()} for p in papers]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")


def usage(fake: FakeOpenAI) -> int:
    prompt, completion = fake.usage_totals()
    return prompt + completion


def kind_of(call: Any) -> str:
    fmt = call.body.get("response_format") or {}
    return str((fmt.get("json_schema") or {}).get("name", "json_object"))


async def run_day(
    name: str, papers: Sequence[Paper], profiles: Sequence[str], fields: Sequence[Field],
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "papers": len(papers)}
    with tempfile.TemporaryDirectory() as tmp:
        day_file = Path(tmp) / "day.jsonl"
        write_day(papers, day_file)
        async with FakeOpenAI() as fake:
            fake.prompt_scorer = judge_hook
            env = {"DATABASE_PATH": str(Path(tmp) / "db.sqlite"), "DIGEST_DIR": str(Path(tmp) / "digests"),
                   "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": f"{fake.url}/v1", "LLM_MODEL": "bench-model",
                   "LLM_MAX_RETRIES": "0", "DIGEST_LANGUAGE": "en"}
            settings = Settings.from_env(env)
            llm = AsyncOpenAI(api_key="sk-bench", base_url=f"{fake.url}/v1", max_retries=0)
            async with Store.open_settings(settings) as store:
                services = Services(settings, store, tuple(fields), llm=llm)
                started = time.monotonic()
                result = await daily.run_day(services, now=NOW, input_path=day_file, write_markdown=False)
                out["field_run"] = usage(fake)
                t0 = time.monotonic()
                if len(profiles) <= SMALL:  # a small deployment: the daily run scores every profile at once
                    first: dict[str, Any] = {}
                    batch1 = await score_profiles(services, profiles, DAY, now=NOW)
                    batch2: dict[str, Any] = {}
                    out["first"] = None
                    at_end = usage(fake)
                    out["marginal"] = (at_end - out["field_run"]) / len(profiles)
                else:
                    first = {profiles[0]: await score_interests(services, profiles[0], DAY, now=NOW)}
                    out["first"] = usage(fake) - out["field_run"]
                    half = len(profiles) // 2
                    batch1 = await score_profiles(services, profiles[1:half], DAY, now=NOW)
                    at_half = usage(fake)
                    batch2 = await score_profiles(services, profiles[half:], DAY, now=NOW)
                    at_end = usage(fake)
                    out["marginal"] = (at_end - at_half) / (len(profiles) - half)
                out["seconds_profiles"] = time.monotonic() - t0
                out["total"] = at_end
                out["profiles_tokens"] = at_end - out["field_run"]
                judge_calls = [c for c in fake.calls() if kind_of(c) == "interest_scores" and c.usage]
                summary_calls = [c for c in fake.calls() if kind_of(c) == "paper_summaries" and c.usage]
                out["judge_tokens"] = sum(c.usage["total_tokens"] for c in judge_calls if c.usage)
                out["summary_tokens"] = sum(c.usage["total_tokens"] for c in summary_calls if c.usage)
                out["judge_requests"], out["summary_requests"] = len(judge_calls), len(summary_calls)
                per_profile = [c.usage["total_tokens"] for c in judge_calls if c.usage]
                out["judge_per_request"] = per_profile
                out["judge_in_out"] = (statistics.mean(c.usage["prompt_tokens"] for c in judge_calls if c.usage),
                                       statistics.mean(c.usage["completion_tokens"] for c in judge_calls if c.usage))
                read = [q["id"] for c in summary_calls for q in find_papers(c.prompt)]
                out["papers_read"], out["papers_read_unique"] = len(read), len(set(read))
                # identical profiles, respelled: no new tokens
                rng = random.Random(SEED + 1)
                again = [respell(t, rng) for t in rng.sample(list(profiles), min(RESPELLED, len(profiles)))]
                before = usage(fake)
                await score_profiles(services, again, DAY, now=NOW)
                for text in again[:10]:
                    await score_interests(services, text, DAY, now=NOW)
                out["respelled_tokens"] = usage(fake) - before
                out["respelled_example"] = (rng.choice(again),)
                # recall against the exhaustive reference
                scored = {**first, **batch1, **batch2}
                gists = {p.arxiv_id: gist_of(p) for p in papers}
                out.update(recall(scored, gists, papers))
                # today's way: the whole two-stage scorer with the profile as its only field
                before = usage(fake)
                for text in profiles[:OLD_WAY_PROFILES]:
                    scoped = Services(settings, store, (parse_interests(text).field(),), llm=llm)
                    await score_with_cache(scoped, await store.papers_for_day(DAY), offline=False, now=NOW,
                                                    budget_day=None, use_cache=False)
                out["old_way"] = (usage(fake) - before) / OLD_WAY_PROFILES
                out["seconds"] = time.monotonic() - started
                out["day_papers"] = result.papers_read
            await llm.close()
    return out


def recall(scored: dict[str, Any], gists: dict[str, str], papers: Sequence[Paper]) -> dict[str, Any]:
    """Reference sets by exhaustive judging, against what each profile's run rated >= 7."""
    found = total = offline_found = offline_listed = 0
    offline_seconds = 0.0
    per_profile: list[float] = []
    sizes: list[int] = []
    candidates: list[int] = []
    capped_found = capped_total = shown_found = shown_total = 0
    words = {i: _tokens(g) for i, g in gists.items()}
    for text, pairs in scored.items():
        profile = parse_interests(text)
        phrases, avoid = profile.normalised
        wanted, avoided = [_tokens(p) for p in phrases], [_tokens(a) for a in avoid]
        reference = {i for i, w in words.items() if judge_tokens(wanted, avoided, w) >= 7}
        got = {p.arxiv_id for p, s in pairs if s.stage == "llm" and (s.value or 0) >= 7}
        if reference:  # what a deployment without an LLM lists: the offline valuation at 7 or more
            started = time.perf_counter()
            offline = offline_interest_scores(profile.judge_field(), papers, "en")
            offline_seconds += time.perf_counter() - started
            high = {i for i, s in offline.items() if (s.value or 0) >= 7}
            offline_found += len(reference & high)
            offline_listed += len(high)
        candidates.append(sum(1 for _, s in pairs if s.stage in ("llm", "offline-fallback", "offline-budget")))
        sizes.append(len(reference))
        if not reference:
            continue
        hit = len(reference & got)
        found += hit
        total += len(reference)
        per_profile.append(hit / len(reference))
        capped_found += hit
        capped_total += min(len(reference), INTEREST_CANDIDATES)
        shown_found += min(hit, SHOWN)
        shown_total += min(len(reference), SHOWN)
    return {
        "recall_micro": found / total if total else 0.0,
        "recall_macro": statistics.mean(per_profile) if per_profile else 0.0,
        "recall_capped": capped_found / capped_total if capped_total else 0.0,
        "recall_shown": shown_found / shown_total if shown_total else 0.0,
        "recall_offline": offline_found / total if total else 0.0,
        "offline_listed": offline_listed / max(1, len(per_profile)),
        "offline_seconds": offline_seconds / max(1, len(per_profile)),
        "with_reference": len(per_profile),
        "reference_mean": statistics.mean(sizes),
        "reference_median": statistics.median(sizes),
        "candidates_mean": statistics.mean(candidates),
        "profiles": len(scored),
    }


def report(r: dict[str, Any]) -> None:
    per = sorted(r["judge_per_request"])
    q = statistics.quantiles(per, n=20) if len(per) > 1 else per * 19
    print(f"\n== {r['name']}: {r['papers']} papers, {r['profiles']} distinct interest profiles")
    print(f"field run (7 default fields, no interests)      {r['field_run']:>10,} tokens")
    if r["first"] is not None:
        print(f"first profile alone (reads its candidates)      {r['first']:>10,} tokens")
    print(f"all {r['profiles']:,} profiles                              {r['profiles_tokens']:>10,} tokens "
          f"= summaries {r['summary_tokens']:,} ({r['summary_requests']} requests) "
          f"+ judging {r['judge_tokens']:,} ({r['judge_requests']} requests)")
    print(f"papers summarised: {r['papers_read_unique']} of {r['papers']}, each read once"
          f" ({r['papers_read']} paper-readings in all)")
    print(f"day total (field run + {r['profiles']:,} profiles)             {r['total']:>10,} tokens")
    target = TARGET_PER_PROFILE if r["profiles"] <= SMALL else TARGET_AT_SCALE
    what = (f"per profile, all {r['profiles']} in one call     " if r["profiles"] <= SMALL
            else f"per added profile, profiles {r['profiles'] // 2 + 1}-{r['profiles']}      ")
    print(f"{what}{r['marginal']:>10,.0f} tokens "
          f"(target <= {target:,}: {'met' if r['marginal'] <= target else 'MISSED'})")
    print(f"judging per request (one per profile): mean {statistics.mean(per):,.0f},"
          f" median {statistics.median(per):,.0f}, p95 {q[18]:,.0f}, max {per[-1]:,};"
          f" candidates per profile: mean {r['candidates_mean']:.1f} (cap {INTEREST_CANDIDATES});"
          f" in/out {r['judge_in_out'][0]:,.0f}/{r['judge_in_out'][1]:,.0f}")
    print("today's way, per profile (the two-stage scorer re-run with the profile as its field):"
          f" {r['old_way']:,.0f} tokens")
    print(f"same profiles respelled ({RESPELLED} batch + 10 one by one): {r['respelled_tokens']} tokens;"
          f" e.g. {r['respelled_example'][0]!r}")
    print(f"reference (exhaustive judge >= 7): mean {r['reference_mean']:.1f}, median {r['reference_median']} papers"
          f" per profile; {r['with_reference']} profiles have any")
    print(f"recall of the reference: micro {r['recall_micro']:.1%}, macro {r['recall_macro']:.1%},"
          f" against min(reference, {INTEREST_CANDIDATES}) {r['recall_capped']:.1%},"
          f" of what a digest can list (min(found, {SHOWN}) / min(reference, {SHOWN})) {r['recall_shown']:.1%};"
          f" offline, without an LLM (papers valued >= 7): {r['recall_offline']:.1%} micro,"
          f" {r['offline_listed']:.1f} papers >= 7 per profile, {r['offline_seconds'] * 1000:.0f} ms per profile")
    print(f"time: {r['seconds']:.1f} s in all, {r['seconds_profiles']:.1f} s for the profiles")


def labelled_ranking(fields: Sequence[Field]) -> None:
    """Does the ranker pick better than word coverage among a profile's routed pool, by a real LLM's labels?

    On every third day of ../shared/data/labelled-days (when present), a profile of each default field's
    first four plain terms; of its routed pool (ROUTE_POOL), the share of that field's picks (score >= 7,
    up to the cap) among the INTEREST_CANDIDATES kept: by routing order alone, and by the ranker as shipped.
    The ranker was trained on these days and fields, so this flatters it; it is a sanity check only.
    """
    found = [d for d in (ROOT.parent / "shared" / "data" / "labelled-days",  # beside the checkout, or a worktree's
                         ROOT.parents[1] / "shared" / "data" / "labelled-days") if d.is_dir()]
    if not found:
        return
    folder = found[0]
    kept: dict[str, list[float]] = {"routing order": [], "ranker + routing order": []}
    for path in sorted(folder.glob("*.jsonl"))[::3]:
        labels = {r["id"]: r["label"] for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}
        papers = load_papers(path)
        by_id = {p.arxiv_id: p for p in papers}
        for f in fields:
            terms = [t for t in (parse_term(x)[0] for x in f.terms) if not t.endswith("*")][:4]
            profile = parse_interests(", ".join(terms))
            picks = {i for i, lab in labels.items() if lab and lab["field"] == f.slug and lab["score"] >= 7}
            if not picks:
                continue
            pool = route_candidates(profile.normalised[0], papers, ROUTE_POOL)
            cap = max(1, min(len(picks), INTEREST_CANDIDATES))
            kept["routing order"].append(len(set(pool[:INTEREST_CANDIDATES]) & picks) / cap)
            ranked = rank_candidates(profile.judge_field(), [by_id[i] for i in pool], INTEREST_CANDIDATES)
            kept["ranker + routing order"].append(len(set(ranked) & picks) / cap)
    print(f"\n== labelled days: a field's picks among the {INTEREST_CANDIDATES} kept of {ROUTE_POOL} routed"
          f" ({len(kept['routing order'])} day-fields; the ranker saw these days in training)")
    for name, shares in kept.items():
        print(f"  {name:<24} {statistics.mean(shares):.1%}")


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    fields = load_fields(ROOT / "data/fields/default.toml")
    dev = [p for f in sorted((ROOT / "data/dev-labelled").glob("*.jsonl")) for p in load_papers(f)]
    profiles = make_profiles(fields, dev, PROFILES, SEED)
    print(f"token counts: {token_counter()}; profiles: {len(profiles)} distinct, seed {SEED}, e.g.")
    for text in profiles[:3]:
        print(f"  {text!r}")
    small = load_papers(ROOT / "data/arxiv/2025-12-10.jsonl")
    big = [p for folder in ("data/arxiv", "data/dev-labelled")
           for f in sorted((ROOT / folder).glob("*.jsonl")) for p in load_papers(f)]
    big = list({p.arxiv_id: p for p in big}.values())
    only_small = "--small" in sys.argv[1:]
    runs = [("all sample days as one day", big, profiles[:SMALL_PROFILES])]
    if not only_small:
        runs += [("largest sample day 2025-12-10", small, profiles), ("all sample days as one day", big, profiles)]
    for name, papers, chosen in runs:
        report(await run_day(name, papers, chosen, fields))
    if not only_small:
        labelled_ranking(fields)


if __name__ == "__main__":
    asyncio.run(main())
