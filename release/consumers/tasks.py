"""The application the clean-install check runs: `ardiq run tasks:app` from the built wheel."""

from ardiq import Ardiq

app = Ardiq(queue="release-check")


@app.task
async def add(x: int, y: int) -> int:
    return x + y
