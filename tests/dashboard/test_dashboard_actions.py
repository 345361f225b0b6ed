"""Acting from the dashboard: replay, delete, abort and purge from the pages
of a dashboard started with actions and signed in with its token; none of
them offered by a read-only dashboard, and each refused (403, nothing
changed) without the token or from another site."""

from __future__ import annotations

import uuid

import pytest
from ardiq import Ardiq, JobDead, JobStatus
from playwright.sync_api import Page, expect
from worker_harness import WAIT_S, SpawnWorker

from .harness import TOKEN, Shoot, StartDashboard, sign_in

APP = "process_tasks:app"
WORKER_ARGS = ("--heartbeat-ms", "300", "--visibility-ms", "2000")


def kept_failure(producer: Ardiq, spawn_worker: SpawnWorker, page: Page, base: str) -> tuple[str, str]:
    """A job that failed for good with a worker running (its replay greets);
    its id and its entry in the failed store, once the failed page lists it."""
    flag = f"dash-flag-{uuid.uuid4().hex}"
    spawn_worker(APP, *WORKER_ARGS)
    job = producer.send_blocking("fail_once_then_greet", flag, "ann")
    page.goto(base + "/failed")
    row = page.locator(f'tr[data-job="{job.id}"]')
    expect(row).to_be_visible(timeout=WAIT_S * 1000)
    return job.id, row.get_attribute("data-entry") or ""


def dead_letter(producer: Ardiq, spawn_worker: SpawnWorker) -> str:
    """A job of a task no worker knows: dead-lettered at once."""
    job = producer.send_blocking("no_such_task", 1)
    spawn_worker(APP, *WORKER_ARGS)
    with pytest.raises(JobDead):
        job.result(timeout_s=WAIT_S)
    return job.id


def test_replay_from_the_failed_page_runs_the_job_again(
    page: Page, producer: Ardiq, start_dashboard: StartDashboard, spawn_worker: SpawnWorker, shoot: Shoot
) -> None:
    dashboard = start_dashboard(actions=True)
    sign_in(page, dashboard.url)
    job_id, _ = kept_failure(producer, spawn_worker, page, dashboard.url)
    shoot(page, "failed-with-actions")

    page.locator(f'tr[data-job="{job_id}"] button[data-action="replay"]').click()

    expect(page.locator(".notice")).to_have_text(f"Replayed: job {job_id} is queued again.")
    assert producer.job_blocking(job_id).result(timeout_s=WAIT_S) == "hello ann"
    page.goto(f"{dashboard.url}/job?queue={producer.queue}&id={job_id}")
    expect(page.locator('[data-field="state"]')).to_have_text("complete")
    expect(page.locator('pre[data-value="result"]')).to_have_text('"hello ann"')
    shoot(page, "job-complete")
    page.goto(dashboard.url + "/failed")
    expect(page.locator(f'tr[data-job="{job_id}"]')).to_have_count(0)


def test_delete_from_the_dead_letters_page_removes_the_entry(
    page: Page, producer: Ardiq, start_dashboard: StartDashboard, spawn_worker: SpawnWorker, shoot: Shoot
) -> None:
    job_id = dead_letter(producer, spawn_worker)
    dashboard = start_dashboard(actions=True)
    sign_in(page, dashboard.url)
    page.goto(dashboard.url + "/dead")
    row = page.locator(f'tr[data-job="{job_id}"]')
    expect(row).to_contain_text("unknown_task")
    shoot(page, "dead")

    row.locator('button[data-action="delete"]').click()

    expect(page.locator(".notice")).to_contain_text("Deleted entry")
    expect(page.locator(f'tr[data-job="{job_id}"]')).to_have_count(0)
    expect(page.locator("main")).to_contain_text("None on any queue")


def test_abort_from_the_job_page_aborts_a_scheduled_job(
    page: Page, producer: Ardiq, start_dashboard: StartDashboard
) -> None:
    job = producer.options(delay_ms=600_000).send_blocking("greet", "never")
    dashboard = start_dashboard(actions=True)
    sign_in(page, dashboard.url)
    page.goto(f"{dashboard.url}/job?queue={producer.queue}&id={job.id}")

    page.click('button[data-action="abort"]')

    expect(page.locator(".notice")).to_have_text(f"Abort of job {job.id}: aborted.")
    assert job.status() is JobStatus.ABORTED
    expect(page.locator('[data-field="state"]')).to_have_text("aborted")


