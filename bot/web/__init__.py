"""Web app (aiohttp): the demo customer-care page and the chat widget assets; later the agent console.

`create_app(settings)` builds the application; `python -m bot.web` serves it on settings.host:web_port.
"""
from bot.web.app import create_app

__all__ = ["create_app"]
