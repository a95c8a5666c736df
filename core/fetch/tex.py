"""TeX accents in arXiv's author names, titles and abstracts, as Unicode (pure).

arXiv's RSS listing spells names as submitters typed them in TeX: `J\\"urgen Schmidhuber`, `Jo\\~ao`,
`P\\'{e}rez`, `{\\o}`, `{\\"O}zt{\\"u}rk`, `Juan-Manuel~P\\'erez-R\\'ua`. Readers should see
"Jürgen Schmidhuber", and a name typed with its accents (`/follow Jürgen Schmidhuber`) must match it: the
fetchers decode every author name here (core/fetch/text.py `author_name`), and core/score/authors.py
compares names after the same decoding. Only accents, the special letters, `~` ties and grouping braces
are decoded; anything else (math, unknown commands) is left as written.

Titles and abstracts carry the same accents (`B\\'ezier`, `Schr\\"odinger`, `Erd\\H{o}s`) beside math
(`$\\mathcal{O}(n)$`), which readers need as written: `decode_prose` decodes
accents, special letters, text-formatting commands (`\\textit{FLARE}`) and escaped characters outside
math only, and keeps every other brace.
"""

from __future__ import annotations

import re
import unicodedata

# \"o, \"{o}, {\"o}, \'e, \`a, \^o, \~n, \=a, \.z; \c{c}, \v{s}, \u{g}, \H{o}, \k{a}, \r{a} (or \c c).
# An accented letter: \i and \j are the dotless i and j (a control word: the space after it is TeX's own).
_LETTER_ARG = r"(\\[ij](?![A-Za-z])\s*|[A-Za-z])"
_ACCENT = re.compile(  # the space after an unbraced letter is the name's own: "Andr\'e Martins"
    rf"\\([\"'`^~=.])\s*\{{?\s*{_LETTER_ARG}(?:\s*\}})?|\\([cvuHkr])\s*\{{\s*{_LETTER_ARG}\s*\}}"
    rf"|\\([cvuHkr])\s+{_LETTER_ARG}"
)
_COMBINING = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", "=": "\u0304",
              ".": "\u0307", "c": "\u0327", "v": "\u030c", "u": "\u0306", "H": "\u030b", "k": "\u0328",
              "r": "\u030a"}
_LETTER = {"ss": "ß", "o": "ø", "O": "Ø", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ",
           "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "dh": "ð", "DH": "Ð", "th": "þ", "TH": "Þ", "dj": "đ",
           "DJ": "Đ"}
_LETTER_RE = re.compile(r"\\(ss|aa|AA|ae|AE|oe|OE|dh|DH|th|TH|dj|DJ|o|O|l|L|i|j)(?![A-Za-z])\s*(?:\{\})?")
_ESCAPED = re.compile(r"\\([&_%$#])")  # "R\&D", "Lab\_X": TeX's escaped characters
_TIE = re.compile(r"(?<=\S)~(?=\S)")  # "Juan-Manuel~Pérez": TeX's unbreakable space


def _accent(m: re.Match[str]) -> str:
    mark, letter = next((m.group(i), m.group(i + 1)) for i in (1, 3, 5) if m.group(i))
    return letter.strip().lstrip("\\") + _COMBINING[mark]  # Mart\'{\i}n: the accent goes on a plain i


def decode_tex(name: str) -> str:
    """`name` with TeX accents, special letters, groups and ties decoded, in NFC; else unchanged."""
    if "\\" not in name and "{" not in name and "~" not in name:
        return name

    text = _ACCENT.sub(_accent, name)
    text = _LETTER_RE.sub(lambda m: _LETTER[m.group(1)], text)
    text = _ESCAPED.sub(r"\1", text)
    text = _TIE.sub(" ", text).replace("{", "").replace("}", "")  # {\o}, {\"O}zt{\"u}rk: groups, not letters
    return unicodedata.normalize("NFC", " ".join(text.split()))


# Math in a title or abstract: $...$, $$...$$, \(...\), \[...\] (an escaped \$ is a dollar, not math), at most
# MATH_CHARS long: a bound keeps a malformed text of many unclosed "\(" from costing quadratic time.
MATH_CHARS = 1_000
_MATH = re.compile(
    rf"((?<!\\)\$\$.{{1,{MATH_CHARS}}}?(?<!\\)\$\$|(?<!\\)\$.{{1,{MATH_CHARS}}}?(?<!\\)\$"
    rf"|\\\(.{{1,{MATH_CHARS}}}?\\\)|\\\[.{{1,{MATH_CHARS}}}?\\\])",
    re.DOTALL,
)
_FORMAT = re.compile(r"\\(?:text(?:it|bf|sc|tt|rm|sf|sl|up|md|normal)|emph)\s*\{([^{}\\$]*)\}")
_LETTER_GROUP = re.compile(r"\{(\w)\}")  # {ö} once "{\"o}" is decoded: a group of one letter
_PROSE_ESCAPED = re.compile(r"\\([&%#_])")  # not \$: a bare $ would read as math the next time
_ACCENT_GROUP = re.compile(r"\{(\\[\"'`^~=.]\s*[A-Za-z])\}")  # {\"O}zt{\"u}rk: the group around an accent
_DEGREE = re.compile(r"\{\\(?:deg|textdegree)\}|\\textdegree(?![A-Za-z])\s*")  # "360{\deg}"
FORMAT_DEPTH = 4  # text-formatting commands nested deeper than this are left as written
_LINE_BREAK = re.compile(r" ?\\\\ ?")  # "PCBA \\ via": a forced line break in a title


def decode_prose(text: str) -> str:
    """A title or abstract with TeX accents, special letters, text-formatting commands, escaped characters
    and line breaks decoded outside math, in NFC; math and anything unknown are kept as written."""
    if "\\" not in text:
        return text
    parts = _MATH.split(text)
    for i in range(0, len(parts), 2):  # the split keeps math at the odd places
        part = _LINE_BREAK.sub(" ", parts[i])
        part = _ACCENT.sub(_accent, _ACCENT_GROUP.sub(r"\1", part))
        part = _DEGREE.sub("°", part)
        part = _LETTER_RE.sub(lambda m: _LETTER[m.group(1)], part)
        part = _PROSE_ESCAPED.sub(r"\1", part)  # before the formats: \textbf{99.5\%}
        for _ in range(FORMAT_DEPTH):  # \textbf{\textit{x}}: the inner command first
            part, found = _FORMAT.subn(r"\1", part)
            if not found:
                break
        parts[i] = _LETTER_GROUP.sub(r"\1", part)
    return unicodedata.normalize("NFC", "".join(parts))
