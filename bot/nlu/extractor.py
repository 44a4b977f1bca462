"""`VietnameseEntityExtractor`: deterministic entities for the assistant.

- Pattern entities (`bot.nlu.patterns`): phone (value 0xxxxxxxxx), id_number (digits),
  customer_code (upper case), request_code (YCxxxxxx), email (lower case).
- Phrase entities (`bot.nlu.phrases`): `service` (catalogue code) from the catalogue `phrases`
  of data/services.yml plus `synonym:` blocks of the NLU data whose value is a service code;
  `field` (slot name) from the catalogue slot names plus `synonym:` blocks whose value is a slot.

Start/end offsets always index the original message text. Place it after the intent classifier:
it uses the predicted intent to resolve overlaps (see `_resolve`).
"""
from __future__ import annotations

import logging
import re
from typing import Any, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
import rasa.shared.utils.io

from bot.catalogue import Catalogue, load_catalogue
from bot.nlu import lexicon
from bot.nlu.patterns import find_patterns
from bot.nlu.phrases import PhraseMatch, PhraseMatcher, select_non_overlapping
from bot.text import fold

logger = logging.getLogger(__name__)

SYNONYMS_FILE = "synonyms.json"
PATTERN_ENTITIES = ("phone", "id_number", "customer_code", "request_code", "email")
NO_FIELD_SLOTS = {"confirm"}
CUE = "_correction_cue"


def catalogue_phrases(catalogue: Catalogue) -> list[tuple[str, Optional[str], str]]:
    """(entity, value, phrase) from the catalogue: service phrases and slot names."""
    out: list[tuple[str, Optional[str], str]] = []
    for code, service in catalogue.services.items():
        out += [("service", code, p) for p in service.phrases]
    for name, slot in catalogue.slots.items():
        if name in NO_FIELD_SLOTS:
            continue
        label = re.sub(r"\(.*?\)", "", slot.vi)
        for part in label.split("/"):
            if part.strip():
                out.append(("field", name, part.strip()))
    return out


def phrase_synonyms(catalogue: Catalogue, synonyms: dict[str, str]) -> dict[str, str]:
    """The NLU synonyms the matcher uses: those whose value is a service code or a field slot name."""
    wanted = set(catalogue.services) | (set(catalogue.slots) - NO_FIELD_SLOTS)
    return {text: value for text, value in synonyms.items() if value in wanted}


def build_matcher(catalogue: Catalogue, synonyms: dict[str, str]) -> PhraseMatcher:
    services, slots = set(catalogue.services), set(catalogue.slots) - NO_FIELD_SLOTS
    phrases = catalogue_phrases(catalogue)
    for text, value in sorted(synonyms.items()):
        if value in services:
            phrases.append(("service", value, text))
        elif value in slots:
            phrases.append(("field", value, text))
    phrases += [("service", None, b) for b in lexicon.SERVICE_BLOCKERS]
    phrases += [(CUE, None, c) for c in lexicon.CORRECTION_CUES]
    return PhraseMatcher(phrases)


def _weak(text: str, match: PhraseMatch) -> bool:
    """A service phrase that only describes the place (lexicon.WEAK_SERVICE_PHRASES)."""
    return fold(text[match.start:match.end]) in {fold(p) for p in lexicon.WEAK_SERVICE_PHRASES}


