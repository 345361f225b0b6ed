"""The ArdiQ conformance suite: vectors, their checker, the runner and the testees."""
