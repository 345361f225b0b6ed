"""The dashboard's pages in headless Chromium against real Redis and real
workers: depths after a known enqueue, updated live; failed jobs with their
traceback; workers alive and gone; paging; a job's page; Redis down and
back; a job that does not exist; arguments too large to show; without
JavaScript; on a phone. Each page's screenshot is saved as an artifact."""

from __future__ import annotations

import json
import re
import uuid

from ardiq import Ardiq
from ardiq_testing import RedisServer
from playwright.sync_api import Browser, Page, expect
from worker_harness import WAIT_S, SpawnWorker

from .harness import Shoot, StartDashboard

APP = "process_tasks:app"
WORKER_ARGS = ("--heartbeat-ms", "300", "--visibility-ms", "2000")


def mark(page: Page) -> None:
    """Marks the loaded document; `still_marked` is false after a reload."""
    page.evaluate("window.ardiqTestMark = 'set'")


def still_marked(page: Page) -> bool:
    return bool(page.evaluate("window.ardiqTestMark === 'set'"))


def cell(page: Page, queue: str, field: str) -> str:
    return f'tr[data-queue="{queue}"] [data-field="{field}"] .n'


def test_overview_shows_the_depths_of_a_known_enqueue_and_follows_them_live(
    page: Page, producer: Ardiq, queue: str, start_dashboard: StartDashboard, shoot: Shoot
) -> None:
    producer.enqueue_many_blocking([producer.options(priority=2).prepare("greet", f"a{n}") for n in range(3)])
    producer.enqueue_many_blocking([producer.options(priority=7).prepare("greet", f"b{n}") for n in range(4)])
    for n in range(2):
        producer.options(delay_ms=600_000).send_blocking("greet", f"later{n}")
    dashboard = start_dashboard()

    page.goto(dashboard.url + "/")

    row = page.locator(f'tr[data-queue="{queue}"]')
    expect(row.locator('[data-field="waiting"] .n')).to_have_text("7")
    expect(row.locator('[data-priority="2"] b')).to_have_text("3")
    expect(row.locator('[data-priority="7"] b')).to_have_text("4")
    expect(row.locator('[data-field="scheduled"] .n')).to_have_text("2")
    expect(row.locator('[data-field="running"] .n')).to_have_text("0")
    expect(row.locator('[data-field="failed"] .n')).to_have_text("0")
    expect(row.locator('[data-field="dead"] .n')).to_have_text("0")
    assert re.fullmatch(r"\d+(\.\d)? (ms|s)", row.locator('[data-field="lag"]').inner_text().strip())
    shoot(page, "overview")

    mark(page)
    producer.enqueue_many_blocking([producer.options(priority=7).prepare("greet", f"c{n}") for n in range(2)])

    expect(row.locator('[data-field="waiting"] .n')).to_have_text("9")
    expect(row.locator('[data-priority="7"] b')).to_have_text("6")
    assert still_marked(page), "the page was reloaded instead of updated in place"


def test_a_failing_job_appears_in_failed_with_its_traceback(
    page: Page,
    producer: Ardiq,
    queue: str,
    start_dashboard: StartDashboard,
    spawn_worker: SpawnWorker,
    shoot: Shoot,
) -> None:
    flag = f"dash-flag-{uuid.uuid4().hex}"
    dashboard = start_dashboard()
    spawn_worker(APP, *WORKER_ARGS)
    page.goto(dashboard.url + "/failed")
    expect(page.locator("main")).to_contain_text("None on any queue")

    job = producer.send_blocking("fail_once_then_greet", flag, "ann")

    row = page.locator(f'tr[data-job="{job.id}"]')
    expect(row).to_be_visible(timeout=WAIT_S * 1000)
    expect(row).to_contain_text("RuntimeError")
    expect(row).to_contain_text("first run of ann fails")
    traceback = row.locator("details.traceback pre")
    expect(traceback).to_contain_text("Traceback (most recent call last)", use_inner_text=False)
    expect(traceback).to_contain_text(
        'raise RuntimeError(f"first run of {name} fails")', use_inner_text=False
    )
    expect(row.locator("[data-action]")).to_have_count(0)  # read-only
    row.locator("details.traceback summary").click()
    shoot(page, "failed")

    row.locator(f'a:text-is("{job.id}")').click()

    expect(page.locator('[data-field="state"]')).to_have_text("failed")
    expect(page.locator('[data-field="attempts"]')).to_have_text("1")
    assert json.loads(page.locator('pre[data-value="args"]').inner_text()) == [flag, "ann"]
    expect(page.locator(".error-text")).to_contain_text("RuntimeError")
    expect(page.locator(".error-text pre")).to_contain_text("raise RuntimeError")
    shoot(page, "job-failed")


