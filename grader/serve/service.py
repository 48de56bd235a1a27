"""One live challenge, assembled: the host's file, the store, the sessions, the live changes and the
dispatcher. The web app, `grade serve` and `grade host` all start from `open_service`.

The state folder (default: beside the host's file, NAME.serve/) holds everything the service
writes: the database (service.db), the signing secret (secret.key, mode 0600), the host token's
hash, the gradings' run folders and the learners' reports. Nothing a request carries names a
file in it: files are found by submission id.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.serve import live
from grader.serve.dispatch import Dispatcher, GradingSettings, utc_now
from grader.serve.hostfile import HostFile, load_host_file, read_roster
from grader.serve.security import RateLimit, Sessions, load_or_make_secret, same
from grader.serve.store import Store, token_hash

DATABASE = "service.db"
HOST_TOKEN_FILE = "host_token.sha256"


def default_state_dir(host_file: Path) -> Path:
    return host_file.parent / f"{host_file.stem}.serve"


@dataclass
class Service:
    host: HostFile
    store: Store
    state_dir: Path
    sessions: Sessions
    changes: live.Changes
    dispatcher: Dispatcher
    clock: Callable[[], dt.datetime]
    uploads: RateLimit  # per learner
    sign_ins: RateLimit  # per address: guessing tokens
    secure_cookies: bool = False  # the public address is https (behind a TLS proxy): cookies say Secure

    def now(self) -> dt.datetime:
        return self.clock()

    def host_token_ok(self, token: str) -> bool:
        path = self.state_dir / HOST_TOKEN_FILE
        if not token or not path.is_file():
            return False
        return same(token_hash(token), path.read_text().strip())

    def host_fingerprint(self) -> str:
        path = self.state_dir / HOST_TOKEN_FILE
        return path.read_text().strip()[:16] if path.is_file() else ""


def open_service(
    host_file: Path,
    *,
    state_dir: Path | None = None,
    grading: GradingSettings | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Service:
    """The service of one host file, its roster loaded into the store (new learners added)."""
    host = load_host_file(Path(host_file).resolve())
    state = (state_dir or default_state_dir(host.path)).resolve()
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = Store(state / DATABASE, host)
    store.add_learners(read_roster(host.roster_path), clock())
    changes = live.Changes()
    settings = grading or GradingSettings(state_dir=state)
    settings.state_dir = state
    return Service(
        host=host,
        store=store,
        state_dir=state,
        sessions=Sessions(load_or_make_secret(state)),
        changes=changes,
        dispatcher=Dispatcher(store, settings, changes, clock=clock),
        clock=clock,
        uploads=RateLimit(count=6, window_s=60.0),
        sign_ins=RateLimit(count=20, window_s=60.0),
    )


def new_host_token(state_dir: Path) -> str:
    """A new host token (shown once); only its hash is kept, and it replaces the one before."""
    token = secrets.token_urlsafe(32)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / HOST_TOKEN_FILE
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token_hash(token))
    os.replace(temporary, path)
    return token
