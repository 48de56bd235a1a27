"""What the host sees: the queue, the gradings running, the submissions that could not be graded, the
audit. Plain reads of the store, shared by the host's page and `grade host queue`."""

from __future__ import annotations

from typing import Any

from grader.serve.store import Store


def queue_rows(store: Store) -> dict[str, list[dict[str, Any]]]:
    with store.read() as connection:
        jobs = connection.execute(
            "SELECT j.id AS job, j.submission_id AS submission, j.learner, s.challenge, j.state, j.attempts, "
            "j.worker, j.created_at, j.started_at, j.lease_expires_at, j.regrade_of "
            "FROM jobs j JOIN submissions s ON s.id = j.submission_id "
            "WHERE j.state IN ('queued', 'running') ORDER BY j.state DESC, j.id"
        ).fetchall()
        failed = connection.execute(
            "SELECT id AS submission, learner, challenge, status, reason, created_at FROM submissions "
            "WHERE status IN ('infrastructure', 'failed') ORDER BY id DESC LIMIT 200"
        ).fetchall()
    return {
        "running": [dict(row) for row in jobs if row["state"] == "running"],
        "queued": [dict(row) for row in jobs if row["state"] == "queued"],
        "failed": [dict(row) for row in failed],
    }


def overview(service: Any) -> dict[str, Any]:
    rows = queue_rows(service.store)
    settings = service.dispatcher.settings
    return {
        **rows,
        "workers": f"{settings.workers} on the {settings.engine} engine"
        + (f" at {settings.address}" if settings.address else ""),
        "audit": [event.__dict__ for event in service.store.events()[-100:]][::-1],
        "progress": {sid: p.text() for sid, p in service.dispatcher.running.items()},
    }
