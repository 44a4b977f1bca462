"""Rasa-level checks: training data validation and the conversation test stories."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot import PROJECT_ROOT
from tests.system import MODEL

RASA = str(Path(sys.executable).with_name("rasa"))


def test_rasa_data_validate():
    result = subprocess.run([RASA, "data", "validate", "--domain", "domain.yml", "--data", "data"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_conversation_stories(tmp_path):
    """Every story in tests/stories passes with --fail-on-prediction-errors.

    `rasa test core` checks the model's predictions (NLU on the story texts, then the dialogue policies)
    and replays the stories' events; it does not call the action server. The actions themselves run for
    real in tests/test_system.py.
    """
    assert MODEL.exists(), "run `make train` first (make test does)"
    env = dict(os.environ, ACTION_ENDPOINT_URL="http://127.0.0.1:9/webhook",
               TRACKER_STORE_URL=f"sqlite:///{tmp_path / 'tracker.db'}")  # endpoints.yml needs them set
    result = subprocess.run(
        [RASA, "test", "core", "--stories", "tests/stories", "--model", str(MODEL),
         "--fail-on-prediction-errors", "--out", str(tmp_path / "results")],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    failed = tmp_path / "results" / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8")[-6000:] if failed.exists() else ""
    assert result.returncode == 0, details + result.stdout[-3000:] + result.stderr[-3000:]
