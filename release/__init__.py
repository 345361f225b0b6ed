"""Release tooling: the checks that the built artifacts of `make dist` install and work.

- `release.check_install`: each artifact in a clean environment, and one job
  end to end from every producer through a worker installed from the wheel;
- `release.check_metadata`: licence files and package metadata;
- `consumers/`: the scratch projects those checks install the artifacts into.
"""
