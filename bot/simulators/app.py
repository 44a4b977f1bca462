"""The simulators' web app: one aiohttp app, a sub-app per platform."""
from __future__ import annotations

import html
import importlib
from typing import Sequence

from aiohttp import web

from bot.settings import Settings


def create_app(settings: Settings, platforms: Sequence[str] = ("zalo", "messenger")) -> web.Application:
    app = web.Application()
    mounted = []
    for name in platforms:
        module = importlib.import_module(f"bot.simulators.{name}")
        app.add_subapp(f"/{name}/", module.create_app(settings))
        mounted.append((name, module.TITLE))

    async def index(_: web.Request) -> web.Response:
        links = "".join(f'<li><a href="/{n}/">{html.escape(t)}</a></li>' for n, t in mounted)
        return web.Response(text=f"<!doctype html><meta charset=utf-8><title>Mô phỏng nền tảng</title>"
                                 f"<h1>Mô phỏng nền tảng chat</h1><ul>{links}</ul>", content_type="text/html")

    app.router.add_get("/", index)
    return app
