"""The task of the Flask example: a sync task (it runs in the worker's
thread pool). Run the worker with `ardiq run tasks:app` in this folder."""

from __future__ import annotations

from ardiq import Ardiq

app = Ardiq(queue="thumbnails")


@app.task(timeout_s=30)
def resize(path: str, width: int) -> str:
    stem, _, suffix = path.rpartition(".")
    return f"{stem}.{width}w.{suffix}"
