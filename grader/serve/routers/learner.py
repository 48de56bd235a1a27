"""A signed-in learner's pages: upload, "my submissions" with live status, their own reports, selections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from grader.serve import live, views
from grader.serve.database import Refused
from grader.serve.dependencies import ServiceDep, SignedInLearner, checked_form
from grader.serve.dispatch import report_path
from grader.serve.pages import render
from grader.serve.security import REPORT_POLICY
from grader.serve.uploads import check_upload

router = APIRouter(prefix="/me")
CheckedForm = Annotated[Any, Depends(checked_form)]


def _page(request: Request, service, learner, *, notice: str = "", kind: str = "ok", status_code: int = 200):
    now = service.now()
    open_now = views.open_challenges(service, now)
    used = [f"{c.name}: {'/'.join(map(str, service.store.quota(learner.id, c.name, now)))}" for c in open_now]
    return render(
        request,
        "me.html",
        learner=learner,
        status_code=status_code,
        csrf=service.sessions.csrf_token(learner.session),
        notice=notice,
        notice_kind=kind,
        open_challenges=open_now,
        max_kb=service.host.serve.upload_max_bytes // 1000,
        quota_note="Submissions today (UTC), used/allowed: " + ", ".join(used) + "." if used else "",
        closed_note="No challenge takes submissions now; your results stay here.",
        submissions=views.submission_rows(service, learner.id, now),
        final=False,
    )


@router.get("", response_class=HTMLResponse)
def my_page(request: Request, service: ServiceDep, learner: SignedInLearner):
    return _page(request, service, learner)


@router.get("/rows", response_class=HTMLResponse)
def my_rows(request: Request, service: ServiceDep, learner: SignedInLearner):
    return render(
        request,
        "my_rows.html",
        submissions=views.submission_rows(service, learner.id, service.now()),
        csrf=service.sessions.csrf_token(learner.session),
        final=False,
    )


@router.get("/events", response_class=EventSourceResponse)
async def my_events(service: ServiceDep, learner: SignedInLearner) -> AsyncIterator[ServerSentEvent]:
    """Says "mine" when one of the learner's own submissions changed."""
    async for topic in service.changes.stream(live.learner_topic(learner.id)):
        if topic is not None:
            yield ServerSentEvent(event="mine", raw_data="changed")


@router.post("/submissions", response_class=HTMLResponse)
async def upload(request: Request, service: ServiceDep, learner: SignedInLearner, form: CheckedForm):
    file, challenge = form.get("file"), form.get("challenge")
    if file is None or isinstance(file, str) or not isinstance(challenge, str):
        return await run_in_threadpool(
            _page, request, service, learner, notice="Choose a challenge and a file, then upload.", kind="error",
            status_code=400,
        )  # fmt: skip
    content = await file.read(service.host.serve.upload_max_bytes + 1)
    # The database and the page's rendering run in a worker thread: a write waiting for SQLite's
    # lock must not hold up every other request and event stream on the event loop.
    return await run_in_threadpool(
        _queue_upload, request, service, learner, challenge, file.filename or "", file.size, content
    )


def _queue_upload(request, service, learner, challenge: str, filename: str, size: int | None, content: bytes):
    if not service.uploads.allow(learner.id):
        return _page(
            request, service, learner, notice="Too many uploads in a minute: wait a little and try again.",
            kind="error", status_code=429,
        )  # fmt: skip
    try:
        upload = check_upload(filename, content, max_bytes=service.host.serve.upload_max_bytes, size=size)
        submission = service.store.submit(learner.id, challenge, upload.filename, upload.content, service.now())
    except Refused as refused:
        return _page(request, service, learner, notice=refused.message, kind="error", status_code=refused.status)
    service.dispatcher.wake()
    service.changes.publish(live.learner_topic(learner.id))
    return _page(request, service, learner, notice=f"Submission {submission} is queued for grading.", status_code=201)


@router.post("/submissions/{submission_id}/select")
async def select(
    submission_id: int, request: Request, service: ServiceDep, learner: SignedInLearner, form: CheckedForm
):
    return await run_in_threadpool(_select, request, service, learner, submission_id, form.get("selected") == "1")


def _select(request, service, learner, submission_id: int, selected: bool):
    try:
        service.store.select(learner.id, submission_id, selected, service.now())
    except Refused as refused:
        return _page(request, service, learner, notice=refused.message, kind="error", status_code=refused.status)
    return RedirectResponse("/me", status_code=303)


@router.post("/submissions/{submission_id}/cancel")
async def cancel(
    submission_id: int, request: Request, service: ServiceDep, learner: SignedInLearner, form: CheckedForm
):
    return await run_in_threadpool(_cancel, request, service, learner, submission_id)


def _cancel(request, service, learner, submission_id: int):
    try:
        service.store.cancel(submission_id, now=service.now(), by_learner=learner.id)
    except Refused as refused:
        return _page(request, service, learner, notice=refused.message, kind="error", status_code=refused.status)
    service.changes.publish(live.learner_topic(learner.id))
    return RedirectResponse("/me", status_code=303)


@router.get("/submissions/{submission_id}/report")
def report(submission_id: int, service: ServiceDep, learner: SignedInLearner):
    """The learner's own report only: another learner's id answers 403, whether it exists or not."""
    owned = {view.id for view in service.store.my_submissions(learner.id, service.now())}
    if submission_id not in owned:
        raise HTTPException(status_code=403, detail="This is not one of your submissions.")
    path = report_path(service.state_dir, submission_id)
    if not path.is_file():
        raise HTTPException(status_code=404, detail="This submission has no report (yet).")
    return Response(
        path.read_bytes(), media_type="text/html; charset=utf-8", headers={"content-security-policy": REPORT_POLICY}
    )
