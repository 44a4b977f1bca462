"""aiohttp application factory: demo page + chat widget assets, and the agent console's API
(bot/takeover/api.py, under /api/) with the takeover sweeper (queue timeouts, idle hand-backs).

Routes
  GET /                           demo customer-care page (web/demo.html) with the widget on it
  GET /widget.js, /widget.css     the embeddable widget (`<script src="…/widget.js" data-server="…">`)
  GET /demo.css                   demo page styles
  GET /vendor/socket.io.min.js    socket.io-client v4 browser bundle, copied by `make setup`
  GET /healthz                    {"status": "ok"}
  /console/…                      the agent console (bot/web/console_pages.py), request desk and overview API
                                  (bot/web/desk.py, bot/web/overview.py)

Only the files listed in ASSETS are served (never the web/ directory itself: package.json, node_modules).
"""
from __future__ import annotations

import asyncio
import html
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional
from urllib.parse import urlsplit

from aiohttp import web

from bot import PROJECT_ROOT
from bot.settings import Settings
from bot.takeover import api as takeover_api
from bot.takeover import sweeper
from bot.web import console_pages, desk, overview

logger = logging.getLogger(__name__)

WEB_ROOT = PROJECT_ROOT / "web"
SETTINGS_KEY = web.AppKey("settings", Settings)
SERVER_URL_KEY = web.AppKey("server_url", str)
WEB_ROOT_KEY = web.AppKey("web_root", Path)

# url path -> (file under web/, content type)
ASSETS: Dict[str, tuple] = {
    "/widget.js": ("widget.js", "application/javascript; charset=utf-8"),
    "/widget.css": ("widget.css", "text/css; charset=utf-8"),
    "/demo.css": ("demo.css", "text/css; charset=utf-8"),
    "/vendor/socket.io.min.js": ("vendor/socket.io.min.js", "application/javascript; charset=utf-8"),
}
SETUP_HINT = "socket.io client bundle missing: run `make setup` (npm ci --prefix web, then copy it to web/vendor/)"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    resp = await handler(request)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return resp


def webchat_server_url(request: web.Request) -> str:
    """The Rasa server URL for the widget, as the browser must reach it."""
    configured = request.app[SERVER_URL_KEY]
    if configured:
        return configured.rstrip("/")
    settings = request.app[SETTINGS_KEY]
    # request.host is the Host header ("name:port"); request.url is avoided (yarl rejects a port there with
    # the pinned aiohttp 3.9)
    host = urlsplit("//" + (request.host or "")).hostname or settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"{request.scheme}://{host}:{settings.rasa_port}"


def _csp(server_url: str) -> str:
    parts = urlsplit(server_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    ws_origin = ("wss" if parts.scheme == "https" else "ws") + f"://{parts.netloc}"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https: http:",
        f"connect-src 'self' {origin} {ws_origin}",
        "frame-ancestors 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ])


async def demo_page(request: web.Request) -> web.Response:
    path = request.app[WEB_ROOT_KEY] / "demo.html"
    server_url = webchat_server_url(request)
    page = path.read_text(encoding="utf-8").replace("{{WEBCHAT_SERVER}}", html.escape(server_url, quote=True))
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers={
        "Content-Security-Policy": _csp(server_url),
        "Cache-Control": "no-cache",
    })


def _asset_handler(relative: str, content_type: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        path = request.app[WEB_ROOT_KEY] / relative
        if not path.is_file():
            if relative.startswith("vendor/"):
                logger.error(SETUP_HINT)
                return web.Response(status=503, text=f"/* {SETUP_HINT} */", content_type="application/javascript")
            raise web.HTTPNotFound()
        resp = web.FileResponse(path, headers={
            "Content-Type": content_type,
            "Cache-Control": "no-cache",  # revalidate (Last-Modified) so a deploy reaches every page
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",  # the widget is embedded on other sites
        })
        return resp
    return handler


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def add_widget_routes(app: web.Application) -> None:
    app.router.add_get("/", demo_page)
    for url, (relative, content_type) in ASSETS.items():
        app.router.add_get(url, _asset_handler(relative, content_type))
    app.router.add_get("/healthz", healthz)


async def _sweeper(app: web.Application) -> Any:
    task = asyncio.ensure_future(sweeper.run_forever(app[SETTINGS_KEY]))
    yield
    task.cancel()


def create_app(settings: Settings, *, server_url: Optional[str] = None,
               web_root: Optional[Path] = None, sweep: bool = True) -> web.Application:
    """The web application. `server_url` overrides the Rasa URL given to the widget on the demo page."""
    app = web.Application(middlewares=[security_headers, takeover_api.auth])
    app[SETTINGS_KEY] = settings
    app[SERVER_URL_KEY] = server_url or ""
    app[WEB_ROOT_KEY] = web_root or WEB_ROOT
    add_widget_routes(app)
    takeover_api.add_routes(app, settings)
    desk.add_routes(app)
    overview.add_routes(app)
    console_pages.add_routes(app)
    if sweep:
        app.cleanup_ctx.append(_sweeper)
    if not (app[WEB_ROOT_KEY] / "vendor" / "socket.io.min.js").is_file():
        logger.warning(SETUP_HINT)
    return app
