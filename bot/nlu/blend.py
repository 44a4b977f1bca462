"""`BlendedIntentClassifier`: a linear model beside DIET, their probabilities averaged.

DIET fits the training writers' phrasing closely; a logistic regression on the same sparse
n-gram features (rows L2-normalised, so a long message with context weighs like a short one)
is smoother on wordings nobody wrote. Placed after DIET, this component trains the linear model
and replaces the intent and ranking by `weight * linear + (1 - weight) * DIET`. DIET must rank every
intent (`ranking_length: 0`). A candidate: docs/nlu.md, "Model choice", says why config.yml does not use it.
"""
from __future__ import annotations

from typing import Any

from scipy.sparse import csr_matrix
from sklearn.preprocessing import normalize

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class BlendedIntentClassifier(LogisticRegressionClassifier):
    """Logistic regression on the sparse features, blended with the previous classifier's ranking."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "max_iter": 1000, "C": 10.0,
                "weight": 0.5}

    def __init__(self, config: dict[str, Any], *args: Any) -> None:
        super().__init__(config, *args)
        self.clf.set_params(C=self.config["C"])

    def _create_X(self, messages: list[Message]) -> csr_matrix:
        return normalize(super()._create_X(messages))

    def process(self, messages: list[Message]) -> list[Message]:
        if not messages or not hasattr(self.clf, "classes_"):
            return messages
        probas = self.clf.predict_proba(self._create_X(messages))
        weight = float(self.config["weight"])
        for message, row in zip(messages, probas):
            previous = {r["name"]: r["confidence"] for r in message.get(INTENT_RANKING_KEY) or []}
            blended = {name: weight * float(p) + (1 - weight) * float(previous.get(name, 0.0))
                       for name, p in zip(self.clf.classes_, row)}
            ranking = [{"name": n, "confidence": c}
                       for n, c in sorted(blended.items(), key=lambda kv: -kv[1])]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking[: self.config["ranking_length"] or None],
                        add_to_output=True)
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        # Nothing downstream trains on the predicted intent; skip a pass over every example.
        return training_data
