"""The examples run as their READMEs say: a FastAPI app and a Flask app
enqueue, a worker of their tasks (with the lifespan's database, for
FastAPI) runs the jobs, and the apps show the results."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from worker_harness import WAIT_S

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(folder: str, module: str, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> ModuleType:
    """Imports an example's module as its folder's code would see it."""
    monkeypatch.setenv("ARDIQ_REDIS_URL", redis_url)
    monkeypatch.syspath_prepend(str(EXAMPLES / folder))
    for name in ("tasks", "web", "app"):
        sys.modules.pop(name, None)
    return importlib.import_module(module)


@pytest.fixture
def worker(redis_url: str, tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[bytes]] = []

    def start(folder: str) -> subprocess.Popen[bytes]:
        env = {
            "ARDIQ_REDIS_URL": redis_url,
            "ORDERS_DB": str(tmp_path / "orders.sqlite3"),
            "PATH": "/usr/bin:/bin",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "ardiq", "run", "tasks:app"], cwd=EXAMPLES / folder, env=env
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


async def test_the_fastapi_example_enqueues_and_shows_the_result(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, worker: Any
) -> None:
    import httpx

    web = load("fastapi", "web", monkeypatch, redis_url)
    worker("fastapi")
    transport = httpx.ASGITransport(app=web.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        job_ids = []
        for item in ("tea", "coffee"):
            created = await client.post("/orders", json={"item": item, "quantity": 2})
            assert created.status_code == 202
            job_ids.append(created.json()["job_id"])
        deadline = time.monotonic() + WAIT_S
        bodies: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            bodies = [(await client.get(f"/orders/{job_id}")).json() for job_id in job_ids]
            if all(body["status"] == "complete" for body in bodies):
                break
            await asyncio.sleep(0.05)
        assert sorted(body["orders"] for body in bodies) == [1, 2]
        assert (await client.get("/orders/no-such-job")).status_code == 404
    await web.app.close()


def test_the_flask_example_enqueues_from_sync_views(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, worker: Any
) -> None:
    flask_app = load("flask", "app", monkeypatch, redis_url)
    worker("flask")
    client = flask_app.web.test_client()
    created = client.post("/thumbnails", json={"path": "cat.png", "width": 64})
    assert created.status_code == 202
    job_id = created.get_json()["job_id"]
    deadline = time.monotonic() + WAIT_S
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/thumbnails/{job_id}").get_json()
        if body["status"] == "complete":
            break
        time.sleep(0.05)
    assert body == {"job_id": job_id, "status": "complete", "result": "cat.64w.png"}
    assert client.get("/thumbnails/nope").status_code == 404
