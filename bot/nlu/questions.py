"""Does a chat message read as a question? Used by the dialogue to tell a question asked in the middle of
a form ("mất phí không?") from the answer to the form's question ("dời ra cột điện trước cổng"), whatever
intent the classifier gave it."""
from __future__ import annotations

import re

from bot.text import fold

# Question markers of Vietnamese chat ("mất phí không?", "bao lâu thì xong", "cần giấy tờ gì", "dc ko").
_QUESTION_WORDS_RE = re.compile(
    r"\b(?:bao lau|bao nhieu|bn|bao gio|khi nao|the nao|ntn|nhu nao|lam sao|tai sao|vi sao|co phai"
    r"|(?:duoc|dc) (?:khong|ko|k|hong|hok|kg)|may (?:ngay|hom|tuan|thang|gio|tien|buoc|lan)"
    r"|mat may|het may)\b")
_QUESTION_END_RE = re.compile(
    r"\b(?:khong|ko|k|kg|hong|hok|chua|sao|may|chang|nhi)"
    r"(?: (?:em|e|a|ad|admin|oi|vay|the|nhe|nha|shop|ban|chi|anh|c|thi|ta))*$")
# Words whose accent-free form is also an ordinary word ("gỉ" rust, "ạ" politeness, "Hà"): matched as typed.
_QUESTION_TOKENS = ("gì", "gi", "j")
_QUESTION_LAST = ("à", "hả", "hở", "nhỉ", "chứ")


def looks_like_question(text: str) -> bool:
    """True when a message reads as a question rather than a statement: a '?', a question word
    ("bao lâu", "bao nhiêu", "mấy ngày", "thế nào", "có phải", "được không", "gì"/"j") or a question
    particle at the end ("... không em", "... ko", "... à", "... hả"). Accent-insensitive except for
    words whose bare form is also an ordinary word."""
    raw = (text or "").strip()
    if not raw or raw.startswith("/"):
        return False
    if "?" in raw:
        return True
    folded = re.sub(r"[^\w\s]", " ", fold(raw))
    folded = re.sub(r"\s+", " ", folded).strip()
    if _QUESTION_WORDS_RE.search(folded) or _QUESTION_END_RE.search(folded):
        return True
    tokens = re.findall(r"[^\W\d_]+", raw.lower())
    return any(t in _QUESTION_TOKENS for t in tokens) or (bool(tokens) and tokens[-1] in _QUESTION_LAST)
