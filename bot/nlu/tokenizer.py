"""`VietnameseTokenizer`: a normalising Rasa tokenizer for Vietnamese chat text.

Tokens keep offsets into the ORIGINAL message; `token.text` is the normalised text
(NFC, lower case, classic tone placement, shorthand expanded, pattern entities replaced by
placeholders such as `zzphone`) and `token.lemma` is its accent-free view. In config.yml, a
CountVectorsFeaturizer with `use_lemma: true` (the default) therefore featurizes the accent-free
text, one with `use_lemma: false` the accented text.

Option `segmenter`: `none` (default: one token per whitespace word), `pyvi` or `underthesea`
(Vietnamese word segmentation: "công tơ" becomes one token "công_tơ"); measured in docs/nlu.md.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalizer import Piece, analyse
from bot.text import strip_accents

logger = logging.getLogger(__name__)


def _load_segmenter(name: Optional[str]) -> Optional[Callable[[str], str]]:
    if not name or name == "none":
        return None
    if name == "pyvi":
        from pyvi import ViTokenizer

        return ViTokenizer.tokenize
    if name == "underthesea":
        from underthesea import word_tokenize  # optional dependency, measured only

        return lambda text: word_tokenize(text, format="text")
    raise ValueError(f"unknown segmenter {name!r} (use none, pyvi or underthesea)")


def segment_pieces(pieces: list[Piece], segment: Callable[[str], str]) -> list[tuple[int, int, str]]:
    """Group pieces into word-segmented units: [(first piece, last piece, text with '_')].

    Falls back to one unit per piece when the segmenter output cannot be aligned.
    """
    sylls: list[tuple[str, int]] = [(w, i) for i, p in enumerate(pieces) for w in p.words]
    plain = [(i, i, p.norm) for i, p in enumerate(pieces)]
    if not sylls:
        return plain
    units = segment(" ".join(w for w, _ in sylls)).split()
    spans: list[tuple[int, int, str]] = []  # (first syllable, last syllable, unit)
    pos = 0
    for unit in units:
        parts = unit.split("_")
        if [w for w, _ in sylls[pos:pos + len(parts)]] != parts:
            return plain
        spans.append((pos, pos + len(parts) - 1, unit))
        pos += len(parts)
    if pos != len(sylls):
        return plain
    groups: list[list[Any]] = []  # [first piece, last piece, [units]]
    for first, last, unit in spans:
        p_first, p_last = sylls[first][1], sylls[last][1]
        if groups and p_first <= groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], p_last)
            groups[-1][2].append(unit)
        else:
            groups.append([p_first, p_last, [unit]])
    return [(g[0], g[1], " ".join(g[2])) for g in groups]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(Tokenizer):
    """Whitespace-style tokenizer with Vietnamese normalisation and an accent-free lemma."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # none | pyvi | underthesea
            "segmenter": "none",
        }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__({**self.get_default_config(), **config})
        self.segment = _load_segmenter(self._config.get("segmenter"))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "VietnameseTokenizer":
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        pieces = list(analyse(text))
        if not pieces:
            return [Token(text, 0)]
        if self.segment is None:
            tokens = [Token(p.norm, p.start, p.end, lemma=p.folded) for p in pieces]
        else:
            tokens = [
                Token(unit, pieces[first].start, pieces[last].end, lemma=strip_accents(unit).lower())
                for first, last, unit in segment_pieces(pieces, self.segment)
            ]
        return self._apply_token_pattern(tokens)
