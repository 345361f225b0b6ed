"""An application with cron schedules for subprocess workers of the test
suite (`python -m ardiq run cron_tasks:app` in `tests/apps`, with
ARDIQ_REDIS_URL and ARDIQ_QUEUE set). Every run appends its job id to
`ardiq-test:cron:<queue>:ran`. The task keeps no result, so a tick enqueued
twice would run twice: its status key is gone as soon as it finishes."""

from __future__ import annotations

import os

import redis
from ardiq import Ardiq, current_job

QUEUE = os.environ.get("ARDIQ_QUEUE", "default")
RAN = f"ardiq-test:cron:{QUEUE}:ran"
counters = redis.Redis.from_url(os.environ.get("ARDIQ_REDIS_URL", "redis://localhost:6379/0"))

app = Ardiq(os.environ.get("ARDIQ_REDIS_URL"), queue=QUEUE)


@app.cron("* * * * * *", name="every-second")
@app.task(result_ttl_s=0)
async def tick() -> None:
    counters.rpush(RAN, current_job().id)
