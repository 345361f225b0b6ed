"""Session fixtures for pytest: ``pytest_plugins = ("ardiq_testing.fixtures",)`` in a root
conftest.py, or ``pytest -p ardiq_testing.fixtures``.

- ``redis_url``: the URL of one Redis for the whole session, from `choose_redis()`
  (``ARDIQ_REDIS_URL``/``REDIS_URL``, else a throwaway redis-server, else a
  throwaway container).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ardiq_testing.sources import choose_redis


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One Redis for the whole test session, as `choose_redis()` picks it."""
    with choose_redis() as redis:
        yield redis.url
