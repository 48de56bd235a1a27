"""The live challenge's web app: FastAPI routers per area over the plain functions of the service.

create_app(service)   the ASGI app; its lifespan starts and stops the dispatcher
routers/public.py     front page, boards and their change stream, sign-in links
routers/learner.py    upload, my submissions (live), my reports, selections
routers/api.py        the JSON API of `grade submit --to`
routers/host.py       the host's page
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from grader.serve import live
from grader.serve.pages import message
from grader.serve.routers import api, host, learner, public
from grader.serve.security import SecurityHeaders
from grader.serve.service import Service

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the other fields, beside the file itself
HEADINGS = {401: "Please sign in", 403: "Not allowed", 404: "Not found", 413: "Too large", 429: "Too many requests"}


def create_app(service: Service, *, dispatch: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if dispatch:
            service.dispatcher.start()
        watcher = asyncio.create_task(watch_deadlines(service))
        try:
            yield
        finally:
            watcher.cancel()
            service.changes.close()
            if dispatch:
                await asyncio.to_thread(service.dispatcher.stop)

    app = FastAPI(
        title=service.host.serve.title,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    # Added first, so it runs inside SecurityHeaders: a 413 carries the same headers as every page.
    app.add_middleware(BodyLimit, max_body_size=service.host.serve.upload_max_bytes + FORM_OVERHEAD)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    for router in (public.router, learner.router, api.router, host.router):
        app.include_router(router)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    return app


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", "text/html")


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else HEADINGS.get(error.status_code, "Error")
    if error.status_code == 413:
        limit = request.app.state.service.host.serve.upload_max_bytes
        detail = (
            f"The upload is larger than this challenge takes ({limit / 1000:.0f} KB at most): upload a smaller file."
        )
    if wants_json(request):
        return JSONResponse({"error": detail}, status_code=error.status_code, headers=getattr(error, "headers", None))
    return message(request, HEADINGS.get(error.status_code, "Error"), detail, status_code=error.status_code)


class BodyLimit:
    """The app-wide limit on a request's body. A Content-Length over it is answered at once with the
    service's own 413 (a page, or JSON on the API); a body sent without one is cut off by Starlette's
    limiter when the route reads past the limit, and answered by `http_error` the same way.

    (FastAPI's own `max_body_size` sits outside every middleware and replaces any answer to such a
    request with a bare text 413, without the security headers.)"""

    def __init__(self, app: ASGIApp, max_body_size: int):
        self.app = RequestBodyLimitMiddleware(app, max_body_size=max_body_size)
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length", "")
            if length.isdigit() and int(length) > self.max_body_size:
                response = await http_error(Request(scope, receive), HTTPException(status_code=413))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def invalid_request(request: Request, error: Exception) -> Response:
    detail = "This address or form is not one the service knows: go back to the front page."
    if wants_json(request):
        return JSONResponse({"error": detail}, status_code=422)
    return message(request, "Not understood", detail, status_code=422)


async def watch_deadlines(service: Service, every_s: float = 1.0) -> None:
    """Tell the boards when a challenge closes (at its deadline, or early by the host's command)."""
    revealed: dict[str, bool] = {}
    while True:
        now = service.now()
        for challenge in service.host.challenges:
            closes = await asyncio.to_thread(service.store.closes_at, challenge.name)
            final = now >= closes
            if revealed.get(challenge.name, final) != final:
                service.changes.publish(live.BOARD)
            revealed[challenge.name] = final
        await asyncio.sleep(every_s)
