"""ArdiQ from this checkout with one no-op middleware around every run: its
dispatch beside plain `ardiq` is the cost of a middleware per task."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ardiq import JobContext

from peers.ardiq_local import ArdiqLocal
from peers.workload import main


class ArdiqMiddleware(ArdiqLocal):
    name = "ardiq+middleware"

    def __init__(self, url: str) -> None:
        super().__init__(url)

        @self.app.middleware
        async def nothing(job: JobContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
            return await call_next()


if __name__ == "__main__":
    main(ArdiqMiddleware)
