"""Draw a weekly digest's chart as a PNG: papers per field per day, and the week's rising terms (pure).

It draws only what core/build/weekly.py decided (`WeeklyDigest`), with matplotlib's Agg backend, the
DejaVu Sans font matplotlib ships and, for Chinese, the subset of Noto Sans CJK SC the product ships
(data/fonts: GB 2312's 6,763 Hanzi and CJK punctuation; bench/subset_font.py builds it). No system font is
read and no timestamp or version goes into the file, so the same digest gives the same bytes on any machine.
A label with a character neither font has (a rare Hanzi, kana, Hangul) is drawn in English instead of as
empty boxes.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from importlib import resources

import matplotlib

matplotlib.use("Agg")  # no display: this module only ever writes PNG bytes

from matplotlib import font_manager, ft2font  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from core.build.weekly import WeeklyDigest  # noqa: E402

log = logging.getLogger(__name__)

WIDTH, HEIGHT, DPI = 1200, 800, 100
FONT = "DejaVu Sans"
CJK_FONT = "Noto Sans SC Digest"  # the family name of the shipped subset (bench/subset_font.py)
CJK_FONT_FILE = "NotoSansSC-digest.otf"
FONTS_PACKAGE = "arxiv_digest_data.fonts"  # the repo's data/fonts/, shipped as package data
COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
LABELS = {
    "zh": {"title": "ArXiv 每周精选 {start} – {end}", "per_day": "各方向每日达到阈值的论文", "papers": "论文数",
           "rising": "本周上升的词", "frequent": "本周的高频词",
           "this_week": "本周", "week_before": "上一周", "no_terms": "没有上升的词",
           "no_days": "本周还没有评分过的发布日", "weekdays": "周一 周二 周三 周四 周五 周六 周日"},
    "en": {"title": "ArXiv weekly digest {start} – {end}", "per_day": "Papers over the threshold per field per day",
           "papers": "papers", "rising": "Rising terms this week (against the week before)",
           "frequent": "Frequent terms this week (no earlier week stored)", "this_week": "this week",
           "week_before": "the week before", "no_terms": "no rising terms", "no_days": "no scored listing day yet",
           "weekdays": "Mon Tue Wed Thu Fri Sat Sun"},
}


@dataclass(frozen=True, slots=True)
class Chart:
    """A rendered chart: PNG bytes of `width` x `height` pixels."""

    png: bytes
    width: int
    height: int


@lru_cache(maxsize=1)
def _fonts() -> tuple[tuple[str, ft2font.FT2Font], ...]:
    """The chart's font families and fonts, in the order matplotlib falls back through them glyph by glyph.
    The shipped CJK subset is registered with matplotlib on first use; if it is missing or unreadable (a
    broken install), charts are drawn without it, Chinese labels in English, and the log says why."""
    fonts = [(FONT, ft2font.FT2Font(font_manager.findfont(FONT, fallback_to_default=False)))]
    try:
        with resources.as_file(resources.files(FONTS_PACKAGE).joinpath(CJK_FONT_FILE)) as path:
            font_manager.fontManager.addfont(str(path))
        fonts.append((CJK_FONT, ft2font.FT2Font(font_manager.findfont(CJK_FONT, fallback_to_default=False))))
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        log.warning("the weekly chart's Chinese font cannot be loaded (%s): Chinese labels are drawn in English;"
                    " reinstall arxiv-digest", exc)
    return tuple(fonts)


def drawable(label: str) -> bool:
    """Whether the chart's fonts have a glyph for every character of `label`."""
    fonts = [font for _, font in _fonts()]
    return all(ch.isspace() or any(font.get_char_index(ord(ch)) for font in fonts) for ch in label)


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _say(lang: str, key: str, **values: object) -> str:
    wanted = LABELS.get(lang, LABELS["en"])[key].format(**values)
    return wanted if drawable(wanted) else LABELS["en"][key].format(**values)


def render_chart(weekly: WeeklyDigest) -> Chart:
    """Draw `weekly` as a WIDTH x HEIGHT PNG: stacked bars of papers per field per day above, the rising terms
    (this week against the week before) below."""
    lang = weekly.lang
    families = [family for family, _ in _fonts()]  # registered before the figure looks them up
    with matplotlib.rc_context({"font.family": families, "axes.spines.top": False,
                                "axes.spines.right": False}):
        fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
        FigureCanvasAgg(fig)
        fig.suptitle(_say(lang, "title", start=weekly.start.isoformat(), end=weekly.end.isoformat()), fontsize=16)
        top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": (3, 2)})
        top.set_title(_say(lang, "per_day"), fontsize=12, loc="left")
        top.set_ylabel(_say(lang, "papers"))
        if weekly.days:
            # every calendar day of the week on the axis, so a weekend or a holiday shows as a gap
            week = [weekly.start + timedelta(days=i) for i in range((weekly.end - weekly.start).days + 1)]
            rows = dict(zip(weekly.days, weekly.counts, strict=True))
            xs = list(range(len(week)))
            base = [0] * len(week)
            for j, f in enumerate(weekly.fields):
                heights = [rows[d][j] if d in rows else 0 for d in week]
                name = f.name(lang) if drawable(f.name(lang)) else f.name_en
                top.bar(xs, heights, bottom=base, label=_short(name), color=COLOURS[j % len(COLOURS)], width=0.6)
                base = [b + h for b, h in zip(base, heights, strict=True)]
            weekdays = _say(lang, "weekdays").split()  # not strftime's %a: that follows the process's locale
            top.set_xticks(xs, [f"{weekdays[d.weekday()]} {d:%m-%d}" for d in week])
            top.yaxis.get_major_locator().set_params(integer=True)
            if weekly.fields:
                top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
        else:
            top.text(0.5, 0.5, _say(lang, "no_days"), ha="center", va="center", transform=top.transAxes)
            top.set_xticks([])
        bottom.set_title(_say(lang, "rising" if weekly.compared else "frequent"), fontsize=12, loc="left")
        terms = list(reversed(weekly.rising))
        if terms:
            ys = list(range(len(terms)))
            shift = 0.2 if weekly.compared else 0.0
            bottom.barh([y + shift for y in ys], [t.this_week for t in terms], height=0.4, color=COLOURS[0],
                        label=_say(lang, "this_week"))
            if weekly.compared:
                bottom.barh([y - 0.2 for y in ys], [t.week_before for t in terms], height=0.4, color=COLOURS[9],
                            label=_say(lang, "week_before"))
            bottom.set_yticks(ys, [t.term for t in terms])
            bottom.set_xlabel(_say(lang, "papers"))
            bottom.xaxis.get_major_locator().set_params(integer=True)
            bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)  # off the bars
        else:
            bottom.text(0.5, 0.5, _say(lang, "no_terms"), ha="center", va="center", transform=bottom.transAxes)
            bottom.set_yticks([])
        fig.subplots_adjust(left=0.17, right=0.74, top=0.9, bottom=0.08, hspace=0.35)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return Chart(out.getvalue(), WIDTH, HEIGHT)
