"""Settings from the environment and `.env`, with safe defaults for a local run."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import lru_cache
from typing import Mapping, Optional

from dotenv import dotenv_values

from bot import PROJECT_ROOT

SECRET_FIELDS = {
    "rasa_token", "zalo_oa_secret_key", "zalo_app_secret_key", "zalo_access_token", "zalo_refresh_token",
    "messenger_app_secret", "messenger_verify_token", "messenger_page_access_token",
}
URL_FIELDS = {"database_url", "tracker_store_url"}  # may carry a password


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'assistant.db'}"
    tracker_store_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}"
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    web_port: int = 8080
    webchat_server_url: str = ""  # Rasa's URL as browsers see it; empty = page host + RASA_PORT
    rasa_token: str = "change-me"
    vat_rate: Decimal = Decimal("0.08")
    default_hotline: str = "1900 1288"
    log_level: str = "INFO"
    restart_children: bool = True
    # Address at which Zalo and Meta reach the Rasa server (HTTPS, behind a reverse proxy); printed webhook
    # URLs use it. Empty: the local Rasa URL.
    public_url: str = ""
    # Local stand-ins for Zalo and Messenger (bot/simulators), used for a platform without settings.
    simulators: bool = True
    # REST channel (/webhooks/rest/webhook): Rasa's REST protocol has no authentication. On for tests and
    # trusted integrations; keep it off in production, or protect it at the proxy.
    rest_channel: bool = True
    simulator_port: int = 8090
    # Human takeover (bot/takeover): Redis for notifications between processes (empty: polling only),
    # office hours (local time, ISO weekdays 1 = Monday), queue timeout and idle hand-back.
    redis_url: str = "redis://127.0.0.1:6379/0"
    webchat_shared_rooms: bool = False  # web chat rooms in Redis, for several Rasa instances
    office_hours: str = "07:30-17:00"
    office_days: str = "1-6"
    queue_timeout_seconds: int = 180
    agent_idle_seconds: int = 1800
    # `make run` creates a demo console login (demo only) when no agent exists and the database is the
    # default local SQLite file; false: never.
    demo_agent: bool = True
    # Zalo OA (connectors/zalo.py). Names fixed by the Zalo issue; outside tools rely on them.
    zalo_app_id: str = ""
    zalo_oa_secret_key: str = ""
    zalo_app_secret_key: str = ""
    zalo_access_token: str = ""
    zalo_refresh_token: str = ""
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    # Facebook Messenger (connectors/messenger.py). Names fixed by the Messenger issue.
    messenger_app_secret: str = ""
    messenger_verify_token: str = ""
    messenger_page_access_token: str = ""
    messenger_app_id: str = ""
    messenger_graph_base: str = "https://graph.facebook.com"
    messenger_graph_version: str = "v25.0"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}/webhook"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def simulator_url(self) -> str:
        return f"http://{self.host}:{self.simulator_port}"

    @property
    def webhook_base(self) -> str:
        """Where platforms send webhooks: PUBLIC_URL in production, the local Rasa otherwise."""
        return (self.public_url or self.rasa_url).rstrip("/")

    @property
    def zalo_configured(self) -> bool:
        return bool(self.zalo_app_id and self.zalo_oa_secret_key)

    @property
    def messenger_configured(self) -> bool:
        return bool(self.messenger_app_secret and self.messenger_verify_token and self.messenger_page_access_token)

    def redacted(self) -> dict[str, str]:
        """Printable view: secrets are masked."""
        view = {f.name: str(getattr(self, f.name)) for f in fields(self)}
        for name in SECRET_FIELDS:
            view[name] = "***"
        for name in URL_FIELDS:
            view[name] = _mask_password(view[name])
        return view

    def __repr__(self) -> str:  # never leak secrets through logs or tracebacks
        return f"Settings({self.redacted()})"


def _mask_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown fully masked
        return "***"


def _convert(value: str, default: object) -> object:
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(value)
    if isinstance(default, Decimal):
        return Decimal(value)
    return value


def load_settings(environ: Optional[Mapping[str, str]] = None, env_file: Optional[str] = None) -> Settings:
    """Environment variables win over `.env`; unset names keep their defaults."""
    source: dict[str, str] = {}
    path = env_file if env_file is not None else str(PROJECT_ROOT / ".env")
    if path and os.path.exists(path):
        source.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    source.update(os.environ if environ is None else environ)
    defaults = Settings()
    values = {}
    for f in fields(Settings):
        raw = source.get(f.name.upper())
        if raw not in (None, ""):
            values[f.name] = _convert(raw, getattr(defaults, f.name))
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