def _overlaps(a: PhraseMatch, b: PhraseMatch) -> bool:
    return not (a.last_word < b.first_word or a.first_word > b.last_word)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class VietnameseEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Pattern and catalogue-phrase entities with offsets into the original text."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # pattern entities to extract
            "pattern_entities": list(PATTERN_ENTITIES),
            # extract `service` / `field` from catalogue phrases and synonyms
            "phrase_entities": True,
            # intents that correct a field: `field` needs no cue and no `service` is emitted
            "correction_intents": ["correct_field"],
            # service values dropped for an intent (the intent already says it differently)
            "suppress_services": {"check_outage_schedule": ["outage_report"], "complain": ["outage_report"],
                                  "ask_payment_channels": ["payment_method_change"], "ask_hotline": ["outage_report"],
                                  "report_outage": ["new_connection_mv"]},
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 synonyms: Optional[dict[str, str]] = None,
                 catalogue: Optional[Catalogue] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.synonyms: dict[str, str] = dict(synonyms or {})
        self.catalogue = catalogue or load_catalogue()
        self.matcher = build_matcher(self.catalogue, self.synonyms)

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "VietnameseEntityExtractor":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        self.synonyms = phrase_synonyms(self.catalogue, training_data.entity_synonyms)
        self.matcher = build_matcher(self.catalogue, self.synonyms)
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            rasa.shared.utils.io.dump_obj_as_json_to_file(directory / SYNONYMS_FILE, self.synonyms)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "VietnameseEntityExtractor":
        synonyms: dict[str, str] = {}
        try:
            with model_storage.read_from(resource) as directory:
                synonyms = rasa.shared.utils.io.read_json_file(directory / SYNONYMS_FILE)
        except (ValueError, FileNotFoundError):
            logger.debug("No stored synonyms for %s; using the catalogue only.", cls.__name__)
        return cls(config, model_storage, resource, synonyms)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            intent = message.get(INTENT) or {}
            intent_name = intent.get("name")
            if intent_name == "nlu_fallback":
                ranking = [r for r in message.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
                intent_name = ranking[0]["name"] if ranking else None
            entities = self.extract(text, intent_name)
            entities = self.add_extractor_name(entities)
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages

    # -- extraction (usable without Rasa: tests and actions may call it) --------------------------

    def extract(self, text: str, intent: Optional[str] = None) -> list[dict[str, Any]]:
        """Entities of `text` as Rasa entity dicts, in text order."""
        wanted = set(self._config["pattern_entities"])
        entities = [
            {"entity": m.entity, "start": m.start, "end": m.end, "value": m.value}
            for m in find_patterns(text) if m.entity in wanted
        ]
        if self._config["phrase_entities"]:
            for m in self._resolve(text, intent):
                entities.append({"entity": m.entity, "start": m.start, "end": m.end, "value": m.value})
        return sorted(entities, key=lambda e: (e["start"], e["entity"]))

    def _resolve(self, text: str, intent: Optional[str]) -> list[PhraseMatch]:
        matches = self.matcher.find(text)
        services = select_non_overlapping([m for m in matches if m.entity == "service"])
        if not [m for m in services if m.value]:
            # accent typos ("điên lực", "dời công tở"): one more, fully accent-folded pass
            services = select_non_overlapping(
                [m for m in self.matcher.find(text, loose=True) if m.entity == "service"])
        services = [m for m in services if m.value]  # drop blockers
        correcting = intent in self._config["correction_intents"]
        has_cue = any(m.entity == CUE for m in matches)
        fields = select_non_overlapping(
            [m for m in matches if m.entity == "field"]) if correcting or has_cue else []
        if correcting:  # "sửa thông tin vừa nhập" corrects a field; it is not a new service
            services = []
        else:
            fields = [f for f in fields if not any(_overlaps(f, s) for s in services)]
            # a service phrase consumed a field word ("sang tên", "tăng công suất"): drop it too
            blocked = select_non_overlapping([m for m in matches if m.entity == "service"])
            fields = [f for f in fields if not any(_overlaps(f, b) for b in blocked if b.value is None)]
        suppressed = set(self._config["suppress_services"].get(intent or "", ()))
        services = [s for s in services if s.value not in suppressed]
        codes = {s.value for s in services}
        if {"new_connection_lv", "new_connection_mv"} <= codes:  # "cấp điện" + "trung áp" = MV
            services = [s for s in services if s.value != "new_connection_lv"]
        if {"new_connection_lv", "reconnection"} <= codes:  # "xin cấp điện lại" is no new connection
            services = [s for s in services if s.value != "new_connection_lv"]
        if len(codes) > 1:  # "phòng trọ" only says who lives there when another service is named
            services = [s for s in services if not _weak(text, s)] or services
        if len(codes) > 1 and "outage_report" in codes:
            if intent == "report_outage":
                services = [s for s in services if s.value != "reconnection"]
            else:  # "bị cắt điện vì nợ, đóng rồi bao giờ có điện lại": the other service
                services = [s for s in services if s.value != "outage_report"]
        # one entity per value (first mention)
        seen: set[tuple[str, Optional[str]]] = set()
        out = []
        for m in sorted(services + fields, key=lambda m: m.first_word):
            if (m.entity, m.value) not in seen:
                seen.add((m.entity, m.value))
                out.append(m)
        return out
