"""`python -m bot run` end to end: supervisor, Rasa over real HTTP, action server, database."""
from __future__ import annotations

import pytest
import requests

from tests.system import RunningSystem, start_system


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> RunningSystem:
    running = start_system(tmp_path_factory.mktemp("system"))
    yield running
    running.stop()


def test_supervisor_prints_urls_with_prefixed_logs_and_no_secret(system):
    log = system.log()
    assert f"Rasa HTTP API:  {system.rasa_url}" in log
    assert f"http://127.0.0.1:{system.env['ACTION_PORT']}/health" in log
    assert "[   rasa]" in log and "[actions]" in log
    assert "demo data loaded" in log
    assert system.token not in log


def test_http_api_requires_the_token(system):
    assert requests.get(f"{system.rasa_url}/status", timeout=10).status_code == 401
    assert requests.get(f"{system.rasa_url}/status", params={"token": system.token}, timeout=10).ok


def test_rest_channel_answers_in_vietnamese(system):
    replies = system.say("system-greet", "xin chào")
    assert replies and any("text" in r for r in replies)


def test_ctrl_c_stops_every_child(system):
    """Runs last in this module: SIGINT stops the supervisor and frees every port."""
    ports = [system.env[name] for name in ("RASA_PORT", "ACTION_PORT")]
    assert system.stop() == 0
    for port in ports:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=3)
