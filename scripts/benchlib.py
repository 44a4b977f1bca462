"""Shared pieces of the benchmark scripts: a throw-away migrated database and percentiles."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def temp_database() -> Iterator[str]:
    """A migrated SQLite database in a temporary folder, made the process default (DATABASE_URL)."""
    from bot.db.migrate import upgrade
    from bot.settings import get_settings

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        os.environ["DATABASE_URL"] = url
        get_settings.cache_clear()
        upgrade(url)
        yield url


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
