"""What the pages show, as plain data: a learner's submissions with their status in words, a board's
rows, the challenge's window. The routers render these; `grade submit --to` prints the same."""

from __future__ import annotations

import datetime as dt
from typing import Any

from grader.serve.database import parse, shown
from grader.serve.dispatch import report_path
from grader.serve.service import Service
from grader.serve.store import SubmissionView

STATUS_WORDS = {
    "graded": "graded",
    "failed": "failed",
    "infrastructure": "could not grade",
    "cancelled": "cancelled",
}


def status_text(service: Service, view: SubmissionView, now: dt.datetime) -> str:
    if view.status == "queued":
        estimate = service.store.estimate(view.id, now, workers=service.dispatcher.settings.workers)
        text = "queued"
        if estimate.position is not None:
            text += f", number {estimate.position} in the queue"
        if estimate.ready_in_s is not None:
            text += f", ready in about {max(1, round(estimate.ready_in_s / 60))} min"
        return text
    if view.status == "running":
        progress = service.dispatcher.running.get(view.id)
        return progress.text() if progress is not None else "running"
    if view.status == "graded":
        return f"graded: {view.verdict}"
    return STATUS_WORDS.get(view.status, view.status)


def reasons(view: SubmissionView) -> list[str]:
    """Why points were lost, each with the hint that names the fix; or why it was not graded."""
    if view.status in ("failed", "infrastructure") and view.reason:
        return [view.reason]
    found = []
    for check in (view.result or {}).get("checks", []):
        if isinstance(check, dict) and check.get("points", 0) < check.get("max_points", 0):
            text = f"{check.get('title', '')}: {check.get('message', '')}"
            if check.get("hint"):
                text += f" Hint: {check['hint']}"
            found.append(text)
    return found[:12]


def points(view: SubmissionView) -> str:
    if view.public_score is None or view.max_score is None:
        return ""
    return f"{view.public_score:g} / {view.max_score:g}"


def submission_rows(service: Service, learner: str, now: dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": view.id,
            "challenge": view.challenge,
            "filename": view.filename,
            "uploaded": shown(parse(view.created_at)),
            "status": view.status,
            "status_text": status_text(service, view, now),
            "points": points(view),
            "selected": view.selected,
            "reasons": reasons(view),
            "has_report": view.status == "graded" and report_path(service.state_dir, view.id).is_file(),
        }
        for view in service.store.my_submissions(learner, now)
    ]


def board(service: Service, challenge: str, now: dt.datetime) -> dict[str, Any]:
    """The board's rows: the public half until the challenge closes, then the final standings."""
    closes = service.store.closes_at(challenge)
    final = now >= closes
    rows = service.store.final_standings(challenge, now) if final else service.store.public_board(challenge)
    return {
        "final": final,
        "closes": shown(closes),
        "rows": [
            {
                "rank": row.rank,
                "tied": row.tied,
                "name": row.name,
                "score": f"{row.score:g} / {row.max_score:g}",
                "accuracy": "" if row.accuracy is None else f"{row.accuracy:.4f}",
                "submitted": shown(parse(row.submitted_at)),
            }
            for row in rows
        ],
    }


def window(service: Service) -> str:
    serve = service.host.serve
    return f"Open from {shown(serve.opens)} to {shown(serve.closes)}."


def open_challenges(service: Service, now: dt.datetime) -> list[Any]:
    if now < service.host.serve.opens:
        return []
    return [c for c in service.host.challenges if now < service.store.closes_at(c.name)]
