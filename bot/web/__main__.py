"""`python -m bot.web`: serve the web app on settings.host:settings.web_port."""
from __future__ import annotations

import logging
import os

from aiohttp import web

from bot.settings import get_settings
from bot.web.app import create_app


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # WEBCHAT_SERVER_URL: the Rasa URL as browsers see it (e.g. behind a reverse proxy). Unset: derived
    # per request from the page's host name and settings.rasa_port.
    app = create_app(settings, server_url=os.environ.get("WEBCHAT_SERVER_URL") or None)
    web.run_app(app, host=settings.host, port=settings.web_port, access_log=None,
                print=lambda *_: logging.getLogger("bot.web").info(
                    "web app on http://%s:%s", settings.host, settings.web_port))


if __name__ == "__main__":
    main()
