"""The console API over real HTTP for tests: an aiohttp test server of the web app (Rasa unreachable on purpose,
no Redis) with three agents, and a login that returns the headers an agent's POSTs need.

    from tests.console import api, login  # noqa: F401 - `api` is a pytest fixture
"""
from __future__ import annotations

from typing import Dict

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from bot.settings import Settings
from bot.takeover import agents
from bot.web import create_app


@pytest.fixture
async def api(db_url):
    agents.add_agent("lan", "mat-khau-lan", "Lan")
    agents.add_agent("minh", "mat-khau-minh", "Minh")
    agents.add_agent("thu", "mat-khau-thu", "Chị Thu", role="supervisor")
    settings = Settings(rasa_port=1, rasa_token="t", redis_url="")  # Rasa unreachable on purpose
    async with TestClient(TestServer(create_app(settings, sweep=False)), cookie_jar=DummyCookieJar()) as client:
        yield client


async def login(api: TestClient, name: str) -> Dict[str, str]:
    """Headers of agent `name` (password mat-khau-<name>): the session cookie and the CSRF token; one cookie
    per agent, no shared jar."""
    resp = await api.post("/api/login", json={"username": name, "password": f"mat-khau-{name}"})
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    return {"X-CSRF-Token": data["csrf"], "Cookie": f"cskh_session={resp.cookies['cskh_session'].value}"}
