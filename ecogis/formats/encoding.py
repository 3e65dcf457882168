"""Which code page a file's text is in: a decoder that round-trips plus a plausibility score.

Shapefile ``.dbf`` and MapInfo files carry no reliable encoding (a ``.cpg`` may be missing or
wrong), and GDAL decodes with whatever it is told, silently. ecogis decides from the bytes:

1. collect the text: field names and every character value of the *whole* file (unique
   non-ASCII values only, so a 500 000-record file costs one pass);
2. decode it strictly with each candidate (UTF-8, GBK/GB18030, Big5, cp1251, Latin-1); a value
   that fills its field and ends in an incomplete multi-byte character was cut by the writer at
   the field width: the partial character is dropped and reported, not treated as an error;
3. score how plausible each decoding is: the share of common characters of its script (GB2312
   level-1 hanzi for GBK, Big5 常用字 A440-C67E for Big5, Cyrillic letters with sane case for
   cp1251, isolated accented letters for Latin-1). UTF-8 that decodes is taken (random legacy
   bytes are essentially never valid UTF-8) unless its characters are implausible;
4. choose the best only when it is plausible (>= 0.8) and clearly ahead (by 0.25); otherwise
   refuse with the candidates and the ``--encoding`` fix. One exception: when GBK and Big5 are
   both plausible and GBK scores at least as high (a few common characters, e.g. field names
   名称), GBK is taken (mainland bureaus write GBK) and the report says so.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

#: candidates in order of preference on a tie (mainland bureaus write GBK)
CANDIDATES = ("utf-8", "gbk", "gb18030", "big5", "cp1251", "latin-1")
#: a decoding must score at least this …
MIN_SCORE = 0.8
#: … and beat the runner-up by this much
MIN_MARGIN = 0.25
_LABEL = {"utf-8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030", "big5": "Big5",
          "cp1251": "cp1251 (Cyrillic)", "latin-1": "Latin-1"}


@dataclass
class Detection:
    """The outcome: the codec, a scored list of candidates and the values cut mid-character."""

    codec: str | None
    scores: dict[str, float] = field(default_factory=dict)
    cut_values: int = 0
    examples: dict[str, str] = field(default_factory=dict)
    #: True when GBK was chosen over an equally plausible Big5 reading (mainland prior)
    prior: bool = False

    def describe(self) -> str:
        ranked = sorted(self.scores.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{_LABEL.get(c, c)} {s:.2f}" + (f" ({self.examples[c]!r})"
                         if c in self.examples else "") for c, s in ranked[:3])


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FFFF


def _common_gbk(ch: str) -> bool:
    """GB2312 level-1 hanzi (rows B0-D7, the 3 755 common simplified characters)."""
    try:
        b = ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(b) == 2 and 0xB0 <= b[0] <= 0xD7


def _common_big5(ch: str) -> bool:
    """Big5 常用字 (A440-C67E, the 5 401 common traditional characters)."""
    try:
        b = ch.encode("big5")
    except UnicodeEncodeError:
        return False
    return len(b) == 2 and 0xA440 <= (b[0] << 8 | b[1]) <= 0xC67E


def _punct_ok(ch: str) -> bool:
    """Full-width punctuation and digits that Chinese text uses (（）、，：—…)."""
    return unicodedata.category(ch)[0] in "PZ" and ord(ch) >= 0x2000


def _score_cjk(texts: list[str], common) -> float:
    n = good = 0
    for t in texts:
        for ch in t:
            if ord(ch) < 0x80:
                continue
            n += 1
            if common(ch) or _punct_ok(ch):
                good += 1
    return good / n if n else 0.0


def _score_utf8(texts: list[str]) -> float:
    """Any script is fine in UTF-8; control characters and private use are not."""
    n = good = 0
    for t in texts:
        for ch in t:
            if ord(ch) < 0x80:
                continue
            n += 1
            cat = unicodedata.category(ch)
            if cat[0] in "LNPSZM" and cat not in ("Co", "Cn"):
                good += 1
    return good / n if n else 1.0


def _score_cyrillic(texts: list[str]) -> float:
    n = good = 0
    for t in texts:
        for i, ch in enumerate(t):
            if ord(ch) < 0x80:
                continue
            n += 1
            prev = t[i - 1] if i else " "
            nxt = t[i + 1] if i + 1 < len(t) else " "
            cyr = "\u0410" <= ch <= "\u044f" or ch in "Ёё"
            # an upper-case letter right after a lower-case one, or a Cyrillic letter glued
            # to a Latin one, is mojibake, not Russian
            latin_neighbour = any(c.isascii() and c.isalpha() for c in (prev, nxt))
            if cyr and not (ch.isupper() and prev.islower()) and not latin_neighbour:
                good += 1
    return good / n if n else 0.0


def _score_latin(texts: list[str]) -> float:
    """Latin-1 text has accented letters between ASCII letters, rarely two in a row."""
    n = good = 0
    for t in texts:
        for i, ch in enumerate(t):
            if ord(ch) < 0x80:
                continue
            n += 1
            run_ok = not ((i > 0 and ord(t[i - 1]) >= 0x80) and (i + 1 < len(t) and ord(t[i + 1]) >= 0x80))
            if ch.isalpha() and run_ok and ch not in "ªºµ":
                good += 1
    return good / n if n else 0.0


_SCORERS = {
    "utf-8": _score_utf8,
    "gbk": lambda t: _score_cjk(t, _common_gbk),
    "gb18030": lambda t: _score_cjk(t, _common_gbk),
    "big5": lambda t: _score_cjk(t, _common_big5),
    "cp1251": _score_cyrillic,
    "latin-1": _score_latin,
}


def decode_value(raw: bytes, codec: str, *, full: bool) -> tuple[str, bool]:
    """Decode one field value strictly; ``full`` values may end in a cut character.

    Returns ``(text, cut)``; raises :class:`UnicodeDecodeError` when the bytes are not
    ``codec``. A value that fills its field (``full``) and whose last 1-3 bytes are an
    incomplete character is decoded without them (``cut`` True).
    """
    try:
        return raw.decode(codec), False
    except UnicodeDecodeError as exc:
        if not full or exc.reason not in ("incomplete multibyte sequence", "unexpected end of data") \
                or exc.start < len(raw) - 3:
            raise
        return raw[:exc.start].decode(codec), True


def detect(values: Iterable[tuple[bytes, bool]], *, candidates: Iterable[str] = CANDIDATES
           ) -> Detection:
    """Return the :class:`Detection` for ``(raw_bytes, fills_its_field)`` pairs.

    Pure-ASCII text is UTF-8 with score 1. See the module docstring for the rules.
    """
    vals = [(v, f) for v, f in dict.fromkeys(values) if any(b >= 0x80 for b in v)]
    if not vals:
        return Detection("utf-8", {"utf-8": 1.0})
    scores: dict[str, float] = {}
    examples: dict[str, str] = {}
    cuts: dict[str, int] = {}
    for codec in candidates:
        texts, cut = [], 0
        try:
            for raw, full in vals:
                t, c = decode_value(raw, codec, full=full)
                texts.append(t)
                cut += c
        except UnicodeDecodeError:
            continue
        scores[codec] = _SCORERS[codec](texts)
        examples[codec] = next((t for t in texts if any(ord(ch) >= 0x80 for ch in t)), "")[:16]
        cuts[codec] = cut
    if "gbk" in scores and "gb18030" in scores:
        del scores["gb18030"]  # same text where GBK decodes
    det = Detection(None, scores, 0, examples)
    if not scores:
        return det
    if scores.get("utf-8", 0) >= MIN_SCORE and cuts.get("utf-8", 0) < len(vals):
        det.codec, det.cut_values = "utf-8", cuts["utf-8"]
        return det
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], CANDIDATES.index(kv[0])))
    best, s = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if s >= MIN_SCORE and s - second >= MIN_MARGIN - 1e-9:
        det.codec, det.cut_values = best, cuts[best]
    elif best in ("gbk", "gb18030", "big5") and {best, ranked[1][0]} & {"gbk", "gb18030"} \
            and {best, ranked[1][0]} & {"big5"} and s >= MIN_SCORE \
            and (len(ranked) < 3 or s - ranked[2][1] >= MIN_MARGIN):
        # GBK and Big5 both plausible (short text of common characters): the mainland prior
        gbk = "gbk" if "gbk" in scores else "gb18030"
        if scores[gbk] >= scores["big5"]:
            det.codec, det.cut_values, det.prior = gbk, cuts[gbk], True
    return det


def label(codec: str) -> str:
    """Return the display name of a codec (``gbk`` → ``GBK``)."""
    return _LABEL.get(codec, codec)
