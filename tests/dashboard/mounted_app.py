"""An application of a user's own (FastAPI) with the dashboard mounted
under `/ops/ardiq`, for `test_dashboard_mounting` (`uvicorn
dashboard.mounted_app:api`, with ARDIQ_REDIS_URL and ARDIQ_QUEUE set)."""

from __future__ import annotations

import os

from ardiq.dashboard import dashboard
from fastapi import FastAPI

api = FastAPI()


@api.get("/")
async def home() -> dict[str, str]:
    return {"app": "mine"}


api.mount(
    "/ops/ardiq",
    dashboard(os.environ["ARDIQ_REDIS_URL"], queues=[os.environ["ARDIQ_QUEUE"]], refresh_s=0.5),
)
