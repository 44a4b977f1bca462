"""The simulators' web app: one aiohttp app, a sub-app per platform."""
from __future__ import annotations

import html
import importlib
from typing import Sequence

from aiohttp import web
from aiohttp.helpers import reify
from yarl import URL

from bot.settings import Settings


def _url(self: web.BaseRequest) -> URL:
    # aiohttp 3.9 builds request.url with URL.build(host="127.0.0.1:8090"), which the pinned yarl (1.25)
    # rejects, so every sub-app route answered 500. Backport of aiohttp 3.10: the Host header is an authority.
    return URL.build(scheme=self.scheme, authority=self.host).join(self._rel_url)


if "authority=" not in (getattr(web.BaseRequest.url, "__doc__", "") or ""):
    _url.__doc__ = "authority="
    web.BaseRequest.url = reify(_url)  # type: ignore[method-assign]


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