def test_a_killed_worker_is_shown_as_gone(
    page: Page, producer: Ardiq, start_dashboard: StartDashboard, spawn_worker: SpawnWorker, shoot: Shoot
) -> None:
    producer.send_blocking("greet", "someone")
    dashboard = start_dashboard()
    worker = spawn_worker(APP, *WORKER_ARGS)
    page.goto(dashboard.url + "/workers")
    alive = page.locator('tr[data-worker][data-state="alive"]')
    expect(alive).to_have_count(1, timeout=WAIT_S * 1000)
    worker_id = alive.get_attribute("data-worker")
    expect(alive).to_contain_text(str(worker.pid))
    mark(page)

    worker.kill()

    gone = page.locator(f'tr[data-worker="{worker_id}"]')
    expect(gone).to_have_attribute("data-state", "gone", timeout=WAIT_S * 1000)
    expect(page.locator('[data-field="alive"]')).to_have_text("0")
    expect(page.locator('[data-field="gone"]')).to_have_text("1")
    assert still_marked(page)
    shoot(page, "workers")
    page.goto(dashboard.url + "/")
    expect(page.locator('[data-field="workers"]')).to_contain_text("0 alive, 1 gone")


def test_the_throughput_chart_shows_the_jobs_workers_finish(
    page: Page, producer: Ardiq, start_dashboard: StartDashboard, spawn_worker: SpawnWorker, shoot: Shoot
) -> None:
    dashboard = start_dashboard()
    spawn_worker(APP, *WORKER_ARGS)
    page.goto(dashboard.url + "/")
    expect(page.locator('[data-field="alive"]')).to_have_text("1", timeout=WAIT_S * 1000)

    jobs = producer.enqueue_many_blocking([producer.prepare("greet", f"n{n}") for n in range(300)])
    assert jobs[-1].result(timeout_s=WAIT_S) == "hello n299"

    # The chart draws whole 5-second buckets up to the workers' last heartbeats.
    average = page.locator('figure[data-chart="throughput"] [data-rate="average"]')
    expect(average).to_have_text(re.compile(r"^(?!0\.0/s$)[\d,.]+/s$"), timeout=WAIT_S * 1000)
    bars = page.locator("figure[data-chart=throughput] rect.bar")
    drawn = [
        (float(bar.get_attribute("data-rate") or 0), float(bar.get_attribute("height") or 0))
        for bar in bars.all()
    ]
    assert any(rate > 0 and height > 0 for rate, height in drawn), drawn
    shoot(page, "overview-throughput")


def test_the_queue_page_lists_jobs_by_state_a_page_at_a_time(
    page: Page, producer: Ardiq, queue: str, start_dashboard: StartDashboard, shoot: Shoot
) -> None:
    jobs = producer.enqueue_many_blocking(
        [producer.options(delay_ms=600_000 + n * 1000).prepare("greet", f"n{n}") for n in range(120)]
    )
    dashboard = start_dashboard()
    page.goto(f"{dashboard.url}/queue?name={queue}&state=scheduled")

    rows = page.locator('table[data-state="scheduled"] tbody tr')
    expect(page.locator('dd[data-field="scheduled"]')).to_have_text("120")
    expect(rows).to_have_count(50)
    shoot(page, "queue")
    seen: list[str] = []
    for expected in (50, 50, 20):
        expect(rows).to_have_count(expected)
        seen += [row.get_attribute("data-job") or "" for row in rows.all()]
        if expected == 50:
            page.click("a[rel=next]")
    expect(page.locator("a[rel=next]")).to_have_count(0)
    assert seen == [job.id for job in jobs]  # soonest due first, each once


def test_a_job_is_found_by_its_id(
    page: Page, producer: Ardiq, queue: str, start_dashboard: StartDashboard, shoot: Shoot
) -> None:
    job = producer.options(delay_ms=600_000, priority=8).send_blocking("greet", "by id", {"k": [1, 2.5]})
    dashboard = start_dashboard()
    page.goto(f"{dashboard.url}/queue?name={queue}")

    page.fill("#job-id", job.id)
    page.click("form.search button")

    expect(page.locator("h1")).to_contain_text(job.id)
    expect(page.locator('[data-field="state"]')).to_have_text("scheduled")
    assert json.loads(page.locator('pre[data-value="args"]').inner_text()) == ["by id", {"k": [1, 2.5]}]
    expect(page.locator("dl.facts")).to_contain_text("Priority")
    expect(page.locator("dl.facts")).to_contain_text("8")
    expect(page.locator("dl.facts")).to_contain_text("Due")
    shoot(page, "job-scheduled")


def test_a_job_that_does_not_exist_shows_a_not_found_page(
    page: Page, producer: Ardiq, queue: str, start_dashboard: StartDashboard, shoot: Shoot
) -> None:
    producer.send_blocking("greet", "so that the queue exists")
    dashboard = start_dashboard()

    response = page.goto(f"{dashboard.url}/job?queue={queue}&id=no-such-job")

    assert response is not None
    assert response.status == 404
    expect(page.locator("[data-problem=not-found] h1")).to_have_text("Job not found")
    expect(page.locator("[data-problem=not-found]")).to_contain_text("no-such-job")
    shoot(page, "job-not-found")
    for path in (f"/queue?name=not-{queue}", "/no-such-page"):
        missing = page.goto(dashboard.url + path)
        assert missing is not None
        assert missing.status == 404
        expect(page.locator("[data-problem=not-found] h1")).to_have_text("Not found")


