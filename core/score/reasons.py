"""The offline scorer's one-line reason (pure): which phrases matched, and any low-priority area, worded in
the reader's language. It decides no score; it only says why a score is what it is.
"""

from __future__ import annotations

from collections.abc import Sequence

WEAK_VALUE = 5.0  # below this the reason says "weak match" (the offline scorer's and the ranker's)


def series(items: Sequence[str], lang: str) -> str:
    """Items listed in running text of the reader's language: 、 between Chinese ones, a comma in English."""
    return ("、" if lang == "zh" else ", ").join(items)


def distinct_labels(parts: Sequence[tuple[float, str]], limit: int) -> list[str]:
    """Pick the labels of the strongest matches, skipping one that repeats another ("KV" in "KV cache")."""
    labels: list[str] = []
    for _, label in sorted(parts, key=lambda p: (-p[0], p[1])):
        low = label.lower()
        if not any(low in x.lower() or x.lower() in low for x in labels):
            labels.append(label)
    return labels[:limit]


def build_reason(labels: Sequence[str], value: float, ignored: Sequence[str], lang: str) -> str:
    """Say which phrases matched, and any low-priority area, in the reader's language on one line."""
    zh = lang == "zh"
    if not labels:
        reason = "无明显匹配" if zh else "No strong match"
    elif value < WEAK_VALUE:
        reason = ("弱匹配：" if zh else "Weak match: ") + series(labels, lang)
    else:
        reason = ("匹配：" if zh else "Matched: ") + series(labels, lang)
    if ignored:
        area = series(ignored, lang)
        reason += f"；主要涉及{area}（低优先级）" if zh else f"; mainly about {area} (low priority)"
    return " ".join(reason.split())
