"""ArdiQ from this checkout with Prometheus metrics on (`metrics_port`, served
on a free loopback port, not scraped during the run): its dispatch beside
plain `ardiq` is what counting every job in the engine costs."""

from __future__ import annotations

from typing import Any

from peers.ardiq_local import ArdiqLocal
from peers.workload import main


class ArdiqMetrics(ArdiqLocal):
    name = "ardiq+metrics"
    worker_options: dict[str, Any] = {"metrics_port": 0, "metrics_host": "127.0.0.1"}  # noqa: RUF012


if __name__ == "__main__":
    main(ArdiqMetrics)
