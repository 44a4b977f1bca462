"""Settings from the environment and `.env`, with safe defaults for a local run."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import lru_cache
from typing import Mapping, Optional

from dotenv import dotenv_values

from bot import PROJECT_ROOT

SECRET_FIELDS = {"rasa_token"}
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

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}/webhook"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

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
