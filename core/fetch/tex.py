"""TeX accents in arXiv's author names, as Unicode (pure).

arXiv's RSS listing spells names as submitters typed them in TeX: `J\\"urgen Schmidhuber`, `Jo\\~ao`,
`P\\'{e}rez`, `{\\o}`, `{\\"O}zt{\\"u}rk`, `Juan-Manuel~P\\'erez-R\\'ua`. Readers should see
"Jürgen Schmidhuber", and a name typed with its accents (`/follow Jürgen Schmidhuber`) must match it: the
fetchers decode every author name here (core/fetch/text.py `author_name`), and core/score/authors.py
compares names after the same decoding. Only accents, the special letters, `~` ties and grouping braces
are decoded; anything else (math, unknown commands) is left as written.
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


def decode_tex(name: str) -> str:
    """`name` with TeX accents, special letters, groups and ties decoded, in NFC; else unchanged."""
    if "\\" not in name and "{" not in name and "~" not in name:
        return name

    def accent(m: re.Match[str]) -> str:
        mark, letter = next((m.group(i), m.group(i + 1)) for i in (1, 3, 5) if m.group(i))
        return letter.strip().lstrip("\\") + _COMBINING[mark]  # Mart\'{\i}n: the accent goes on a plain i

    text = _ACCENT.sub(accent, name)
    text = _LETTER_RE.sub(lambda m: _LETTER[m.group(1)], text)
    text = _ESCAPED.sub(r"\1", text)
    text = _TIE.sub(" ", text).replace("{", "").replace("}", "")  # {\o}, {\"O}zt{\"u}rk: groups, not letters
    return unicodedata.normalize("NFC", " ".join(text.split()))
