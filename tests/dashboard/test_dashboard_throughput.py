"""The dashboard's arithmetic, without Redis: throughput from heartbeats,
the chart's scale, stream ids, and values cut for a page."""

from __future__ import annotations

from ardiq.dashboard.display import redacted, scale_top, shown
from ardiq.dashboard.reading import Throughput, entry_before
from ardiq.inspect import WorkerInfo


def beat(worker_id: str, seen_ms: int, completed: int, failed: int = 0, alive: bool = True) -> WorkerInfo:
    return WorkerInfo(worker_id, alive, seen_ms, "host", 1, ["q"], 10, 0, 0, completed, failed)


def test_jobs_between_two_heartbeats_are_spread_over_the_time_between_them() -> None:
    throughput = Throughput(bucket_ms=5_000, span_ms=60_000)
    throughput.observe([beat("w1", 10_000, 40)], 10_000)
    throughput.observe([beat("w1", 20_000, 130, failed=10)], 20_000)

    series = dict(throughput.series(until_ms=20_000))

    assert series[10_000] == 10.0  # 50 of the 100 jobs in 5 s
    assert series[15_000] == 10.0


def test_a_worker_seen_first_adds_nothing_and_a_gone_one_is_left_out() -> None:
    throughput = Throughput(bucket_ms=1_000, span_ms=10_000)
    throughput.observe([beat("w1", 5_000, 1_000), beat("w2", 5_000, 7, alive=False)], 5_000)
    throughput.observe([beat("w1", 5_000, 1_000), beat("w2", 6_000, 900, alive=False)], 6_000)

    assert all(rate == 0 for _, rate in throughput.series(until_ms=6_000))


def test_the_series_ends_at_the_oldest_last_heartbeat_of_the_live_workers() -> None:
    throughput = Throughput(bucket_ms=1_000, span_ms=10_000)
    throughput.observe([beat("w1", 1_000, 0), beat("w2", 1_500, 0)], 1_600)
    workers = [beat("w1", 8_000, 70), beat("w2", 9_500, 0), beat("w3", 1_000, 0, alive=False)]
    throughput.observe(workers, 9_600)

    assert throughput.known_until(workers, 9_600) == 8_000
    assert throughput.known_until([], 9_600) == 9_600
    series = throughput.series(throughput.known_until(workers, 9_600))
    assert [start for start, _ in series] == list(range(1_000, 8_000, 1_000))
    assert all(rate == 10.0 for _, rate in series)


def test_the_chart_scale_tops_at_a_round_number() -> None:
    assert [scale_top(top) for top in (0, 0.4, 1, 1.2, 3, 7, 13.6, 4_900)] == [1, 1, 1, 2, 5, 10, 20, 5_000]


def test_the_entry_before_an_entry_starts_the_page_at_it() -> None:
    assert entry_before("1700000000000-3") == "1700000000000-2"
    assert entry_before("1700000000000-0") == "1699999999999-18446744073709551615"
    assert entry_before("0-0") is None


def test_values_longer_than_the_limit_are_cut_and_keep_their_size() -> None:
    value = shown(["z" * 10_000], 100)

    assert value.truncated
    assert len(value.text) == 100
    assert value.total > 10_000
    assert not shown([1, "a"], 100).truncated
    assert shown(b"\x00\x01", 100).text == '"<2 bytes: 0001>"'


def test_the_redis_url_is_shown_without_its_password() -> None:
    assert redacted("redis://app:s3cret@db.internal:6380/2") == "redis://app:***@db.internal:6380/2"
    assert redacted("rediss://:s3cret@db/0") == "rediss://:***@db/0"
    assert redacted("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_the_first_bucket_counts_over_the_part_of_it_the_heartbeats_cover() -> None:
    throughput = Throughput(bucket_ms=5_000, span_ms=60_000)
    throughput.observe([beat("w1", 12_500, 0)], 12_600)
    throughput.observe([beat("w1", 15_000, 25)], 15_100)

    assert throughput.series(until_ms=15_000) == [(10_000, 10.0)]  # 25 jobs in 2.5 s
