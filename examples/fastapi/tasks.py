"""The tasks of the FastAPI example and the worker's shared resource: a
SQLite database opened once per worker process by the lifespan.

Run the worker with `ardiq run tasks:app` in this folder (ARDIQ_REDIS_URL
names the Redis; ORDERS_DB the database file, default orders.sqlite3).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ardiq import Ardiq, current_job


@dataclass
class Deps:
    """What every task of a worker process shares."""

    db: sqlite3.Connection


@asynccontextmanager
async def lifespan(app: Ardiq[Deps]) -> AsyncIterator[Deps]:
    db = sqlite3.connect(os.environ.get("ORDERS_DB", "orders.sqlite3"), check_same_thread=False)
    db.execute("CREATE TABLE IF NOT EXISTS orders (job_id TEXT PRIMARY KEY, item TEXT, quantity INTEGER)")
    yield Deps(db=db)
    db.close()


app = Ardiq(queue="orders", lifespan=lifespan)


@app.task(retries=3)
async def place_order(item: str, quantity: int) -> int:
    """Records the order (once per job id, so a retry or a rerun after a
    crash does not count it twice) and returns how many orders there are."""
    db = app.context.db
    db.execute("INSERT OR IGNORE INTO orders VALUES (?, ?, ?)", (current_job().id, item, quantity))
    db.commit()
    (count,) = db.execute("SELECT COUNT(*) FROM orders").fetchone()
    return int(count)
