#!/usr/bin/env python
"""Evaluate the NLU on a held-out test set (default tests/nlu/test_nlu.yml; --test-set for another).

Trains an NLU model on data/ with config.yml (or reuses --model), parses every test sentence and
prints: per-intent precision/recall/F1, overall intent accuracy, accuracy per style (accented,
unaccented, shorthand), and entity figures (pattern entities on exact span + value, `service`
and `field` on value per message). Exits 1 when the intent accuracy of any style is below
--min-accuracy (default 0.95) or when a test sentence also occurs in the training data,
so `make eval` can gate a change.

    .venv/bin/python scripts/eval_nlu.py                      # train on data/, evaluate
    .venv/bin/python scripts/eval_nlu.py --model models/x.tar.gz   # evaluate a trained model
    .venv/bin/python scripts/eval_nlu.py --keep-model models/    # keep the trained model
    .venv/bin/python scripts/eval_nlu.py --model models/assistant.tar.gz --test-set tests/nlu/test_blind_v2.yml

Every held-out file (HELD_OUT: the test set and the blind sets) is checked against the training data,
whichever one is evaluated: none of their sentences may be trained on.

Reports are written to results/nlu/ (report.json, errors.txt).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("LOG_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STYLES = ("accented", "unaccented", "shorthand")
PATTERN_ENTITIES = ("phone", "id_number", "customer_code", "request_code", "email")
PHRASE_ENTITIES = ("service", "field")
FALLBACK = "nlu_fallback"
# Sentences that must never be trained on (the test set and the blind sets).
HELD_OUT = ("tests/nlu/test_nlu.yml", "tests/nlu/test_blind.yml", "tests/nlu/test_blind_v2.yml",
            "tests/nlu/test_blind_v3.yml", "tests/nlu/test_blind_v4.yml",
            "tests/nlu/test_blind_v5.yml")
# Intents whose `service` entity the dialogue relies on to start the right request.
SERVICE_INTENTS = ("request_service", "ask_procedure")


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    try:  # Rasa's processor logs every parse through structlog at debug level
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    except ImportError:
        pass
    for name in ("rasa", "tensorflow", "absl", "urllib3", "matplotlib", "apscheduler", "root"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)


def load_test_set(path: Path) -> list[dict[str, Any]]:
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for msg in load_data(str(path)).intent_examples:
        metadata = msg.get("metadata") or {}
        style = (metadata.get("intent") or {}).get("style")
        if style not in STYLES:
            raise SystemExit(f"{path}: example {msg.get('text')!r} has no style in {STYLES}")
        examples.append({
            "text": msg.get("text"), "intent": msg.get("intent"), "style": style,
            "entities": [{k: e[k] for k in ("entity", "start", "end", "value")}
                         for e in msg.get("entities") or []],
        })
    return examples


def training_overlap(examples: list[dict[str, Any]], data_dir: Path) -> list[str]:
    """Test sentences whose normalised accent-free form also occurs in the training data."""
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.nlu.normalizer import fold_view

    trained = {fold_view(m.get("text")) for m in load_data(str(data_dir)).intent_examples}
    return [e["text"] for e in examples if fold_view(e["text"]) in trained]


def held_out_overlap(evaluated: list[dict[str, Any]], data_dir: Path) -> list[str]:
    """'file: sentence' for every sentence of the evaluated set or of any HELD_OUT file found in the
    training data (a blind set leaking into data/ would make its figures meaningless)."""
    sets = {"evaluated set": evaluated}
    for name in HELD_OUT:
        if (ROOT / name).exists():
            sets[name] = load_test_set(ROOT / name)
    found = []
    for name, examples in sets.items():
        found += [f"{name}: {text}" for text in training_overlap(examples, data_dir)]
    return sorted(set(found))


def train_model(config: Path, data: Path, out_dir: Path) -> tuple[str, float]:
    from rasa.model_training import train_nlu

    started = time.monotonic()
    model = train_nlu(config=str(config), nlu_data=str(data), output=str(out_dir),
                      fixed_model_name="nlu-eval")
    if not model:
        raise SystemExit("NLU training failed")
    return model, time.monotonic() - started


def resolve_model(path: Path) -> str:
    if path.is_dir():
        models = sorted(path.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        if not models:
            raise SystemExit(f"no model in {path}")
        return str(models[-1])
    return str(path)


async def parse_all(model: str, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    return [await agent.parse_message(t) for t in texts]


def top_intent(parse: dict[str, Any]) -> tuple[str, float]:
    """The classifier's best intent and confidence, ignoring the FallbackClassifier."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    if ranking:
        return ranking[0]["name"], float(ranking[0].get("confidence") or 0.0)
    intent = parse.get("intent") or {}
    return intent.get("name") or "", float(intent.get("confidence") or 0.0)


