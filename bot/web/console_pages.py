"""The agent console's pages (files in bot/web/console/, no build step, nothing from a CDN).

  GET /console/login                     the login page
  GET /console/…                         the console (one page; the script shows the screen the path names):
                                         /console/ (queue and conversations), /console/c/{id}, /console/callbacks,
                                         /console/requests, /console/requests/{code}, /console/overview
  GET /console/assets/{console.js|console.css}

The session is checked here, on the server: without a live session every console URL answers with a
redirect to the login page; a supervisor screen opened by an agent answers 403. The data itself comes from
the JSON API (bot/takeover/api.py, bot/web/desk.py, bot/web/overview.py), which checks again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict
from urllib.parse import quote

from aiohttp import web

from bot.takeover import agents
from bot.takeover.api import COOKIE, run_db

CONSOLE_ROOT = Path(__file__).resolve().parent / "console"
ASSETS: Dict[str, str] = {"console.js": "application/javascript; charset=utf-8",
                          "console.css": "text/css; charset=utf-8"}
SUPERVISOR_SCREENS = ("overview",)
FORBIDDEN_PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Không có quyền</title>
<link rel="stylesheet" href="/console/assets/console.css"></head><body class="plain">
<main class="notice"><h1>Không có quyền truy cập</h1><p>Trang này chỉ dành cho giám sát viên.</p>
<p><a href="/console/">Quay lại hàng chờ</a></p></main></body></html>"""


def console_csp(request: web.Request) -> str:
    host = request.host or ""
    ws = ("wss" if request.secure else "ws") + f"://{host}"
    return "; ".join(["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
                      f"connect-src 'self' {ws}", "frame-ancestors 'none'", "base-uri 'none'",
                      "form-action 'self'", "object-src 'none'"])


def _page(request: web.Request, body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers={
        "Content-Security-Policy": console_csp(request), "Cache-Control": "no-store",
        "X-Frame-Options": "DENY"})


async def login_page(request: web.Request) -> web.Response:
    return _page(request, (CONSOLE_ROOT / "login.html").read_text(encoding="utf-8"))


async def console_page(request: web.Request) -> web.Response:
    found = await run_db(agents.session_agent, request.cookies.get(COOKIE, ""))
    if found is None:
        raise web.HTTPSeeOther(f"/console/login?next={quote(request.path, safe='/')}")
    screen = request.match_info.get("tail", "").split("/", 1)[0]
    if screen in SUPERVISOR_SCREENS and not found[0].supervisor:
        return _page(request, FORBIDDEN_PAGE, status=403)
    return _page(request, (CONSOLE_ROOT / "index.html").read_text(encoding="utf-8"))


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    return web.FileResponse(CONSOLE_ROOT / name, headers={"Content-Type": ASSETS[name], "Cache-Control": "no-cache"})


async def to_console(_: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console", to_console)
    app.router.add_get("/console/login", login_page)
    app.router.add_get("/console/assets/{name}", asset)
    app.router.add_get("/console/{tail:.*}", console_page)
