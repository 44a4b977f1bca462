"""`python -m bot.simulators [zalo] [messenger]`: serve the platform simulators on SIMULATOR_PORT."""
from __future__ import annotations

import sys

from aiohttp import web

from bot.settings import get_settings
from bot.simulators.app import create_app


def main() -> None:
    settings = get_settings()
    platforms = sys.argv[1:] or ["zalo", "messenger"]
    web.run_app(create_app(settings, platforms), host=settings.host, port=settings.simulator_port,
                print=lambda _msg: print(f"simulators on {settings.simulator_url}/ ({', '.join(platforms)})",
                                         flush=True))


if __name__ == "__main__":
    main()
