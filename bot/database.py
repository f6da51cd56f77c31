"""Which store DOCKBOT_DB names: a postgresql:// URL (bot/store_postgres.py) or a SQLite path (bot/store.py).

Its own module so that the SQLite store, which the PostgreSQL dialect builds on, never imports its dialect
(no store <-> store_postgres cycle; an import-linter contract keeps it so).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.config import DB_URL_SCHEMES
from bot.store import Store, utc_now


def open_store(
    target: Path | str,
    *,
    retention_days: int = 90,
    clock: Callable[[], datetime] = utc_now,
    background_writes: bool = False,
) -> Store:
    """`Store.open` of the store `target` names (a postgresql:// URL or a SQLite path). Never raises on a
    bad file or an unreachable server: the store logs and retries."""
    if isinstance(target, str) and target.startswith(DB_URL_SCHEMES):
        # psycopg is imported only when a PostgreSQL URL is configured.
        from bot.store_postgres import PostgresStore

        return PostgresStore.open(
            target, retention_days=retention_days, clock=clock, background_writes=background_writes
        )
    return Store.open(
        Path(target), retention_days=retention_days, clock=clock, background_writes=background_writes
    )
