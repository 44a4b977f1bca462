"""The chat page every simulator serves: a person chats "as a platform user" and sees exactly what the
bot sent to the platform (text, buttons, images), through the API described in bot/simulators/__init__.py."""
from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"
CSP = "default-src 'self'; img-src 'self' data: https: http:; style-src 'self'; script-src 'self'"


def add_chat_page(app: web.Application, title: str, events: tuple = ()) -> None:
    """GET / (the page) and GET /static/* on a platform sub-app. `events` names extra user actions the
    page offers as buttons (e.g. ("follow", "location", "image")), sent to POST /api/event."""
    page = (STATIC / "chat.html").read_text(encoding="utf-8")
    page = page.replace("{{TITLE}}", html.escape(title)).replace("{{EVENTS}}", html.escape(",".join(events)))

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={"Content-Security-Policy": CSP})

    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
