#!/usr/bin/env python
"""Choose an NLU pipeline by stratified k-fold cross-validation on the training data, per style.

For every --config: the intent examples of --data are split into k folds stratified by intent
(fixed seed, same folds for every config); each fold is parsed by a model trained on the other
folds (synonyms always kept). Each fold model also parses the --blind files (sets that were never
used to choose data); their accuracy is averaged over the folds. Prints overall and per-style
accuracy, the worst intents and the training time, and writes results/cv/<config>.json.

    .venv/bin/python scripts/cv_nlu.py --config scripts/cv_configs/a_current.yml --config scripts/cv_configs/b_char1to5.yml

Styles: an example's `style` metadata (writers' files) or, without it, a guess from the text
(no diacritics -> unaccented; chat shorthand words -> shorthand; else accented).
Slow on purpose (k trainings per config): for choosing a pipeline, not for CI.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("LOG_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_nlu import STYLES, _quiet, load_test_set, parse_all, train_model  # noqa: E402

SEED = 7


def guess_style(text: str) -> str:
    """Style of an example without metadata."""
    from bot.nlu import lexicon
    from bot.text import strip_accents

    words = [w.strip(".,!?;:") for w in text.lower().split()]
    if any(w in lexicon.SHORTHAND for w in words if w not in ("a", "e", "c", "b", "m", "r", "z", "v")):
        return "shorthand"
    return "unaccented" if strip_accents(text) == text else "accented"


def load_examples(data_dir: Path) -> tuple[list[dict[str, Any]], Any]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(data_dir))
    examples = []
    for msg in data.intent_examples:
        style = ((msg.get("metadata") or {}).get("intent") or {}).get("style")
        examples.append({"message": msg, "text": msg.get("text"), "intent": msg.get("intent"),
                         "style": style if style in STYLES else guess_style(msg.get("text"))})
    return examples, data


def stratified_folds(examples: list[dict[str, Any]], k: int) -> list[list[int]]:
    by_intent: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_intent[e["intent"]].append(i)
    rng = random.Random(SEED)
    folds: list[list[int]] = [[] for _ in range(k)]
    for intent in sorted(by_intent):
        idx = by_intent[intent]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[j % k].append(i)
    return folds


def write_training_file(examples: list[dict[str, Any]], data: Any, path: Path) -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.training_data import TrainingData

    subset = TrainingData(training_examples=[e["message"] for e in examples],
                          entity_synonyms=data.entity_synonyms)
    path.write_text(RasaYAMLWriter().dumps(subset), encoding="utf-8")


def accuracy_by_style(rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """rows: (style, gold, predicted)."""
    out: dict[str, Any] = {"overall": sum(g == p for _, g, p in rows) / len(rows), "n": len(rows),
                           "fallback": sum(p == "nlu_fallback" for _, _, p in rows) / len(rows)}
    for style in STYLES:
        sub = [(g, p) for s, g, p in rows if s == style]
        out[style] = sum(g == p for g, p in sub) / len(sub) if sub else None
    return out


def worst_intents(rows: list[tuple[str, str, str]], n: int = 6) -> list[tuple[str, float]]:
    total, right = Counter(), Counter()
    for _, g, p in rows:
        total[g] += 1
        right[g] += g == p
    return sorted(((i, right[i] / total[i]) for i in total), key=lambda x: x[1])[:n]


def run_config(config: Path, examples: list[dict[str, Any]], data: Any, folds: list[list[int]],
               blinds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    cv_rows: list[tuple[str, str, str]] = []
    blind_rows: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    seconds = []
    errors: list[str] = []
    for f, held in enumerate(folds):
        held_set = set(held)
        train = [e for i, e in enumerate(examples) if i not in held_set]
        with tempfile.TemporaryDirectory() as tmp:
            train_file = Path(tmp) / "data" / "nlu.yml"
            train_file.parent.mkdir()
            write_training_file(train, data, train_file)
            model, secs = train_model(config, train_file.parent, Path(tmp))
            _quiet()
            seconds.append(secs)
            texts = [examples[i]["text"] for i in held]
            for name, blind in blinds.items():
                texts += [b["text"] for b in blind]
            parses = asyncio.run(parse_all(model, texts))
        predicted = [(p.get("intent") or {}).get("name") or "" for p in parses]
        cv_rows += [(examples[i]["style"], examples[i]["intent"], predicted[j]) for j, i in enumerate(held)]
        errors += [f"[{examples[i]['style']}] {examples[i]['text']!r}: {examples[i]['intent']} -> {predicted[j]}"
                   for j, i in enumerate(held) if examples[i]["intent"] != predicted[j]]
        pos = len(held)
        for name, blind in blinds.items():
            blind_rows[name] += [(b["style"], b["intent"], predicted[pos + j]) for j, b in enumerate(blind)]
            pos += len(blind)
        print(f"  fold {f + 1}/{len(folds)}: trained in {secs:.0f} s; running CV accuracy "
              f"{accuracy_by_style(cv_rows)['overall']:.3f}", flush=True)
    return {"config": str(config), "cv": accuracy_by_style(cv_rows), "cv_worst": worst_intents(cv_rows),
            "blind": {name: accuracy_by_style(rows) for name, rows in blind_rows.items()},
            "blind_worst": {name: worst_intents(rows) for name, rows in blind_rows.items()},
            "train_seconds": seconds, "cv_errors": sorted(errors)}


def fmt(m: dict[str, Any]) -> str:
    parts = [f"{m['overall']:.1%}"] + [f"{m[s]:.1%}" if m[s] is not None else "-" for s in STYLES]
    return f"{parts[0]} ({' / '.join(parts[1:])}, fallback {m['fallback']:.1%})"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, action="append", help="pipeline to score (repeatable)")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--blind", type=Path, action="append",
                        help="extra held-out file parsed by every fold model (default tests/nlu/test_blind.yml)")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "cv")
    args = parser.parse_args(argv)
    _quiet()
    configs = args.config or [ROOT / "config.yml"]
    blind_files = args.blind or [ROOT / "tests" / "nlu" / "test_blind.yml"]
    examples, data = load_examples(args.data)
    folds = stratified_folds(examples, args.folds)
    blinds = {p.name: load_test_set(p) for p in blind_files}
    styles = Counter(e["style"] for e in examples)
    print(f"{len(examples)} examples ({dict(styles)}), {args.folds} folds")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for config in configs:
        print(f"{config}:", flush=True)
        started = time.monotonic()
        result = run_config(config, examples, data, folds, blinds)
        result["wall_seconds"] = time.monotonic() - started
        results.append(result)
        (args.out / f"{config.stem}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(f"  CV {fmt(result['cv'])}; " + "; ".join(f"{n} {fmt(m)}" for n, m in result["blind"].items())
              + f"; train {sum(result['train_seconds']) / len(folds):.0f} s/fold", flush=True)
        print("  worst CV intents: " + ", ".join(f"{i} {a:.0%}" for i, a in result["cv_worst"]), flush=True)
    print("\nconfig: CV overall (accented / unaccented / shorthand); blind sets")
    for r in results:
        print(f"{Path(r['config']).name}: CV {fmt(r['cv'])}; "
              + "; ".join(f"{n} {fmt(m)}" for n, m in r["blind"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
