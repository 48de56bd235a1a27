"""Who is asking, as FastAPI dependencies: the service, the signed-in learner, the host, the API's
bearer, and the CSRF check every form post goes through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from grader.serve.security import HOST_COOKIE, SESSION_COOKIE
from grader.serve.service import Service
from grader.serve.store import token_hash

SIGN_IN_AGAIN = "Sign in with the personal link your host gave you (it may have been replaced: ask for the new one)."


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


@dataclass(frozen=True)
class Learner:
    id: str
    display_name: str
    session: str  # the signed cookie itself: the CSRF token is bound to it


def _learner_from_cookie(service: Service, cookie: str | None) -> Learner | None:
    session = service.sessions.read_learner_cookie(cookie)
    if session is None:
        return None
    learner, fingerprint = session
    with service.store.read() as connection:
        row = connection.execute(
            "SELECT id, display_name, token_hash FROM learners WHERE id = ?", (learner,)
        ).fetchone()
    if row is None or not row["token_hash"] or row["token_hash"][:16] != fingerprint:
        return None  # the learner's token was replaced: every older session ends
    assert cookie is not None
    return Learner(row["id"], row["display_name"], cookie)


def optional_learner(request: Request, service: ServiceDep) -> Learner | None:
    return _learner_from_cookie(service, request.cookies.get(SESSION_COOKIE))


def signed_in_learner(request: Request, service: ServiceDep) -> Learner:
    learner = optional_learner(request, service)
    if learner is None:
        raise HTTPException(status_code=401, detail=SIGN_IN_AGAIN)
    return learner


def bearer_learner(request: Request, service: ServiceDep) -> Learner:
    """The API's caller, from `Authorization: Bearer TOKEN` (no cookie, so no CSRF to check)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    client = request.client.host if request.client else "unknown"
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(status_code=401, detail="Send your token as 'Authorization: Bearer TOKEN'.")
    # Only wrong tokens count against the address: every call of `grade submit --to` (an upload, then a
    # status poll every 2 s) carries the token, and a classroom shares one address.
    if service.sign_ins.blocked(client):
        raise HTTPException(status_code=429, detail="Too many attempts from this address: wait a minute.")
    learner = service.store.learner_for_token(token.strip())
    if learner is None:
        service.sign_ins.allow(client)
        raise HTTPException(
            status_code=401, detail="This token is not valid (it may have been replaced): ask your host."
        )
    with service.store.read() as connection:
        row = connection.execute("SELECT display_name FROM learners WHERE id = ?", (learner,)).fetchone()
    return Learner(learner, row["display_name"] if row else learner, "")


def signed_in_host(request: Request, service: ServiceDep) -> None:
    fingerprint = service.sessions.read_host_cookie(request.cookies.get(HOST_COOKIE))
    expected = service.host_fingerprint()
    if not fingerprint or not expected or fingerprint != expected:
        raise HTTPException(status_code=401, detail="The host's pages need the host link `grade serve` printed.")


async def checked_form(request: Request, service: ServiceDep, learner: Annotated[Learner, Depends(signed_in_learner)]):
    """The posted form, once its CSRF token matches the learner's session; 403 otherwise."""
    form = await request.form(max_files=1, max_fields=8, max_part_size=4096)
    given = form.get("csrf")
    if not isinstance(given, str) or not service.sessions.csrf_ok(learner.session, given):
        raise HTTPException(
            status_code=403,
            detail="This form has expired or did not come from this site: reload the page and try again.",
        )
    return form


OptionalLearner = Annotated[Learner | None, Depends(optional_learner)]
SignedInLearner = Annotated[Learner, Depends(signed_in_learner)]
BearerLearner = Annotated[Learner, Depends(bearer_learner)]


def fingerprint_of(token: str) -> str:
    return token_hash(token)[:16]
