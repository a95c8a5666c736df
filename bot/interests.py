"""What the reply to `/interests` says about a profile (pure). Part of the command layer (bot/commands.py).

The reply restates what was understood (the interests, scored as "My interests"; the avoided topics; the watch
list) and what will not work as the reader may expect: without an LLM, how Chinese phrases are read in English,
or that nothing could be, and the Chinese words the glossary does not know (an LLM reads those into English
itself: core/score/readings.py); and Chinese watch keywords, which are matched literally in English titles
and abstracts.
"""

from __future__ import annotations

from bot.replies import Reply, info
from bot.texts import say
from core.score.glossary import CJK, unread_terms
from core.score.profile import Profile
from core.score.reasons import series
from core.score.routing import english_phrases


def interests_reply(profile: Profile, lang: str, *, offline: bool) -> Reply:
    """The reply to a saved `/interests` text; `offline`: no LLM judges interests in this deployment."""
    lines = [say(lang, "interests_set", text="; ".join(profile.interests))] if profile.has_interests else []
    if profile.avoid:
        lines.append(say(lang, "interests_avoid", terms="; ".join(profile.avoid)))
    if profile.watch:
        key = "interests_watch" if profile.has_interests else "interests_watch_only"
        lines.append(say(lang, key, terms=", ".join(profile.watch)))
    hinted = False
    if profile.has_interests and offline:  # the offline ranker reads English
        readable = english_phrases(profile.interests)
        if not readable:
            lines.append(say(lang, "interests_offline_words"))
            hinted = True
        elif any(CJK.search(phrase) for phrase in profile.interests):
            lines.append(say(lang, "interests_offline_read", terms="; ".join(readable)))
    unread = unread_terms((*profile.interests, *profile.avoid)) if offline else ()  # an LLM reads them
    if unread and not hinted:  # the hint above already says that nothing is read
        lines.append(say(lang, "interests_unread", terms=series(unread, lang)))
    chinese = [keyword for keyword in profile.keywords if CJK.search(keyword)]
    if chinese:
        lines.append(say(lang, "interests_watch_chinese", terms=", ".join(chinese)))
    return info(*lines)