def test_purge_from_the_queue_page_needs_the_queue_name_typed(
    page: Page, producer: Ardiq, start_dashboard: StartDashboard
) -> None:
    producer.enqueue_many_blocking([producer.prepare("greet", f"n{n}") for n in range(5)])
    producer.options(delay_ms=600_000).send_blocking("greet", "later")
    dashboard = start_dashboard(actions=True)
    sign_in(page, dashboard.url)
    page.goto(f"{dashboard.url}/queue?name={producer.queue}")

    page.fill("#confirm", "not the name")
    page.click('button[data-action="purge"]')
    expect(page.locator("[data-problem=bad-request]")).to_contain_text("not confirmed")
    page.goto(f"{dashboard.url}/queue?name={producer.queue}")
    expect(page.locator('dd[data-field="waiting"]')).to_have_text("5")

    page.fill("#confirm", producer.queue)
    page.click('button[data-action="purge"]')

    expect(page.locator(".notice")).to_have_text("Purged: 6 waiting and scheduled jobs removed.")
    expect(page.locator('dd[data-field="waiting"]')).to_have_text("0")
    expect(page.locator('dd[data-field="scheduled"]')).to_have_text("0")


def test_a_read_only_dashboard_offers_no_action_and_refuses_one(
    page: Page, producer: Ardiq, start_dashboard: StartDashboard, spawn_worker: SpawnWorker, shoot: Shoot
) -> None:
    dashboard = start_dashboard()
    job_id, entry_id = kept_failure(producer, spawn_worker, page, dashboard.url)
    scheduled = producer.options(delay_ms=600_000).send_blocking("greet", "later")

    for path in (
        "/failed",
        "/dead",
        f"/queue?name={producer.queue}&state=failed",
        f"/job?queue={producer.queue}&id={job_id}&failed={entry_id}",
        f"/job?queue={producer.queue}&id={scheduled.id}",
    ):
        page.goto(dashboard.url + path)
        expect(page.locator("[data-action]")).to_have_count(0)
        expect(page.locator("form[action$='/actions/purge']")).to_have_count(0)
    expect(page.locator("[data-mode=read-only]")).to_be_visible()
    shoot(page, "read-only-job")

    refused = page.request.post(
        dashboard.url + "/actions/replay",
        form={"queue": producer.queue, "store": "failed", "entry": entry_id},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    assert refused.status == 403
    assert "read-only" in refused.text()
    page.goto(dashboard.url + "/failed")
    expect(page.locator(f'tr[data-entry="{entry_id}"]')).to_have_count(1)


REFUSED = {
    "no token": {},
    "a wrong token": {"Authorization": "Bearer wrong"},
    "a forged cookie": {"Cookie": "ardiq_dashboard=forged"},
    "the token from another site": {"Authorization": f"Bearer {TOKEN}", "Origin": "http://elsewhere.example"},
}


def test_an_action_without_the_token_is_refused_and_changes_nothing(
    page: Page, producer: Ardiq, start_dashboard: StartDashboard, spawn_worker: SpawnWorker
) -> None:
    dashboard = start_dashboard(actions=True)
    job_id, entry_id = kept_failure(producer, spawn_worker, page, dashboard.url)
    scheduled = producer.options(delay_ms=600_000).send_blocking("greet", "later")
    expect(page.locator("[data-action]")).to_have_count(0)  # not signed in: no buttons

    for case, headers in REFUSED.items():
        for action, fields in (
            ("replay", {"store": "failed", "entry": entry_id}),
            ("delete", {"store": "failed", "entry": entry_id}),
            ("abort", {"job": scheduled.id}),
            ("purge", {"confirm": producer.queue}),
        ):
            refused = page.request.post(
                f"{dashboard.url}/actions/{action}", form={"queue": producer.queue, **fields}, headers=headers
            )
            assert refused.status == 403, (case, action, refused.status, refused.text())

    page.goto(dashboard.url + "/failed")
    expect(page.locator(f'tr[data-entry="{entry_id}"]')).to_have_count(1)
    assert scheduled.status() is JobStatus.SCHEDULED
    assert producer.job_blocking(job_id).status() is JobStatus.FAILED


def test_the_token_as_a_bearer_header_allows_an_action(
    page: Page, producer: Ardiq, start_dashboard: StartDashboard
) -> None:
    job = producer.options(delay_ms=600_000).send_blocking("greet", "scripted")
    dashboard = start_dashboard(actions=True)

    done = page.request.post(
        dashboard.url + "/actions/abort",
        form={"queue": producer.queue, "job": job.id},
        headers={"Authorization": f"Bearer {TOKEN}"},
        max_redirects=0,
    )

    assert done.status == 303
    assert job.status() is JobStatus.ABORTED


def test_a_wrong_token_does_not_sign_in(page: Page, start_dashboard: StartDashboard, producer: Ardiq) -> None:
    producer.send_blocking("greet", "so that the queue exists")
    dashboard = start_dashboard(actions=True)
    page.goto(dashboard.url + "/login")

    page.fill("#token", "not " + TOKEN)
    page.click("form.login button[type=submit]")

    expect(page.locator(".problem")).to_contain_text("not the dashboard's token")
    page.goto(f"{dashboard.url}/queue?name={producer.queue}")
    expect(page.locator("[data-action]")).to_have_count(0)
