"""Small Vietnamese text helpers shared by NLU, validation and lookups."""
from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def strip_accents(text: str) -> str:
    """'Điện lực Hà Nội' -> 'Dien luc Ha Noi' (đ/Đ are letters of their own, not accents)."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", stripped.replace("đ", "d").replace("Đ", "D"))


def fold(text: str) -> str:
    """Accent-free, lower-case, single-spaced form used for matching."""
    return _SPACES.sub(" ", strip_accents(text).lower()).strip()
