"""`python -m bot.web`: serve the web app on settings.host:settings.web_port."""
from __future__ import annotations

import logging

from aiohttp import web

from bot.settings import get_settings
from bot.web.app import create_app


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # webchat_server_url: the Rasa URL as browsers see it (e.g. behind a reverse proxy). Empty: derived
    # per request from the page's host name and settings.rasa_port.
    app = create_app(settings, server_url=settings.webchat_server_url or None)
    web.run_app(app, host=settings.host, port=settings.web_port, access_log=None,
                print=lambda *_: logging.getLogger("bot.web").info(
                    "web app on http://%s:%s", settings.host, settings.web_port))


if __name__ == "__main__":
    main()
