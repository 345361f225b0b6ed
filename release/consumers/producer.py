"""Enqueues add(2, 3) through the installed `ardiq` (its Rust core) and through `ardiq-client`
(pure Python), waits for both results, and prints `<package> <version> <result>` per line."""

import asyncio
import os

import ardiq
import ardiq_client
from ardiq_client import AsyncClient
from tasks import add


async def main() -> None:
    job = await add.enqueue(2, 3)
    print("ardiq", ardiq.__version__, await job.result(timeout_s=30))
    client = AsyncClient.from_url(os.environ["ARDIQ_REDIS_URL"], queue="release-check")
    try:
        sent = await client.send("add", [2, 3])
        print("ardiq-client", ardiq_client.__version__, await sent.result(timeout_s=30))
    finally:
        await client.close()


asyncio.run(main())
