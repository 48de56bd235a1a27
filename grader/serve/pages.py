"""Rendering pages and fragments with the service's templates (Jinja2, autoescaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from grader.serve.dependencies import Learner

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def render(
    request: Request, name: str, *, learner: Learner | None = None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    service = request.app.state.service
    event = {"title": service.host.serve.title, "challenges": service.host.challenges}
    return templates.TemplateResponse(
        request, name, {"event": event, "learner": learner, **context}, status_code=status_code
    )


def message(request: Request, heading: str, text: str, *, status_code: int, back: str | None = "/") -> HTMLResponse:
    return render(
        request, "message.html", heading=heading, message=text, kind="error", back=back, status_code=status_code
    )
