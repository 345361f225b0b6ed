"""One adapter per queue under test, each run by its queue's own interpreter (see workload.py)."""
