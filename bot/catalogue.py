"""Typed loader for the service catalogue (data/services.yml)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml

from bot import PROJECT_ROOT

CATALOGUE_PATH = PROJECT_ROOT / "data" / "services.yml"


@dataclass(frozen=True)
class SlotValue:
    code: str
    vi: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class SlotSpec:
    name: str
    vi: str
    example: str
    values: tuple[SlotValue, ...] = ()

    def value(self, code: str) -> Optional[SlotValue]:
        return next((v for v in self.values if v.code == code), None)


@dataclass(frozen=True)
class Service:
    code: str
    vi: str
    short: str
    slots: tuple[str, ...]
    optional_slots: tuple[str, ...]
    documents: tuple[str, ...]
    days_text: str
    due_working_days: int
    fee: str
    priority: str
    phrases: tuple[str, ...]
    restore_target_hours: Optional[int] = None
    prefill_from_customer: bool = True  # offer name/phone/address from the customer table

    @property
    def is_free(self) -> bool:
        return self.fee.strip().lower().startswith("miễn phí")


@dataclass(frozen=True)
class Corporation:
    code: str
    vi: str
    hotline: str


@dataclass(frozen=True)
class Tariff:
    source: str
    tiers: tuple[tuple[Optional[int], int], ...]  # (upper kWh bound or None, đồng/kWh)
    prepaid_meter: int

    def breakdown(self, kwh: int) -> list[tuple[int, int, int, int]]:
        """Tier-by-tier split: (tier number, kWh in tier, price, amount) excluding VAT."""
        rows, lower = [], 0
        for i, (upper, price) in enumerate(self.tiers, start=1):
            if kwh <= lower:
                break
            in_tier = (min(kwh, upper) if upper is not None else kwh) - lower
            rows.append((i, in_tier, price, in_tier * price))
            lower = upper if upper is not None else kwh
        return rows

    def cost(self, kwh: int, vat_rate: Decimal) -> tuple[int, int, int]:
        """(amount before VAT, VAT, total), rounded to whole đồng."""
        before = sum(r[3] for r in self.breakdown(kwh))
        vat = int((Decimal(before) * vat_rate).quantize(Decimal(1)))
        return before, vat, before + vat


@dataclass(frozen=True)
class Catalogue:
    slots: dict[str, SlotSpec]
    services: dict[str, Service]
    corporations: dict[str, Corporation]
    routing: dict[str, str]  # prefix -> corporation code
    tariff: Tariff
    payment_channels: tuple[str, ...] = field(default=())

    def service(self, code: str) -> Service:
        return self.services[code]

    def route(self, customer_code: str) -> Optional[Corporation]:
        """Power corporation serving a customer code; the longest matching prefix wins."""
        code = customer_code.strip().upper()
        for prefix in sorted(self.routing, key=len, reverse=True):
            if code.startswith(prefix):
                return self.corporations[self.routing[prefix]]
        return None


def _slot(name: str, raw: dict) -> SlotSpec:
    values = tuple(
        SlotValue(str(code), v["vi"], tuple(v.get("words", ())))
        for code, v in (raw.get("values") or {}).items()
    )
    return SlotSpec(name, raw["vi"], str(raw.get("example", "")), values)


def _service(code: str, raw: dict, slot_names: set[str]) -> Service:
    slots = tuple(raw["slots"])
    optional = tuple(raw.get("optional_slots", ()))
    unknown = (set(slots) | set(optional)) - slot_names
    if unknown:
        raise ValueError(f"service {code}: unknown slots {sorted(unknown)}")
    return Service(
        code=code,
        vi=raw["vi"],
        short=raw.get("short", raw["vi"]),
        slots=slots,
        optional_slots=optional,
        documents=tuple(raw.get("documents") or ()),
        days_text=raw["days_text"],
        due_working_days=int(raw["due_working_days"]),
        fee=raw["fee"],
        priority=raw.get("priority", "normal"),
        phrases=tuple(raw.get("phrases", ())),
        restore_target_hours=raw.get("restore_target_hours"),
        prefill_from_customer=bool(raw.get("prefill_from_customer", True)),
    )


def parse_catalogue(raw: dict) -> Catalogue:
    slots = {name: _slot(name, spec) for name, spec in raw["slots"].items()}
    services = {code: _service(code, spec, set(slots)) for code, spec in raw["services"].items()}
    corps = {code: Corporation(code, c["vi"], c["hotline"]) for code, c in raw["corporations"].items()}
    routing = {str(p): str(c) for p, c in raw["routing"].items()}
    missing = set(routing.values()) - set(corps)
    if missing:
        raise ValueError(f"routing names unknown corporations {sorted(missing)}")
    t = raw["residential_tariff"]
    tariff = Tariff(t["source"], tuple((u, int(p)) for u, p in t["tiers"]), int(t["prepaid_meter"]))
    return Catalogue(slots, services, corps, routing, tariff, tuple(raw.get("payment_channels", ())))


@lru_cache(maxsize=4)
def load_catalogue(path: Optional[Path] = None) -> Catalogue:
    with open(path or CATALOGUE_PATH, encoding="utf-8") as f:
        return parse_catalogue(yaml.safe_load(f))
