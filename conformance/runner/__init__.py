"""The ArdiQ conformance runner: every vector and behaviour through every implementation.

Run it as ``.venv/bin/python -m conformance.runner`` from the repository root.
Stages, in order (`__main__`):
1. the vector files against their schema (`conformance.check_vectors`);
2. every pure vector (`values`, `records`, `enqueue`) through every testee,
   byte for byte (`pure`);
3. on the single Redis at REDIS_URL (or a throwaway one): every `scripts.json`
   case (`conformance.check_vectors`), then the behaviour matrix (`behaviour`:
   each producer against the `ardiq` worker, and the malformed entries of
   `malformed`);
4. the behaviour matrix again on a three-master Redis Cluster started here,
   with the worker's queue and the burst queue on different masters (`targets`).

Each implementation has a failure list, `failures/<impl>.txt` (`report`): a
listed case that fails is expected, a listed case that passes (or no longer
exists) is a stale entry and fails the run, an unlisted failure fails the run.
The last line of output is `N passed, N failed`; the exit code is non-zero when
anything failed.

Modules: `testees` (the testee processes and the PROTOCOL.md exchange),
`responses` (reading an answer), `results` (one case's outcome), `pure`, `targets` (the Redis targets and the
worker process), `steps` (what behaviours are made of), `behaviour`,
`malformed`, `report` (failure lists and the table), `paths`.
"""