def threshold_table(examples: list[dict[str, Any]], top: list[tuple[str, float]]) -> list[dict[str, float]]:
    """For candidate fallback thresholds: share answered, accuracy, wrong answers among answered."""
    rows = []
    for threshold in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7):
        answered = [(e, t) for e, t in zip(examples, top) if t[1] >= threshold]
        right = sum(1 for e, t in answered if e["intent"] == t[0])
        rows.append({"threshold": threshold, "answered": len(answered) / len(examples),
                     "accuracy": right / len(examples),
                     "wrong_when_answered": (len(answered) - right) / len(answered) if answered else 0.0})
    return rows


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def intent_report(examples: list[dict[str, Any]], predicted: list[str]) -> dict[str, Any]:
    gold = [e["intent"] for e in examples]
    labels = sorted(set(gold) | set(predicted))
    per_intent = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted) if g == p == label)
        fp = sum(1 for g, p in zip(gold, predicted) if p == label and g != label)
        fn = sum(1 for g, p in zip(gold, predicted) if g == label and p != label)
        p, r, f = prf(tp, fp, fn)
        per_intent[label] = {"precision": p, "recall": r, "f1": f, "support": tp + fn}
    by_style = {}
    for style in STYLES:
        idx = [i for i, e in enumerate(examples) if e["style"] == style]
        correct = sum(1 for i in idx if gold[i] == predicted[i])
        by_style[style] = {"accuracy": correct / len(idx) if idx else 0.0, "n": len(idx)}
    correct = sum(1 for g, p in zip(gold, predicted) if g == p)
    confusions = Counter((g, p) for g, p in zip(gold, predicted) if g != p)
    return {
        "accuracy": correct / len(gold), "n": len(gold), "per_intent": per_intent,
        "by_style": by_style, "confusions": [[g, p, n] for (g, p), n in confusions.most_common()],
    }


def entity_report(examples: list[dict[str, Any]], parses: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, Counter] = defaultdict(Counter)
    errors = []
    for ex, parse in zip(examples, parses):
        pred = parse.get("entities") or []
        for etype in PATTERN_ENTITIES:
            g = {(e["start"], e["end"], str(e["value"])) for e in ex["entities"] if e["entity"] == etype}
            p = {(e["start"], e["end"], str(e["value"])) for e in pred if e["entity"] == etype}
            counts[etype].update(tp=len(g & p), fp=len(p - g), fn=len(g - p))
            if g != p:
                errors.append((ex["text"], etype, sorted(g), sorted(p)))
        for etype in PHRASE_ENTITIES:
            g = {str(e["value"]) for e in ex["entities"] if e["entity"] == etype}
            p = {str(e["value"]) for e in pred if e["entity"] == etype}
            counts[etype].update(tp=len(g & p), fp=len(p - g), fn=len(g - p))
            if g != p:
                errors.append((ex["text"], etype, sorted(g), sorted(p)))
    report = {}
    for etype in PATTERN_ENTITIES + PHRASE_ENTITIES:
        c = counts[etype]
        p, r, f = prf(c["tp"], c["fp"], c["fn"])
        report[etype] = {"precision": p, "recall": r, "f1": f, "support": c["tp"] + c["fn"],
                         "false_positives": c["fp"]}
    return {"per_entity": report, "errors": errors, "service_accuracy": service_accuracy(examples, parses)}


def service_values(entities: Optional[list[dict[str, Any]]]) -> set[str]:
    """The `service` values of a message's entities (what the dialogue starts a request from)."""
    return {str(e["value"]) for e in entities or [] if e["entity"] == "service"}


def service_accuracy(examples: list[dict[str, Any]], parses: list[dict[str, Any]]) -> dict[str, Any]:
    """Share of request_service / ask_procedure messages whose `service` values are exactly the gold ones
    (a message without a gold service must get none), per style and overall."""
    rows = []
    for ex, parse in zip(examples, parses):
        if ex["intent"] not in SERVICE_INTENTS:
            continue
        rows.append((ex["style"], service_values(ex["entities"]) == service_values(parse.get("entities"))))
    out: dict[str, Any] = {"accuracy": sum(ok for _, ok in rows) / len(rows) if rows else 0.0, "n": len(rows)}
    for style in STYLES:
        oks = [ok for s, ok in rows if s == style]
        out[style] = {"accuracy": sum(oks) / len(oks) if oks else 0.0, "n": len(oks)}
    return out


