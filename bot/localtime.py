"""Vietnam time: the clock and the conversions every module uses.

Datetimes are stored in UTC (SQLite hands them back naive); customers read Vietnam time
(Asia/Ho_Chi_Minh, UTC+7 all year). `utcnow()` and `today()` are the only clocks of the project,
so tests pin time by patching them where they are imported.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo

LOCAL_TZ_NAME = "Asia/Ho_Chi_Minh"


def _local_tz() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(LOCAL_TZ_NAME)
    except Exception:  # pragma: no cover - slim containers without tzdata; Vietnam has no DST
        return timezone(timedelta(hours=7), "ICT")


LOCAL_TZ: tzinfo = _local_tz()


def utcnow() -> datetime:
    """The current moment, time-zone aware, in UTC."""
    return datetime.now(timezone.utc)


def today() -> date:
    """Today's date in Vietnam."""
    return datetime.now(LOCAL_TZ).date()


def as_utc(moment: datetime) -> datetime:
    """A stored moment as an aware UTC datetime (naive values are UTC, as SQLite returns them)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def as_local(moment: datetime) -> datetime:
    """A stored moment in Vietnam's time zone, for display."""
    return as_utc(moment).astimezone(LOCAL_TZ)
