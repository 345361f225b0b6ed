"""`ardiq_client.__version__` is the version the distribution is installed as (its one source)."""

from __future__ import annotations

from importlib.metadata import version

import ardiq_client


def test_version_is_the_installed_distribution_version() -> None:
    assert ardiq_client.__version__ == version("ardiq-client")
