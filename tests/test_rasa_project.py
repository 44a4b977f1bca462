"""Rasa-level checks: training data validation and the conversation test stories."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot import PROJECT_ROOT
from tests.system import MODEL, seeded_database, start_action_server

RASA = str(Path(sys.executable).with_name("rasa"))


def test_rasa_data_validate():
    result = subprocess.run([RASA, "data", "validate", "--domain", "domain.yml", "--data", "data"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_conversation_stories(tmp_path):
    """Every story in tests/stories passes with --fail-on-prediction-errors, against the real action server."""
    assert MODEL.exists(), "run `make train` first (make test does)"
    env = dict(os.environ, DATABASE_URL=seeded_database(tmp_path),
               TRACKER_STORE_URL=f"sqlite:///{tmp_path / 'tracker.db'}")
    actions, url = start_action_server(env)
    try:
        env["ACTION_ENDPOINT_URL"] = url
        result = subprocess.run(
            [RASA, "test", "core", "--stories", "tests/stories", "--model", str(MODEL), "--endpoints",
             "endpoints.yml", "--fail-on-prediction-errors", "--out", str(tmp_path / "results")],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    finally:
        actions.kill()
        actions.wait()
    failed = tmp_path / "results" / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8")[-6000:] if failed.exists() else ""
    assert result.returncode == 0, details + result.stdout[-3000:] + result.stderr[-3000:]
