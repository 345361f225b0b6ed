"""A FastAPI app that enqueues orders for the worker and shows their
results: `uvicorn web:api` in this folder, with the worker of `tasks.py`
running. The web process only produces: it never runs a task."""

from __future__ import annotations

from typing import Any

from ardiq import JobStatus
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from tasks import app, place_order

api = FastAPI(title="orders")


class Order(BaseModel):
    item: str
    quantity: int = 1


@api.post("/orders", status_code=202)
async def create_order(order: Order) -> dict[str, str]:
    job = await place_order.enqueue(order.item, order.quantity)
    return {"job_id": job.id}


@api.get("/orders/{job_id}")
async def order_status(job_id: str) -> dict[str, Any]:
    info = await app.job(job_id, queue="orders").info()
    if info.status is JobStatus.NOT_FOUND:
        raise HTTPException(status_code=404, detail=f"no order job {job_id}")
    body: dict[str, Any] = {"job_id": job_id, "status": info.status.value}
    if info.status is JobStatus.COMPLETE:
        body["orders"] = info.value
    elif info.error is not None:
        body["error"] = f"{info.error.type}: {info.error.message}"
    return body