def test_arguments_too_large_to_show_are_cut_with_their_size(
    page: Page, producer: Ardiq, queue: str, start_dashboard: StartDashboard, shoot: Shoot
) -> None:
    job = producer.options(delay_ms=600_000).send_blocking("greet", "y" * 50_000)
    dashboard = start_dashboard()

    page.goto(f"{dashboard.url}/job?queue={queue}&id={job.id}")

    shown = page.locator('pre[data-value="args"]').inner_text()
    assert shown.lstrip().startswith('["yyyy') or shown.lstrip().startswith("[\n")
    assert len(shown) <= 8_192
    note = page.locator('[data-truncated="args"]').inner_text()
    total = int(re.search(r"of ([\d,]+) characters", note).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert total > 50_000
    assert "KiB" in note
    shoot(page, "job-large-arguments")


def test_unreachable_redis_shows_the_error_and_the_page_recovers_when_it_returns(
    page: Page, queue: str, start_dashboard: StartDashboard, shoot: Shoot
) -> None:
    server = RedisServer()  # its port is chosen, nothing listens yet
    try:
        dashboard = start_dashboard(url=server.url)
        response = page.goto(dashboard.url + "/")
        assert response is not None
        assert response.status == 503
        problem = page.locator("[data-problem=redis]")
        expect(problem).to_contain_text("Redis is unavailable")
        expect(problem).to_contain_text(f"127.0.0.1:{server.port}")
        shoot(page, "redis-unavailable")
        mark(page)

        server.start()
        Ardiq(server.url, queue=queue).send_blocking("greet", "back")

        expect(page.locator(f'tr[data-queue="{queue}"] [data-field="waiting"] .n')).to_have_text(
            "1", timeout=WAIT_S * 1000
        )
        expect(problem).to_have_count(0)
        assert still_marked(page)
    finally:
        server.close()


def test_the_pages_work_without_javascript(
    browser: Browser, producer: Ardiq, queue: str, start_dashboard: StartDashboard, shoot: Shoot
) -> None:
    job = producer.options(delay_ms=600_000).send_blocking("greet", "no script")
    dashboard = start_dashboard()
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(dashboard.url + "/")
        expect(page.locator(cell(page, queue, "scheduled"))).to_have_text("1")
        assert "js" not in (page.locator("html").get_attribute("class") or "")
        expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(1)  # it reloads itself instead

        page.click(f'tr[data-queue="{queue}"] th a')
        page.fill("#job-id", job.id)
        page.click("form.search button")

        expect(page.locator('[data-field="state"]')).to_have_text("scheduled")
        shoot(page, "job-without-javascript")
    finally:
        context.close()


def test_the_pages_fit_a_phone(
    browser: Browser,
    producer: Ardiq,
    queue: str,
    start_dashboard: StartDashboard,
    spawn_worker: SpawnWorker,
    shoot: Shoot,
) -> None:
    flag = f"dash-flag-{uuid.uuid4().hex}"
    failed = producer.send_blocking("fail_once_then_greet", flag, "phone")
    dashboard = start_dashboard()
    spawn_worker(APP, *WORKER_ARGS)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        for name, path in (
            ("overview", "/"),
            ("queue", f"/queue?name={queue}&state=failed"),
            ("failed", "/failed"),
            ("workers", "/workers"),
        ):
            page.goto(dashboard.url + path)
            if name == "failed":
                expect(page.locator(f'tr[data-job="{failed.id}"]')).to_be_visible(timeout=WAIT_S * 1000)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"the {name} page is {overflow} px wider than the phone"
            shoot(page, f"phone-{name}")
    finally:
        context.close()


def test_a_running_job_shows_its_progress(
    page: Page,
    producer: Ardiq,
    queue: str,
    start_dashboard: StartDashboard,
    spawn_worker: SpawnWorker,
    shoot: Shoot,
) -> None:
    job = producer.send_blocking("report_then_sleep", 0.4, "resized 4 of 10", 60.0)
    dashboard = start_dashboard()
    spawn_worker(APP, *WORKER_ARGS)
    page.goto(f"{dashboard.url}/job?queue={queue}&id={job.id}")

    expect(page.locator('[data-field="state"]')).to_have_text("running", timeout=WAIT_S * 1000)
    progress = page.locator('[data-field="progress"]')
    expect(progress).to_contain_text("40.0 %: resized 4 of 10", timeout=WAIT_S * 1000)
    assert progress.locator("progress").get_attribute("value") == "0.4"
    shoot(page, "job-progress")


def test_the_queue_page_lists_its_cron_schedules(
    page: Page, queue: str, start_dashboard: StartDashboard, spawn_worker: SpawnWorker, shoot: Shoot
) -> None:
    spawn_worker("cron_tasks:app", *WORKER_ARGS)
    dashboard = start_dashboard()
    page.goto(f"{dashboard.url}/queue?name={queue}")

    row = page.locator('tr[data-schedule="every-second"]')
    expect(row).to_have_count(1, timeout=WAIT_S * 1000)
    expect(row).to_contain_text("tick")
    expect(row).to_contain_text("* * * * * * (UTC)")
    expect(row).to_contain_text("latest")
    shoot(page, "queue-schedules")
