"""Which input channels a run mounts, and how: from credentials.yml (the template) and the settings.

credentials.yml lists every channel the project has. A platform channel (Zalo OA, Messenger) is mounted
with its real settings; without them it is mounted against the local simulator (bot/simulators) when
SIMULATORS is on, and left out otherwise. `python -m bot run` writes the result to a run-specific file
and passes it to Rasa; each case is told to the operator in one line.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

import yaml

from bot import PROJECT_ROOT
from bot.settings import Settings

TEMPLATE = PROJECT_ROOT / "credentials.yml"


@dataclass(frozen=True)
class Platform:
    name: str  # Rasa channel name, also the webhook path segment
    label: str
    credentials_key: str  # the class path in credentials.yml
    required: tuple  # setting names without which the real platform cannot be used

    def configured(self, settings: Settings) -> bool:
        return all(getattr(settings, name) for name in self.required)

    def webhook_url(self, settings: Settings) -> str:
        return f"{settings.webhook_base}/webhooks/{self.name}/webhook"


PLATFORMS = (
    Platform("zalo", "Zalo OA", "connectors.zalo.ZaloInput", ("zalo_app_id", "zalo_oa_secret_key")),
    Platform("messenger", "Messenger", "connectors.messenger.MessengerInput",
             ("messenger_app_secret", "messenger_verify_token", "messenger_page_access_token")),
)


def simulated_settings(platform: Platform, settings: Settings) -> Dict[str, str]:
    """Settings (as environment variables) that point a platform channel at the local simulator.
    The secrets are made up per run; the simulator signs with the same ones."""
    base = f"{settings.simulator_url}/{platform.name}"
    if platform.name == "zalo":
        return {"ZALO_APP_ID": "2000000000000000001", "ZALO_OA_SECRET_KEY": secrets.token_hex(16),
                "ZALO_APP_SECRET_KEY": secrets.token_hex(16), "ZALO_ACCESS_TOKEN": "sim-" + secrets.token_hex(16),
                "ZALO_REFRESH_TOKEN": "sim-" + secrets.token_hex(16), "ZALO_API_BASE": base,
                "ZALO_OAUTH_BASE": base}
    return {"MESSENGER_APP_SECRET": secrets.token_hex(16), "MESSENGER_VERIFY_TOKEN": secrets.token_hex(8),
            "MESSENGER_PAGE_ACCESS_TOKEN": "sim-" + secrets.token_hex(16), "MESSENGER_APP_ID": "3000000000000001",
            "MESSENGER_GRAPH_BASE": base}


@dataclass
class ChannelPlan:
    credentials: Dict[str, Any]
    env: Dict[str, str] = field(default_factory=dict)  # settings for Rasa and the simulator
    simulated: List[str] = field(default_factory=list)  # platform names served by the simulator
    lines: List[str] = field(default_factory=list)  # what the operator is told


def plan_channels(settings: Settings) -> ChannelPlan:
    credentials = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8")) or {}
    plan = ChannelPlan(credentials)
    if not settings.rest_channel:  # unauthenticated: off in production unless protected at the proxy
        for key in [k for k in credentials if k == "rest" or k.rsplit(".", 1)[-1] == "RestInput"]:
            del credentials[key]
        plan.lines.append("REST channel: off (REST_CHANNEL=false)")
    for platform in PLATFORMS:
        if platform.credentials_key not in credentials:
            continue
        if platform.configured(settings):
            plan.lines.append(f"{platform.label} webhook: {platform.webhook_url(settings)}  (paste into the "
                              f"{platform.label} app settings)")
        elif settings.simulators:
            plan.env.update(simulated_settings(platform, settings))
            plan.simulated.append(platform.name)
            plan.lines.append(f"{platform.label}: not configured; local simulator at "
                              f"{settings.simulator_url}/{platform.name}/ (chat as a {platform.label} user)")
        else:
            del credentials[platform.credentials_key]
            names = ", ".join(n.upper() for n in platform.required)
            plan.lines.append(f"{platform.label}: not configured ({names}); channel not mounted")
    return plan


def write_credentials(plan: ChannelPlan, directory: Path, tag: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"credentials-{tag}.yml"
    path.write_text("# Written by `python -m bot run` from credentials.yml and the settings; do not edit.\n"
                    + yaml.safe_dump(plan.credentials, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
