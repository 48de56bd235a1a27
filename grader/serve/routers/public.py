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
    if (refused := _too_many_failures(request, service)) is not None:
        return refused
    learner = service.store.learner_for_token(token[:200])
    if learner is None:
        _count_failure(request, service)
        return message(
            request,
            "This link does not work",
            "This personal link is not valid: it may have been replaced by a newer one. Ask your host for your link.",
            status_code=403,
        )
    cookie = service.sessions.learner_cookie(learner, fingerprint_of(token[:200]))
    return _signed_in(request, service, "/me", SESSION_COOKIE, cookie, samesite="lax")


@router.get("/host/join/{token}")
def host_join(token: str, request: Request, service: ServiceDep):
    if (refused := _too_many_failures(request, service)) is not None:
        return refused
    if not service.host_token_ok(token[:200]):
        _count_failure(request, service)
        return message(request, "This link does not work", "This host link is not valid.", status_code=403)
    cookie = service.sessions.host_cookie(service.host_fingerprint())
    return _signed_in(request, service, "/host", HOST_COOKIE, cookie, samesite="strict")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many_failures(request: Request, service):
    """429 once this address has used up its failed sign-ins (only failures count: a classroom
    shares one address); None otherwise."""
    if not service.sign_ins.blocked(_client(request)):
        return None
    return message(request, "Too many attempts", "Too many sign-in attempts from here: wait a minute.", status_code=429)


def _count_failure(request: Request, service) -> None:
    service.sign_ins.allow(_client(request))


def _signed_in(request: Request, service, then: str, name: str, cookie: str, *, samesite) -> RedirectResponse:
    response = RedirectResponse(then, status_code=303)
    secure = request.url.scheme == "https" or service.secure_cookies
    response.set_cookie(name, cookie, httponly=True, samesite=samesite, secure=secure)
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
