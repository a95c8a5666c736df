"""The `/why` reply: an Explanation (core/prepare/explain.py) in the chat's words.

Owns the wording and order of a /why answer: the paper, its field scores, the chat's interests score and
how it was reached, watch-list terms, votes, and where the chat's digest put it. It must not gather
anything (core/prepare/explain.py does) or import a platform library.
"""

from __future__ import annotations

from bot.replies import Reply, field_names, vote_buttons
from bot.texts import say
from core.build.digest import INTERESTS_SLUG, KEYWORDS_FIELD, clean_reason, format_score, paper_item
from core.models import Adjustment, Block, Note, Score, Subscription
from core.prepare.explain import Explanation
from core.score.cache import RETRY_STAGES
from core.score.profile import parse_interests
from core.services import Services, uses_llm


def why_reply(services: Services, sub: Subscription, why: Explanation) -> Reply:
    """Word one Explanation for `sub`'s chat."""
    lang = sub.lang
    p, best = why.paper, why.field_score
    names = {f.slug: f.name(lang) for f in services.fields}
    names.update({KEYWORDS_FIELD.slug: KEYWORDS_FIELD.name(lang), INTERESTS_SLUG: say(lang, "mine")})
    value = why.shown_value if why.shown_value is not None else (best.value if best and best.value else 0.0)
    blocks: list[Block] = [paper_item(p, best, why.section or "", lang, value=value, reason=False)]
    blocks.append(Note(_why_fields(services, sub, best, names)))
    if not sub.interests.strip() or not parse_interests(sub.interests).has_interests:
        interests = say(lang, "why_no_interests") if not sub.interests.strip() else ""
    elif why.interest_score is None or why.interest_score.value is None:
        interests = say(lang, "why_no_day")
    else:
        s = why.interest_score
        if s.stage == "llm":
            how = say(lang, "why_judged")
        elif s.stage in RETRY_STAGES:
            how = say(lang, "why_unjudged")
        else:
            how = say(lang, "why_offline" if uses_llm(services, False) else "why_offline_only")
        interests = say(lang, "why_interests", score=format_score(s.value or 0.0), how=how,
                        reason=clean_reason(s.reason_in(lang))).strip()
    if interests:
        blocks.append(Note(interests))
    if why.watch_terms:
        blocks.append(Note(say(lang, "why_watch", terms=", ".join(why.watch_terms))))
    blocks.append(Note(_why_votes(lang, why.adjustment)))
    if why.adjustment is not None and why.adjustment.followed:
        blocks.append(Note(say(lang, "why_followed", names=", ".join(why.adjustment.followed))))
    if why.adjustment is not None and why.adjustment.avoided:
        blocks.append(Note(say(lang, "why_avoided", terms=", ".join(why.adjustment.avoided))))
    if why.day is not None:
        threshold = format_score(sub.min_score)
        if why.section is not None:
            blocks.append(Note(say(lang, "why_shown", day=why.day.isoformat(), section=names.get(why.section, ""),
                                   score=format_score(why.shown_value or 0.0), threshold=threshold)))
        else:
            blocks.append(Note(say(lang, "why_hidden", day=why.day.isoformat(), threshold=threshold,
                                   names=field_names(services.fields, sub))))
    return Reply(tuple(blocks), buttons=(vote_buttons(p.arxiv_id),))


def _why_fields(services: Services, sub: Subscription, best: Score | None, names: dict[str, str]) -> str:
    lang = sub.lang
    if best is None or best.value is None:
        return say(lang, "why_no_fields")
    wanted = set(sub.fields) or {f.slug for f in services.fields}
    per_field = sorted(((v, slug) for slug, v in best.field_scores.items() if slug in wanted), reverse=True)
    lines = []
    for v, slug in per_field:
        line = f"{format_score(v)} — {names.get(slug, slug)}"
        if slug == best.field_slug:
            line += f" ({say(lang, 'best')}): {clean_reason(best.reason_in(lang))}"
        lines.append(line)
    if best.field_slug and best.field_slug not in best.field_scores and best.field_slug in wanted:
        lines.insert(0, f"{format_score(best.value)} — {names.get(best.field_slug, best.field_slug)}: "
                        f"{clean_reason(best.reason_in(lang))}")
    return say(lang, "why_fields", stage=best.stage) + "\n" + "\n".join(lines or ["—"])


def _why_votes(lang: str, adjustment: Adjustment | None) -> str:
    if adjustment is None or (not adjustment.delta and not adjustment.own_vote):
        return say(lang, "why_no_vote")
    delta = f"{adjustment.delta:+.1f}"
    if adjustment.own_vote > 0:
        return say(lang, "why_vote_own_up", delta=delta.lstrip("+"))
    if adjustment.own_vote < 0:
        return say(lang, "why_vote_own_down")
    parts = []
    if adjustment.liked_id:
        parts.append(say(lang, "why_vote_like", title=_short(adjustment.liked_title),
                         sim=f"{adjustment.like_similarity:.2f}"))
    if adjustment.disliked_id:
        parts.append(say(lang, "why_vote_dislike", title=_short(adjustment.disliked_title),
                         sim=f"{adjustment.dislike_similarity:.2f}"))
    if not parts:
        parts.append(say(lang, "why_vote_model"))
    joiner = "；" if lang == "zh" else "; "
    return joiner.join(parts) + ("，" if lang == "zh" else ", ") + say(lang, "why_vote_delta", delta=delta)


def _short(title: str, limit: int = 80) -> str:
    """A title cut at a word, for one line of /why."""
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rsplit(" ", 1)[0] + "…"
