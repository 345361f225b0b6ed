"""The pytest plugin of `ardiq.testing` (entry point ``ardiq``).

Loaded by every pytest run in an environment where ``ardiq[testing]`` is
installed; nothing starts until a test asks for one of its fixtures. Where
plugin autoloading is off, ``-p ardiq.testing.plugin`` (or
``pytest_plugins = ["ardiq.testing.plugin"]`` in a conftest) loads it.

- ``ardiq_redis_url`` (session): the URL of one Redis for the whole session,
  chosen by ardiq-testing's `choose_redis()`: ``ARDIQ_REDIS_URL`` or
  ``REDIS_URL`` when set, else a throwaway ``redis-server`` on a free
  loopback port when the binary is on PATH, else a throwaway Redis container
  through testcontainers when a Docker engine answers (``ARDIQ_TEST_REDIS``
  = ``server``, ``container`` or a URL forces one), gone when the session
  ends;
- ``ardiq_app``: the app named by the ini option ``ardiq_app``
  (``module:attribute``, as for ``ardiq run``), pointed at that Redis with its
  database emptied before the test, and back at its own URL after it.

Any of them can be overridden in a conftest, e.g. for an app made in a
fixture:

```python
@pytest.fixture
def ardiq_app(ardiq_redis_url):
    app = make_app()
    with use_redis(app, ardiq_redis_url):
        flush(app)
        yield app
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ardiq.app import Ardiq
from ardiq.testing import flush, use_redis


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "ardiq_app",
        "module:attribute of the Ardiq app that the ardiq_app fixture binds to the test Redis",
        default="",
    )


@pytest.fixture(scope="session")
def ardiq_redis_url() -> Iterator[str]:
    """One Redis for the session, as ardiq-testing's `choose_redis()` picks it."""
    try:
        from ardiq_testing import choose_redis
    except ImportError:
        raise pytest.UsageError(
            "the ardiq_redis_url fixture gets its Redis through ardiq-testing, which is not "
            'installed: pip install "ardiq[testing]"'
        ) from None
    with choose_redis() as redis:
        yield redis.url


@pytest.fixture
def ardiq_app(request: pytest.FixtureRequest, ardiq_redis_url: str) -> Iterator[Ardiq[Any]]:
    """The ini option ``ardiq_app``'s app, on the test Redis, with the database emptied first."""
    from ardiq.cli import CliError, load_app

    spec = request.config.getini("ardiq_app")
    if not spec:
        raise pytest.UsageError(
            "the ardiq_app fixture needs the ini option ardiq_app = module:app "
            "(in [tool.pytest.ini_options] or pytest.ini), or a fixture of that name in a conftest"
        )
    try:
        app = load_app(spec)
    except CliError as exc:
        raise pytest.UsageError(f"ardiq_app = {spec}: {exc}") from None
    with use_redis(app, ardiq_redis_url):
        flush(app)
        yield app
