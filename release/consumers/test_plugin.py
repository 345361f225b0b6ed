"""The pytest plugin of `ardiq[testing]` from the built wheels: `ardiq_app` on a throwaway Redis."""

from ardiq import Ardiq
from ardiq.testing import drain
from tasks import add


async def test_a_job_runs_through_drain(ardiq_app: Ardiq[None]) -> None:
    job = await add.enqueue(2, 3)
    await drain(ardiq_app)
    assert await job.result() == 5
