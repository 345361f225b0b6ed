"""One adapter per queue under test, each run by its queue's own interpreter as
`python -m peers.<adapter>` from bench/ (see workload.py)."""