def print_report(intents: dict[str, Any], entities: dict[str, Any], train_seconds: Optional[float],
                 test_name: str = "tests/nlu/test_nlu.yml") -> None:
    print(f"\nIntent classification ({test_name})")
    print(f"{'intent':<24}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for label, m in intents["per_intent"].items():
        print(f"{label:<24}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}{m['support']:>9}")
    print(f"\noverall intent accuracy: {intents['accuracy']:.3f} (n={intents['n']})")
    for style, m in intents["by_style"].items():
        print(f"  {style:<11} accuracy: {m['accuracy']:.3f} (n={m['n']})")
    print(f"  answered nlu_fallback: {intents['fallback_rate']:.1%} of messages; accuracy of the "
          f"classifier's top intent without the fallback: {intents['accuracy_without_fallback']:.3f}")
    print("  fallback threshold: answered / accuracy / wrong among answered")
    for row in intents["thresholds"]:
        print(f"    {row['threshold']:.1f}: {row['answered']:.1%} / {row['accuracy']:.1%} / "
              f"{row['wrong_when_answered']:.1%}")
    if intents["confusions"]:
        print("most frequent confusions (gold -> predicted):")
        for g, p, n in intents["confusions"][:10]:
            print(f"  {g} -> {p}: {n}")
    print("\nEntities (patterns: exact span+value; service/field: value per message)")
    print(f"{'entity':<16}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}{'FP':>5}")
    for etype, m in entities["per_entity"].items():
        print(f"{etype:<16}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}"
              f"{m['support']:>9}{m['false_positives']:>5}")
    svc = entities["service_accuracy"]
    print(f"service right on {'/'.join(SERVICE_INTENTS)}: {svc['accuracy']:.3f} (n={svc['n']}; "
          + ", ".join(f"{s} {svc[s]['accuracy']:.3f}" for s in STYLES) + ")")
    if train_seconds is not None:
        print(f"\ntraining time: {train_seconds:.0f} s")


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--test", "--test-set", dest="test", type=Path,
                        default=ROOT / "tests" / "nlu" / "test_nlu.yml", help="held-out file to evaluate")
    parser.add_argument("--model", type=Path, help="evaluate this model (file, or newest in a folder)")
    parser.add_argument("--keep-model", type=Path, help="copy the trained model into this folder")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "nlu")
    parser.add_argument("--min-accuracy", type=float, default=0.95)
    parser.add_argument("--allow-overlap", action="store_true",
                        help="only warn about held-out sentences in the training data (to score an old model)")
    args = parser.parse_args(argv)
    _quiet()

    examples = load_test_set(args.test)
    overlap = held_out_overlap(examples, args.data)
    if overlap:
        print("Held-out sentences also found in the training data (test and blind sets must be held out):")
        for text in overlap:
            print(f"  {text}")
        if not args.allow_overlap:
            return 1
        print(f"({len(overlap)} overlapping sentences; scoring anyway: --allow-overlap)")

    train_seconds = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            model = resolve_model(args.model)
        else:
            print(f"training NLU on {args.data} with {args.config} ...", flush=True)
            model, train_seconds = train_model(args.config, args.data, Path(tmp))
            _quiet()
            if args.keep_model:
                args.keep_model.mkdir(parents=True, exist_ok=True)
                shutil.copy(model, args.keep_model / Path(model).name)
        started = time.monotonic()
        parses = asyncio.run(parse_all(model, [e["text"] for e in examples]))
        parse_seconds = time.monotonic() - started

    predicted = [(p.get("intent") or {}).get("name") or "" for p in parses]
    intents = intent_report(examples, predicted)
    top = [top_intent(p) for p in parses]
    intents["fallback_rate"] = sum(1 for p in predicted if p == FALLBACK) / len(predicted)
    intents["accuracy_without_fallback"] = sum(
        1 for e, t in zip(examples, top) if e["intent"] == t[0]) / len(examples)
    intents["thresholds"] = threshold_table(examples, top)
    entities = entity_report(examples, parses)
    print_report(intents, entities, train_seconds, _display_name(args.test))
    print(f"parse time: {1000 * parse_seconds / len(examples):.1f} ms/message")

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "errors.txt", "w", encoding="utf-8") as f:
        for ex, parse, pred in zip(examples, parses, predicted):
            if ex["intent"] != pred:
                conf = (parse.get("intent") or {}).get("confidence") or 0.0
                f.write(f"[{ex['style']}] {ex['text']!r}: {ex['intent']} -> {pred} ({conf:.2f})\n")
        for text, etype, gold, pred in entities["errors"]:
            f.write(f"[entity {etype}] {text!r}: gold {gold} predicted {pred}\n")
    report = {"test_set": _display_name(args.test), "intents": intents, "entities": entities["per_entity"],
              "service_accuracy": entities["service_accuracy"], "train_seconds": train_seconds,
              "parse_ms_per_message": 1000 * parse_seconds / len(examples)}
    (args.out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"details: {args.out / 'errors.txt'}, {args.out / 'report.json'}")

    failing = {s: m["accuracy"] for s, m in intents["by_style"].items() if m["accuracy"] < args.min_accuracy}
    if failing:
        print(f"FAIL: intent accuracy below {args.min_accuracy:.0%} for " +
              ", ".join(f"{s} ({a:.1%})" for s, a in failing.items()))
        return 1
    print(f"OK: intent accuracy >= {args.min_accuracy:.0%} in every style")
    return 0


if __name__ == "__main__":
    sys.exit(main())
