#!/usr/bin/env python
"""Leave-one-file-out check of the `service` entity on the training data (the blind sets stay unread).

The extractor (bot/nlu/extractor.py) finds services from the catalogue phrases plus the service synonyms
of the training data, so its accuracy on the training data itself says nothing. Here each file of
--data is parsed by an extractor built from the catalogue and the *other* files' synonyms, with the gold
intent: a message of request_service / ask_procedure is right when its service values are exactly the gold
ones (as in eval_nlu.py). Prints the accuracy per file and overall, and the misses (to improve the
phrases or the matcher from the training data, never from a held-out set).

    .venv/bin/python scripts/cv_service.py [--data data/nlu] [--misses 40]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_nlu import SERVICE_INTENTS, _quiet, service_values  # noqa: E402


def _load(paths: list[Path]) -> Any:
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    return TrainingData().merge(*[load_data(str(p)) for p in paths])


def _extractor(synonyms: dict[str, str]) -> Any:
    from bot.nlu.extractor import VietnameseEntityExtractor

    return VietnameseEntityExtractor({}, None, None, synonyms)  # type: ignore[arg-type]


def check_file(held: Path, others: list[Path]) -> list[tuple[str, set[str], set[str]]]:
    """(text, gold, predicted) for every service-intent example of `held`."""
    from bot.catalogue import load_catalogue
    from bot.nlu.extractor import phrase_synonyms

    extractor = _extractor(phrase_synonyms(load_catalogue(), _load(others).entity_synonyms))
    rows = []
    for msg in _load([held]).intent_examples:
        if msg.get("intent") not in SERVICE_INTENTS:
            continue
        rows.append((msg.get("text"), service_values(msg.get("entities")),
                      service_values(extractor.extract(msg.get("text"), msg.get("intent")))))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--misses", type=int, default=40, help="misses to print")
    args = parser.parse_args()
    _quiet()
    files = sorted(args.data.glob("*.yml"))
    right = total = 0
    misses = []
    for held in files:
        rows = check_file(held, [f for f in files if f != held])
        if not any(gold for _, gold, _ in rows):
            continue  # a file that does not annotate services (our first files) has no gold to compare
        ok = sum(gold == pred for _, gold, pred in rows)
        right, total = right + ok, total + len(rows)
        misses += [(held.name, *row) for row in rows if row[1] != row[2]]
        print(f"{held.name:24} {ok / len(rows):6.1%}  (n={len(rows)})")
    print(f"{'overall':24} {right / total:6.1%}  (n={total})")
    for name, text, gold, pred in misses[:args.misses]:
        print(f"  {name}: {text!r}  gold={sorted(gold)} got={sorted(pred)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
