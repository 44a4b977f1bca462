"""Dates as customers type them in Vietnamese chat: '15/12', 'ngày mai', 'thứ hai tuần sau', '3 ngày nữa'."""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Optional

from bot.text import fold

# Spelled-out numbers, accent-free ("ba ngày nữa", "hai hộ").
NUMBER_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8,
                "chin": 9, "muoi": 10}
_WEEKDAYS = {"hai": 0, "2": 0, "ba": 1, "3": 1, "tu": 2, "4": 2, "nam": 3, "5": 3, "sau": 4, "6": 4,
             "bay": 5, "7": 5}
_WEEKDAY_RE = re.compile(r"\b(?:thu|t)\s?(hai|ba|tu|nam|sau|bay|[2-7])\b|\b(chu nhat|cn)\b")


def parse_date(text: str, today: date) -> Optional[date]:
    """'ngày mai', 'mai', 'mốt', 'thứ 2 tuần sau', 't6', '15/12', '15-12-2026', 'ngày 15 tháng 12',
    '3 ngày nữa' (with or without diacritics) -> a date; None when nothing is recognised."""
    folded = fold(text or "")
    m = re.search(r"\b(\d{1,2})\s*[/.\-]\s*(\d{1,2})(?:\s*[/.\-]\s*(\d{2,4}))?\b", folded) or re.search(
        r"\b(?:ngay\s*)?(\d{1,2})\s*thang\s*(\d{1,2})(?:\s*(?:nam|/)?\s*(\d{4}))?\b", folded)
    if m:
        day, month = int(m.group(1)), int(m.group(2))
        year = int(m.group(3)) if m.group(3) else None
        if year is not None and year < 100:
            year += 2000
        try:
            if year is not None:
                return date(year, month, day)
            found = date(today.year, month, day)
            return found if found >= today else date(today.year + 1, month, day)
        except ValueError:
            return None
    if re.search(r"\bhom nay\b|\bngay hom nay\b|^nay$|\bluon\b", folded):
        return today
    if re.search(r"\b(?:ngay\s+)?(?:mot|kia)\b", folded) and not re.search(r"\bmot\s+(?:ngay|tuan)\b", folded):
        return today + timedelta(days=2)
    if re.search(r"\b(?:ngay\s+)?mai\b", folded):
        return today + timedelta(days=1)
    m = re.search(r"\b(?:sau\s+)?(\d{1,3}|" + "|".join(NUMBER_WORDS) + r")\s+ngay\s*(?:nua|toi)?\b", folded)
    if m and (folded.startswith("sau") or re.search(r"ngay\s*(?:nua|toi)", folded)):
        n = NUMBER_WORDS.get(m.group(1)) or int(m.group(1))
        return today + timedelta(days=n)
    m = _WEEKDAY_RE.search(folded)
    if m:
        target = 6 if m.group(2) else _WEEKDAYS[m.group(1)]
        if re.search(r"\btuan\s+(?:sau|toi)\b", folded):
            monday_next = today - timedelta(days=today.weekday()) + timedelta(days=7)
            return monday_next + timedelta(days=target)
        return today + timedelta(days=(target - today.weekday()) % 7)
    if re.search(r"\btuan\s+(?:sau|toi)\b", folded):
        return today - timedelta(days=today.weekday()) + timedelta(days=7)
    m = re.fullmatch(r"(?:ngay\s*)?(\d{1,2})", folded)
    if m:
        day = int(m.group(1))
        try:
            found = today.replace(day=day)
        except ValueError:
            return None
        if found < today:
            nxt = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
            try:
                found = nxt.replace(day=day)
            except ValueError:
                return None
        return found
    return None
