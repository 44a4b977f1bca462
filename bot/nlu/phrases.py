"""Deterministic phrase matching for the `service` and `field` entities.

Phrases come from data (catalogue `phrases` and slot names in data/services.yml, plus the
`synonym:` blocks of data/nlu/*.yml) and are matched on normalised words (see
`bot.nlu.normalizer`), so shorthand ("sđt", "hđ", "đc") is already expanded. Matching is
accent-insensitive where the customer typed without accents ("di doi cong to") but exact where
they typed accents ("đổi công tơ" is not "dời công tơ"); a second, fully accent-folded pass
runs only when the first finds no service (accent typos). Equivalent wordings are generated
from a few word classes (công tơ = đồng hồ điện = điện kế, dời = di dời = di chuyển, lắp = mắc =
gắn, mất = cúp = cắt điện ...), and up to two filler words may sit between phrase words
("lắp cho mình cái công tơ mới").
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from bot.nlu.normalizer import Piece, analyse
from bot.text import strip_accents

# Word classes: every member may stand for any other inside a phrase (normalised, accented).
WORD_CLASSES: tuple[tuple[str, ...], ...] = (
    ("công tơ", "công tơ điện", "đồng hồ điện", "đồng hồ", "điện kế", "đồng hồ đo điện", "đồng hồ công tơ"),
    ("di dời", "dời", "di chuyển", "dịch chuyển", "chuyển chỗ", "dời chỗ"),
    ("lắp", "lắp đặt", "mắc", "gắn", "lắp mới"),
    ("mất điện", "cúp điện", "cắt điện", "cúp đèn", "mất đèn", "cúp", "ngắt điện", "bị cắt điện"),
    ("hợp đồng", "hợp đồng điện", "hợp đồng mua bán điện", "hđmbđ"),
    ("đổi", "thay đổi", "chuyển đổi", "thay"),
    ("tăng", "nâng", "nâng cấp"),
    ("đăng ký", "làm", "xin"),
    ("3 pha", "ba pha"),
    ("1 pha", "một pha"),
    ("khiếu nại", "phàn nàn"),
)
MAX_VARIANTS = 400
MAX_GAP = 2
# Words that may sit between two words of a phrase.
FILLERS = frozenset({
    "cái", "chiếc", "cho", "giúp", "giùm", "dùm", "hộ", "mình", "tôi", "em", "tui", "anh", "chị",
    "nhà", "thêm", "lại", "của", "ở", "1", "một", "bên", "này", "đó", "ấy", "điện", "con", "cây",
    "đi", "luôn", "ra", "với", "bị", "hết", "được", "cần", "muốn", "là", "nhé", "ạ", "các",
})


def fold_word(word: str) -> str:
    return strip_accents(word).lower()


@dataclass(frozen=True)
class Phrase:
    entity: str
    value: Optional[str]  # None: a blocker (consumes words, yields no entity)
    words: tuple[str, ...]
    folded: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class PhraseMatch:
    entity: str
    value: Optional[str]
    start: int  # offsets into the original text
    end: int
    first_word: int  # word positions in the normalised word sequence
    last_word: int
    size: int  # number of phrase words
    gaps: int
    source: str = ""


def _phrase_words(text: str) -> list[str]:
    return [w for p in analyse(text) for w in p.words]


def _variants(words: list[str]) -> Iterable[tuple[str, ...]]:
    """The phrase with each word-class member replaced by every member of its class."""
    slots: list[list[tuple[str, ...]]] = []
    i = 0
    class_members = sorted(
        ((tuple(m.split()), cls) for cls in WORD_CLASSES for m in cls), key=lambda x: -len(x[0])
    )
    while i < len(words):
        for member, cls in class_members:
            if tuple(words[i:i + len(member)]) == member:
                slots.append([tuple(m.split()) for m in cls])
                i += len(member)
                break
        else:
            slots.append([(words[i],)])
            i += 1
    for n, combo in enumerate(itertools.product(*slots)):
        if n >= MAX_VARIANTS:
            break
        yield tuple(w for part in combo for w in part)


class PhraseMatcher:
    """Finds phrases of several entity types in a message."""

    def __init__(self, phrases: Sequence[tuple[str, Optional[str], str]]) -> None:
        """`phrases`: (entity, value or None for a blocker, phrase text)."""
        self._index: dict[str, list[Phrase]] = {}
        self._folded_index: dict[str, list[Phrase]] = {}
        seen = set()
        for entity, value, text in phrases:
            for variant in _variants(_phrase_words(text)):
                if not variant or (entity, value, variant) in seen:
                    continue
                seen.add((entity, value, variant))
                phrase = Phrase(entity, value, variant, tuple(fold_word(w) for w in variant), text)
                self._index.setdefault(phrase.folded[0], []).append(phrase)
        self.size = len(seen)

    @staticmethod
    def _word_stream(pieces: Sequence[Piece]) -> tuple[list[str], list[str], list[int]]:
        words, folded, owner = [], [], []
        for idx, piece in enumerate(pieces):
            if piece.entity is not None:  # placeholders never match and break gaps
                words.append("\x00")
                folded.append("\x00")
                owner.append(idx)
                continue
            for w in piece.words:
                words.append(w)
                folded.append(fold_word(w))
                owner.append(idx)
        return words, folded, owner

    @staticmethod
    def _eq(text_word: str, text_folded: str, phrase_word: str, phrase_folded: str, loose: bool) -> bool:
        if text_word == phrase_word:
            return True
        if loose or text_word == text_folded:  # typed without accents: compare accent-free
            return text_folded == phrase_folded
        return False

    def _match_at(self, phrase: Phrase, i: int, words: list[str], folded: list[str],
                  loose: bool) -> Optional[tuple[int, int]]:
        """(last word index, gaps) when `phrase` matches starting at word i."""
        pos, gaps = i, 0
        for k, (pw, pf) in enumerate(zip(phrase.words, phrase.folded)):
            if k == 0:
                if not self._eq(words[i], folded[i], pw, pf, loose):
                    return None
                continue
            nxt = pos + 1
            skipped = 0
            while nxt < len(words) and not self._eq(words[nxt], folded[nxt], pw, pf, loose):
                if skipped >= MAX_GAP or words[nxt] not in FILLERS and folded[nxt] not in _FOLDED_FILLERS:
                    return None
                skipped += 1
                nxt += 1
            if nxt >= len(words):
                return None
            gaps += skipped
            pos = nxt
        return pos, gaps

    def find(self, text: str, loose: bool = False, entities: Optional[set[str]] = None) -> list[PhraseMatch]:
        """All phrase matches (overlapping ones included), best first."""
        pieces = analyse(text)
        words, folded, owner = self._word_stream(pieces)
        found: list[PhraseMatch] = []
        for i, fw in enumerate(folded):
            for phrase in self._index.get(fw, ()):
                if entities is not None and phrase.entity not in entities:
                    continue
                hit = self._match_at(phrase, i, words, folded, loose)
                if hit is None:
                    continue
                last, gaps = hit
                found.append(PhraseMatch(
                    phrase.entity, phrase.value, pieces[owner[i]].start, pieces[owner[last]].end,
                    i, last, len(phrase.words), gaps, phrase.source))
        found.sort(key=lambda m: (-m.size, m.gaps, m.first_word, m.entity, m.value or ""))
        return found


_FOLDED_FILLERS = frozenset(fold_word(w) for w in FILLERS)


def select_non_overlapping(matches: Sequence[PhraseMatch]) -> list[PhraseMatch]:
    """Greedy choice of the best matches (input order = preference) without shared words."""
    chosen: list[PhraseMatch] = []
    for m in matches:
        if all(m.last_word < c.first_word or m.first_word > c.last_word for c in chosen):
            chosen.append(m)
    return sorted(chosen, key=lambda m: m.first_word)
