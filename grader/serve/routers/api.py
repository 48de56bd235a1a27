"""The JSON API `grade submit FILE --to URL` uses: upload with a bearer token, then follow the status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from grader.serve import live, views
from grader.serve.database import Refused
from grader.serve.dependencies import BearerLearner, ServiceDep
from grader.serve.uploads import check_upload

router = APIRouter(prefix="/api")


def _refused(refused: Refused) -> JSONResponse:
    return JSONResponse({"error": refused.message}, status_code=refused.status)


@router.post("/submissions", status_code=201)
async def upload(request: Request, service: ServiceDep, learner: BearerLearner) -> Any:
    form = await request.form(max_files=1, max_fields=4, max_part_size=4096)
    file, challenge = form.get("file"), form.get("challenge")
    if file is None or isinstance(file, str) or not isinstance(challenge, str):
        return _refused(Refused("Send the form fields 'challenge' and 'file'.", 400))
    content = await file.read(service.host.serve.upload_max_bytes + 1)
    # The database work runs in a worker thread, off the event loop (see routers/learner.py).
    return await run_in_threadpool(_queue_upload, service, learner, challenge, file.filename or "", file.size, content)


def _queue_upload(service, learner, challenge: str, filename: str, size: int | None, content: bytes) -> Any:
    if not service.uploads.allow(learner.id):
        return _refused(Refused("Too many uploads in a minute: wait a little and try again.", 429))
    try:
        upload = check_upload(filename, content, max_bytes=service.host.serve.upload_max_bytes, size=size)
        submission = service.store.submit(learner.id, challenge, upload.filename, upload.content, service.now())
    except Refused as refused:
        return _refused(refused)
    service.dispatcher.wake()
    service.changes.publish(live.learner_topic(learner.id))
    return JSONResponse({"id": submission, "status": "queued"}, status_code=201)


@router.get("/submissions/{submission_id}")
def status(submission_id: int, service: ServiceDep, learner: BearerLearner) -> Any:
    now = service.now()
    for view in service.store.my_submissions(learner.id, now):
        if view.id == submission_id:
            return {
                "id": view.id,
                "challenge": view.challenge,
                "status": view.status,
                "status_text": views.status_text(service, view, now),
                "points": views.points(view),
                "reasons": views.reasons(view),
                "result": view.result if view.status == "graded" else None,
            }
    raise HTTPException(status_code=403, detail="This is not one of your submissions.")
