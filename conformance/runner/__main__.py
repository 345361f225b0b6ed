"""``python -m conformance.runner``: the stages in order (see the package docs)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import redis
import redis.cluster
from ardiq_testing import RedisCluster, choose_redis

from conformance import check_vectors
from conformance.runner.behaviour import run_matrix
from conformance.runner.pure import run_pure_vectors
from conformance.runner.report import apply_failure_lists, report
from conformance.runner.results import Result
from conformance.runner.targets import Target, cluster_queues, worker_importable
from conformance.runner.testees import IMPLEMENTATIONS, Testee, build_rust_testee

SPEC_ROW = "spec"  # results that belong to the spec's own files (schema, scripts)


def main() -> int:
    documents = check_vectors.load_vectors()
    results = [
        Result(SPEC_ROW, o.name, "pass" if o.passed else "fail", o.reason)
        for o in check_vectors.validate_vectors()
    ]
    build_rust_testee()
    log_dir = Path(tempfile.mkdtemp(prefix="ardiq-conformance-"))
    print(f"testee and worker logs: {log_dir}", flush=True)
    testees = [Testee(impl, log_dir) for impl in IMPLEMENTATIONS]
    try:
        print("pure vectors through every testee", flush=True)
        results += run_pure_vectors(testees, documents)
        worker_problem = worker_importable()
        with choose_redis() as single:
            url = single.url
            print("script vectors on the single Redis", flush=True)
            results += [
                Result(SPEC_ROW, o.name, "pass" if o.passed else "fail", o.reason)
                for o in check_vectors.run_script_cases(url)
            ]
            client = redis.Redis.from_url(url, protocol=2)
            client.flushdb()
            target = Target(
                "single", url, f"work-{uuid.uuid4().hex[:6]}", f"burst-{uuid.uuid4().hex[:6]}", client
            )
            results += run_matrix(target, testees, log_dir, worker_problem)
        print("starting a three-master Redis Cluster", flush=True)
        with RedisCluster() as cluster:
            work, burst = cluster_queues(cluster.urls[0])
            cluster_client = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster.ports[0], protocol=2)
            target = Target("cluster", cluster.urls[0], work, burst, cluster_client)
            results += run_matrix(target, testees, log_dir, worker_problem)
    finally:
        for testee in testees:
            testee.stop()
    passed, failed = report(apply_failure_lists(results))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
