"""``python -m ardiq_testing.redis -- COMMAND...``: runs COMMAND with ``REDIS_URL`` set.

The Redis is `choose_redis()`'s: the one at ``ARDIQ_REDIS_URL`` or
``REDIS_URL`` when set, else a throwaway redis-server or, without the
binary, a throwaway container, living as long as COMMAND
(``ARDIQ_TEST_REDIS`` forces one). This is how the Rust and TypeScript
suites get the same Redis as the Python ones::

    python -m ardiq_testing.redis -- cargo test --workspace
    python -m ardiq_testing.redis -- npm test

The exit code is COMMAND's (128 + N when a signal N ended it), or 2 when no
Redis can be had (the message says why).
"""

from __future__ import annotations

import os
import subprocess
import sys

from ardiq_testing.sources import RedisSourceError, choose_redis


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m ardiq_testing.redis -- COMMAND...", file=sys.stderr)
        return 2
    try:
        redis = choose_redis()
    except RedisSourceError as exc:
        print(f"python -m ardiq_testing.redis: {exc}", file=sys.stderr)
        return 2
    with redis:
        try:
            # ARDIQ_TEST_REDIS too, so a Python suite under COMMAND takes this Redis, whatever was forced.
            env = dict(os.environ, REDIS_URL=redis.url, ARDIQ_TEST_REDIS=redis.url)
            code = subprocess.call(argv, env=env)
        except KeyboardInterrupt:  # the command got the same SIGINT; the server still goes away
            return 130
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
