"""``python -m ardiq_testing.redis -- COMMAND...``: runs COMMAND with ``REDIS_URL`` set.

The Redis is `choose_redis()`'s: the one at ``REDIS_URL`` when that is set,
else a throwaway redis-server that lives as long as COMMAND. This is how the
Rust and TypeScript suites get the same kind of Redis as the Python ones::

    python -m ardiq_testing.redis -- cargo test --workspace
    python -m ardiq_testing.redis -- npm test

The exit code is COMMAND's (128 + N when a signal N ended it).
"""

from __future__ import annotations

import os
import subprocess
import sys

from ardiq_testing.sources import choose_redis


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m ardiq_testing.redis -- COMMAND...", file=sys.stderr)
        return 2
    with choose_redis() as redis:
        try:
            code = subprocess.call(argv, env=dict(os.environ, REDIS_URL=redis.url))
        except KeyboardInterrupt:  # the command got the same SIGINT; the server still goes away
            return 130
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
