"""Vietnamese text normalisation for the NLU.

`analyse(text)` splits a message into `Piece`s that keep offsets into the ORIGINAL text:
- pattern entities (phone, CCCD, customer/request codes, e-mail) become one piece each with a
  placeholder (`zzphone`, `zzcccd`, ...), so the classifiers see "a phone number" rather than digits;
- every other word is normalised: Unicode NFC, Ð->Đ, lower case, 3+ repeated letters collapsed
  ("alooo" -> "alo"), one consistent tone placement (the classic style the catalogue uses:
  "hoà"->"hòa", "thuỷ"->"thủy", "qúa"->"quá"), chat shorthand expanded by context ("ko"->"không",
  "dc"->"được" or "địa chỉ", "hđ"->"hóa đơn" or "hợp đồng", "e"->"em", ...);
- `Piece.folded` is the accent-free view of the normalised text ("không" -> "khong").

`normalise(text)` returns the normalised sentence and `fold_view(text)` its accent-free form.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from bot.nlu import lexicon
from bot.nlu.patterns import find_patterns
from bot.text import strip_accents

PLACEHOLDERS = {
    "phone": "zzphone", "id_number": "zzcccd", "customer_code": "zzmakh",
    "request_code": "zzmayc", "email": "zzemail",
}

_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_VOWELS = set("aăâeêioôơuưy")
_MODIFIED_VOWELS = set("ăâêôơư")
_EMOJI_RE = "|".join(re.escape(e) for e in sorted(lexicon.EMOJI, key=len, reverse=True))
# A word: letters/digits (and combining marks, for NFD input) joined by / ' - _ ("đ/c", "15/12",
# "e-mail"), or by . , : between digits ("5,5", "7:30"). "ok,cảm ơn" splits at the comma.
_WORD = re.compile(
    r"(?P<w>[\w\u0300-\u036f]+(?:(?:(?<=\d)[.,:]|[/'’\-])[\w\u0300-\u036f]+)*)|(?P<e>" + _EMOJI_RE + r")"
)
_REPEAT = re.compile(r"(\D)\1{2,}$")  # trailing elongation only: "alooo", not "cccd"


@dataclass(frozen=True)
class Piece:
    """One unit of the message: `start`/`end` index the original text."""

    start: int
    end: int
    raw: str
    norm: str  # normalised text (may hold several words: "sđt" -> "số điện thoại")
    folded: str  # accent-free view of `norm`
    entity: Optional[str] = None  # pattern entity type for placeholder pieces
    value: Optional[str] = None  # normalised pattern value

    @property
    def words(self) -> list[str]:
        return self.norm.split()


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).replace("Ð", "Đ").replace("ð", "đ")


def place_tone(word: str) -> str:
    """Put the tone mark of one syllable where the classic orthography puts it.

    "hoà" -> "hòa", "thuỷ" -> "thủy", "qúa" -> "quá", "gìa" -> "già", "nguời" -> "người".
    Words that are not a single toned Vietnamese syllable are returned NFC-normalised unchanged.
    """
    decomposed = unicodedata.normalize("NFD", word)
    tones = [c for c in decomposed if c in _TONE_MARKS]
    if len(tones) != 1:
        return nfc(word)
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    low = base.lower()
    if not low.isalpha():
        return nfc(word)
    vowel_idx = [i for i, c in enumerate(low) if c in _VOWELS]
    if not vowel_idx:
        return nfc(word)
    start = end = vowel_idx[0]
    while end + 1 < len(low) and low[end + 1] in _VOWELS:
        end += 1
    if any(i > end for i in vowel_idx):  # two vowel groups: not one syllable
        return nfc(word)
    # "qu" and "gi" + vowel: the u/i belongs to the onset.
    if end > start and start > 0 and (low[start - 1], low[start]) in (("q", "u"), ("g", "i")):
        start += 1
    nucleus = list(range(start, end + 1))
    modified = [i for i in nucleus if low[i] in _MODIFIED_VOWELS]
    if modified:
        pos = modified[-1]
    elif len(nucleus) >= 3:
        pos = nucleus[1]
    elif len(nucleus) == 2:
        pos = nucleus[1] if end + 1 < len(low) else nucleus[0]  # closed: 2nd, open: 1st
    else:
        pos = nucleus[0]
    marked = unicodedata.normalize("NFC", base[pos] + tones[0])
    return base[:pos] + marked + base[pos + 1:]


_NUMBER_UNIT = re.compile(r"^(\d+(?:[.,]\d+)?)([^\W\d_]+)$")  # "12kw", "500k", "7h", "3pha"
_MONTH = re.compile(r"^(?:t|th|thg)(\d{1,2})$")  # "t5" = tháng 5


def normalise_word(word: str) -> str:
    """NFC, lower case, collapsed repeats and classic tone placement of one word.

    A number glued to a unit is split ("12kw" -> "12 kw", "7h" -> "7 giờ", "500k" -> "500 nghìn")
    and "t5" becomes "tháng 5", so the classifiers see the number apart from its unit.
    """
    w = nfc(word).lower()
    w = _REPEAT.sub(r"\1", w)
    m = _NUMBER_UNIT.match(w)
    if m:
        return f"{m.group(1)} {lexicon.NUMBER_UNITS.get(m.group(2), m.group(2))}"
    m = _MONTH.match(w)
    if m:
        return f"tháng {m.group(1)}"
    if "-" in w or "_" in w or "." in w:
        return w
    return place_tone(w)


def _is_number(word: str) -> bool:
    return bool(re.fullmatch(r"\d+(?:[.,]\d+)?", word))


def expand_shorthand(words: list[str]) -> list[str]:
    """Expand chat shorthand of normalised single words, using neighbours for ambiguous ones."""
    out: list[str] = []
    n = len(words)
    for i, w in enumerate(words):
        prev = words[i - 1] if i > 0 else ""
        nxt = words[i + 1] if i + 1 < n else ""
        window = set(words[max(0, i - 3):i] + words[i + 1:i + 4])
        if _is_number(prev) and w in lexicon.NUMBER_UNITS:
            out.append(lexicon.NUMBER_UNITS[w])
        elif w in ("k", "kh"):
            # "mã kh" = mã khách hàng; otherwise "không"
            out.append("khách hàng" if w == "kh" and prev in ("mã", "ma", "của", "cua") else "không")
        elif w == "dc":
            is_address = nxt in lexicon.ADDRESS_AFTER or prev in lexicon.ADDRESS_BEFORE or i == 0 and n > 1
            if nxt in lexicon.DUOC_AFTER or nxt == "":
                is_address = prev in lexicon.ADDRESS_BEFORE and nxt in ("", "rồi", "r", "roi", "ạ", "a")
            out.append("địa chỉ" if is_address else "được")
        elif w in ("đk", "dk"):
            if nxt in lexicon.DUOC_AFTER or nxt == "" or prev in ("có", "co", "làm", "lam", "lắp", "lap"):
                out.append("được")
            else:
                out.append("đăng ký")
        elif w in ("hđ", "hd"):
            if w == "hd" and (nxt in lexicon.PRONOUNS or nxt in ("giúp", "giup", "giùm", "cách", "cach", "dùm")):
                out.append("hướng dẫn")
            else:
                bill = len(window & lexicon.BILL_CUES)
                contract = len(window & lexicon.CONTRACT_CUES)
                out.append("hợp đồng" if contract > bill else "hóa đơn" if bill > contract else
                           ("hợp đồng" if w == "hđ" and "điện" in window else "hóa đơn"))
        elif w == "a":
            # sentence-final "a" is the particle "ạ" typed without accent; otherwise "anh".
            out.append("ạ" if nxt == "" and i > 0 else "anh")
        elif w == "m":
            out.append("mình")
        elif w == "đ":  # "mất đ", "tiền đ"; after a number it is đồng (handled above)
            out.append("điện")
        elif w == "bn":
            out.append("bạn" if nxt in ("ơi", "oi") or prev in ("cho", "giúp", "giup") and nxt else "bao nhiêu")
        elif w in ("tk", "tt"):
            if w == "tk":
                out.append("tài khoản" if prev in ("số", "so") or nxt in ("ngân", "ngan", "ví", "vi", "momo", "zalopay")
                           else "cảm ơn")
            elif nxt in ("tiền", "tien", "qua", "bằng", "bang", "online", "hóa", "hoa", "hđ", "hd", "trực", "truc"):
                out.append("thanh toán")
            elif nxt in ("cá", "ca", "khách", "khach", "kh", "cá nhân"):
                out.append("thông tin")
            else:
                out.append(w)
        elif w == "hum":
            out.append("hôm" if nxt in ("nay", "qua", "trước", "truoc") else "không")
        elif w in ("nhiu", "nhiêu") and prev in ("bao", "bây"):
            out.append("nhiêu")
        elif w in ("ki", "kí") and prev in ("đăng", "dang", "chữ", "chu"):
            out.append("ký")
        elif w in ("li", "lí") and prev in ("xử", "xu", "quản", "quan", "thanh"):
            out.append("lý")
        elif w in lexicon.SHORTHAND:
            out.append(lexicon.SHORTHAND[w])
        else:
            out.append(w)
    return out


def _fold(text: str) -> str:
    return strip_accents(text).lower()


@lru_cache(maxsize=2048)
def analyse(text: str) -> tuple[Piece, ...]:
    """Split `text` into normalised pieces with offsets into `text` (see module doc)."""
    spans = find_patterns(text)
    raw_pieces: list[tuple[int, int, str, Optional[str], Optional[str]]] = []
    cursor = 0

    def words_between(lo: int, hi: int) -> None:
        for m in _WORD.finditer(text, lo, hi):
            raw_pieces.append((m.start(), m.end(), m.group(0), None, None))

    for span in spans:
        words_between(cursor, span.start)
        raw_pieces.append((span.start, span.end, text[span.start:span.end], span.entity, span.value))
        cursor = span.end
    words_between(cursor, len(text))

    # Normalise plain words, then expand shorthand with context (placeholders break context).
    basic = [lexicon.EMOJI.get(raw, None) or normalise_word(raw) if ent is None else PLACEHOLDERS[ent]
             for (_, _, raw, ent, _) in raw_pieces]
    expanded = expand_shorthand(basic)
    pieces = []
    for (start, end, raw, ent, value), norm in zip(raw_pieces, expanded):
        if ent is not None:
            norm = PLACEHOLDERS[ent]
        pieces.append(Piece(start, end, raw, norm, _fold(norm), ent, value))
    return tuple(pieces)


def normalise(text: str) -> str:
    """The normalised sentence: 'E mún lắp đồng hồ đc ko ạ' -> 'em muốn lắp đồng hồ được không ạ'."""
    return " ".join(p.norm for p in analyse(text))


def fold_view(text: str) -> str:
    """Accent-free view of the normalised sentence."""
    return " ".join(p.folded for p in analyse(text))
