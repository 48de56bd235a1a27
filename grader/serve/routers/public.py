"""What anyone may open: the challenge's front page, the boards, their change stream, sign-in links."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from grader.serve import live, views
from grader.serve.dependencies import OptionalLearner, ServiceDep, fingerprint_of
from grader.serve.pages import message, render
from grader.serve.security import HOST_COOKIE, SESSION_COOKIE

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def index(request: Request, service: ServiceDep, learner: OptionalLearner):
    return render(request, "index.html", learner=learner, window=views.window(service))


@router.get("/join/{token}")
def join(token: str, request: Request, service: ServiceDep):
    """The learner's personal link: a signed session cookie, then their page."""
    client = request.client.host if request.client else "unknown"
    if service.sign_ins.blocked(client):  # only failed tries count: a classroom shares one address
        return message(
            request, "Too many attempts", "Too many sign-in attempts from here: wait a minute.", status_code=429
        )
    learner = service.store.learner_for_token(token[:200])
    if learner is None:
        service.sign_ins.allow(client)
        return message(
            request,
            "This link does not work",
            "This personal link is not valid: it may have been replaced by a newer one. Ask your host for your link.",
            status_code=403,
        )
    response = RedirectResponse("/me", status_code=303)
    cookie = service.sessions.learner_cookie(learner, fingerprint_of(token[:200]))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" or service.secure_cookies,
    )
    return response


@router.get("/host/join/{token}")
def host_join(token: str, request: Request, service: ServiceDep):
    client = request.client.host if request.client else "unknown"
    if service.sign_ins.blocked(client):
        return message(
            request, "Too many attempts", "Too many sign-in attempts from here: wait a minute.", status_code=429
        )
    if not service.host_token_ok(token[:200]):
        service.sign_ins.allow(client)
        return message(request, "This link does not work", "This host link is not valid.", status_code=403)
    response = RedirectResponse("/host", status_code=303)
    cookie = service.sessions.host_cookie(service.host_fingerprint())
    response.set_cookie(
        HOST_COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" or service.secure_cookies,
    )
    return response


def _known(service, challenge: str) -> str:
    if service.host.challenge(challenge) is None:
        raise HTTPException(status_code=404, detail=f"There is no challenge {challenge!r} here.")
    return challenge


@router.get("/board/{challenge}", response_class=HTMLResponse)
def board(challenge: str, request: Request, service: ServiceDep, learner: OptionalLearner):
    name = _known(service, challenge)
    return render(request, "board.html", learner=learner, challenge=name, **views.board(service, name, service.now()))


@router.get("/board/{challenge}/rows", response_class=HTMLResponse)
def board_rows(challenge: str, request: Request, service: ServiceDep):
    name = _known(service, challenge)
    return render(request, "board_rows.html", challenge=name, **views.board(service, name, service.now()))


@router.get("/events/board", response_class=EventSourceResponse)
async def board_events(service: ServiceDep) -> AsyncIterator[ServerSentEvent]:
    """Says "board" when any board changed; never what changed."""
    async for topic in service.changes.stream(live.BOARD):
        if topic is not None:
            yield ServerSentEvent(event="board", raw_data="changed")
