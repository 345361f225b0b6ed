"""A Flask app that enqueues from its (sync) views with ArdiQ's blocking
API: `flask --app app run` in this folder, with a worker for `tasks:app`
running (`ardiq run tasks:app`)."""

from __future__ import annotations

from typing import Any

from ardiq import JobStatus
from flask import Flask, abort, jsonify, request
from tasks import app as queue
from tasks import resize

web = Flask(__name__)


@web.post("/thumbnails")
def create_thumbnail() -> tuple[Any, int]:
    body = request.get_json(force=True)
    job = resize.enqueue_blocking(str(body["path"]), int(body.get("width", 128)))
    return jsonify(job_id=job.id), 202


@web.get("/thumbnails/<job_id>")
def thumbnail(job_id: str) -> Any:
    info = queue.job_blocking(job_id).info()
    if info.status is JobStatus.NOT_FOUND:
        abort(404)
    return jsonify(job_id=job_id, status=info.status.value, result=info.value)
