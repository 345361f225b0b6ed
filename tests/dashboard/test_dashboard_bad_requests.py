"""Pages asked for with names and cursors no page gave, and a Redis holding
stray keys: each is the page's own answer (404 or 400), never "Redis is
unavailable" (503)."""

from __future__ import annotations

import time

import httpx
import pytest
import redis
from ardiq import Ardiq
from wire_records import add_entry

from .harness import StartDashboard


@pytest.mark.parametrize(
    "path",
    ["/queue?name=a%20b", "/queue?name=%7Bx%7D", "/job?queue=a%20b&id=x", "/workers?queue=a%20b"],
)
def test_a_queue_name_that_cannot_be_one_is_not_found(start_dashboard: StartDashboard, path: str) -> None:
    dashboard = start_dashboard(queues=[])

    page = httpx.get(dashboard.url + path)

    assert page.status_code == 404, page.text
    assert "invalid queue name" in page.text


@pytest.mark.parametrize(
    "query",
    [
        "state=failed&cursor=abc",
        "state=failed&cursor=1-x",
        "state=dead&cursor=99999999999999999999-0",
        "state=running&cursor=9:zzz",
        "state=running&cursor=5:abc",
    ],
)
def test_a_cursor_no_page_gave_is_a_bad_request(
    start_dashboard: StartDashboard, producer: Ardiq, queue: str, query: str
) -> None:
    producer.send_blocking("greet", "x")
    dashboard = start_dashboard()

    page = httpx.get(f"{dashboard.url}/queue?name={queue}&{query}")

    assert page.status_code == 400, page.text
    assert "invalid cursor" in page.text


def test_a_job_page_with_an_entry_id_out_of_range_shows_the_job(
    start_dashboard: StartDashboard, producer: Ardiq, queue: str
) -> None:
    job = producer.send_blocking("greet", "x")
    dashboard = start_dashboard()

    page = httpx.get(f"{dashboard.url}/job?queue={queue}&id={job.id}&dead=99999999999999999999-0")

    assert page.status_code == 200, page.text


def test_stray_keys_of_no_queue_leave_the_overview_working(
    start_dashboard: StartDashboard, producer: Ardiq, queue: str, redis_url: str
) -> None:
    producer.send_blocking("greet", "x")
    strays = [
        f"ardiq:{{{queue} b}}:stream:5".encode(),
        b"ardiq:{}:x",
        f"ardiq:{{{queue}-z}}:".encode() + b"\xff",
    ]
    inspector = redis.Redis.from_url(redis_url)
    for stray in strays:
        inspector.set(stray, "x")
    try:
        dashboard = start_dashboard(queues=[])

        page = httpx.get(dashboard.url + "/")

        assert page.status_code == 200, page.text
        assert f'data-queue="{queue}"' in page.text
    finally:
        inspector.delete(*strays)
        inspector.close()


def test_a_malformed_dead_letter_and_heartbeat_leave_the_pages_working(
    start_dashboard: StartDashboard, producer: Ardiq, queue: str, redis_url: str
) -> None:
    producer.send_blocking("greet", "x")
    prefix = f"ardiq:{{{queue}}}:"
    inspector = redis.Redis.from_url(redis_url)
    bad = add_entry(
        inspector, prefix + "dead", {"id": b"x", "task": b"t", "reason": b"r", "record": b"\xff\xff"}
    )
    inspector.zadd(prefix + "workers", {"w-bad": int(time.time() * 1000)})
    inspector.set(prefix + "worker:w-bad", b"\xff\xff", px=60_000)
    inspector.close()
    dashboard = start_dashboard()

    pages = {
        path: httpx.get(dashboard.url + path)
        for path in (
            "/",
            "/dead",
            f"/queue?name={queue}&state=dead",
            "/workers",
            f"/job?queue={queue}&id=x&dead={bad}",
        )
    }

    assert {path: page.status_code for path, page in pages.items()} == dict.fromkeys(pages, 200)
    assert "Malformed entry" in pages["/dead"].text
    assert "Malformed entry" in pages[f"/queue?name={queue}&state=dead"].text
    assert "w-bad" in pages["/workers"].text
