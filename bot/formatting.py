"""Display helpers for Vietnamese replies: money, dates, times and masked personal data."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Optional, Union

from bot.localtime import as_local

Number = Union[int, float, Decimal]


def format_number(value: Any, *, keep_decimals: bool = False) -> str:
    """A number the Vietnamese way: '.' groups thousands, ',' marks decimals.

    By default it is rounded to a whole number (money, kWh): 1234567 -> '1.234.567', 5.5 -> '6'.
    `keep_decimals=True` shows the decimals as given (a capacity of 5.5 kW): 5.5 -> '5,5', 5 -> '5'.
    A value that is not a number is shown as it is.
    """
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    if not keep_decimals or number == number.to_integral_value():
        number = number.quantize(Decimal(1))
    sign = "-" if number < 0 else ""
    whole, _, decimals = format(abs(number).normalize(), "f").partition(".")
    return sign + f"{int(whole):,}".replace(",", ".") + (f",{decimals}" if decimals else "")


def format_money(amount: Number) -> str:
    """1234567 -> '1.234.567 đ'."""
    return f"{format_number(amount)} đ"


def format_percent(rate: Number) -> str:
    """Decimal('0.08') -> '8%', Decimal('0.075') -> '7,5%'."""
    pct = (Decimal(str(rate)) * 100).normalize()
    text = format(pct, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",") + "%"


def format_date(value: Union[date, datetime, str, None]) -> str:
    """date(2025, 5, 20) or '2025-05-20' (a date slot) -> '20/05/2025'; datetimes are shown as their
    Vietnam-time date; text that is not an ISO date is shown as it is."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = as_local(value).date()
    elif isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%d/%m/%Y")


def format_short_datetime(moment: datetime) -> str:
    """A stored moment (an outage boundary) as 'dd/mm HH:MM' in Vietnam time."""
    return as_local(moment).strftime("%d/%m %H:%M")


def format_period(period: str) -> str:
    """Billing period 'YYYY-MM' -> 'MM/YYYY'."""
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", (period or "").strip())
    return f"{int(m.group(2)):02d}/{m.group(1)}" if m else period


def mask_name(name: Optional[str]) -> str:
    """'Nguyễn Văn An' -> 'Nguyễn V** A*': the family name stays, other words keep their first letter."""
    words = (name or "").split()
    if not words:
        return ""
    return " ".join([words[0]] + [w[0] + "*" * (len(w) - 1) for w in words[1:]])


def _mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    if len(value) <= keep_start + keep_end:
        return value[:1] + "*" * (len(value) - 1) if value else ""
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end:]


def mask_phone(phone: Optional[str]) -> str:
    """'0912345678' -> '0912***678'."""
    digits = re.sub(r"\D", "", phone or "")
    return _mask_middle(digits, 4, 3)


def mask_id_number(id_number: Optional[str]) -> str:
    """'001203004567' -> '0012******67'."""
    digits = re.sub(r"\D", "", id_number or "")
    return _mask_middle(digits, 4, 2)


def mask_address(address: Optional[str]) -> str:
    """Hide the house/street part, keep the area.

    'Số 12 ngõ 34 Phố Huế, phường Hai Bà Trưng, Hà Nội' -> '***, phường Hai Bà Trưng, Hà Nội';
    without commas only the digits are hidden: 'Số 12 Lê Lợi' -> 'Số ** Lê Lợi'.
    """
    parts = [p.strip() for p in (address or "").split(",") if p.strip()]
    if not parts:
        return ""
    if len(parts) == 1:
        return re.sub(r"\d", "*", parts[0])
    kept = parts[-2:] if len(parts) > 2 else parts[1:]
    return ", ".join(["***"] + kept)
