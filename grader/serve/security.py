"""Who a request is, and what every response carries: sessions, CSRF tokens, rate limits, headers.

- A learner signs in once with the personal link (a token the host handed out); the service then
  sets a signed, HTTP-only cookie naming the learner and a fingerprint of the token, so a new
  token (`grade host token`) ends every older session.
- Every form carries a CSRF token bound to the session (an HMAC of it); the JSON API takes a
  bearer token and no cookie, so it needs none.
- Tokens and signatures are compared in constant time.
- Every response gets strict headers and a Content-Security-Policy: scripts and styles from the
  service itself only, no frames, no form posting elsewhere, no referrer (a personal link in a
  URL never leaks through a Referer header).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "grader_session"
HOST_COOKIE = "grader_host"
SECRET_FILE = "secret.key"

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The HTML report is the kit's own page (inline styles, figures as data: images, one inline script):
# it is served sandboxed, as an opaque origin that can reach neither the cookies nor the service.
REPORT_POLICY = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two texts."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def load_or_make_secret(folder: Path) -> bytes:
    """The service's signing secret, made once and kept in the state folder (mode 0600)."""
    path = folder / SECRET_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    secret = path.read_bytes()
    if len(secret) < 32:
        raise ValueError(f"{path} is shorter than 32 bytes: delete it and start the service again")
    return secret


class Sessions:
    """Signed cookies for learners and the host, and the CSRF tokens bound to them."""

    def __init__(self, secret: bytes):
        self.secret = secret
        self.learners = URLSafeSerializer(secret, salt="learner-session")
        self.hosts = URLSafeSerializer(secret, salt="host-session")

    # A session names who, and the fingerprint of the token they signed in with.
    def learner_cookie(self, learner: str, token_fingerprint: str) -> str:
        return str(self.learners.dumps({"learner": learner, "token": token_fingerprint[:16]}))

    def read_learner_cookie(self, cookie: str | None) -> tuple[str, str] | None:
        data = _loads(self.learners, cookie)
        if not isinstance(data, dict):
            return None
        learner, fingerprint = data.get("learner"), data.get("token")
        if not isinstance(learner, str) or not isinstance(fingerprint, str):
            return None
        return learner, fingerprint

    def host_cookie(self, token_fingerprint: str) -> str:
        return str(self.hosts.dumps({"host": token_fingerprint[:16]}))

    def read_host_cookie(self, cookie: str | None) -> str | None:
        data = _loads(self.hosts, cookie)
        return data.get("host") if isinstance(data, dict) and isinstance(data.get("host"), str) else None

    def csrf_token(self, session_cookie: str) -> str:
        return hmac.new(self.secret, b"csrf:" + session_cookie.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session_cookie: str | None, given: str | None) -> bool:
        if not session_cookie or not given:
            return False
        return same(self.csrf_token(session_cookie), given)


def _loads(serializer: URLSafeSerializer, cookie: str | None) -> object:
    if not cookie or len(cookie) > 1000:
        return None
    try:
        return serializer.loads(cookie)
    except BadSignature:
        return None


class RateLimit:
    """At most `count` events per `window_s` seconds for each key (a learner, an address)."""

    def __init__(self, count: int, window_s: float, clock=time.monotonic):
        self.count, self.window_s, self.clock = count, window_s, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and now - seen[0] >= self.window_s:
                seen.popleft()
            if len(seen) >= self.count:
                return False
            seen.append(now)
            if len(self._seen) > 10_000:  # a flood of keys: forget the quiet ones
                for other in [k for k, v in self._seen.items() if not v]:
                    del self._seen[other]
            return True

    def blocked(self, key: str) -> bool:
        """Whether `key` has used up its events in the window; records nothing (for counting failures only)."""
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key, ())
            return sum(1 for moment in seen if now - moment < self.window_s) >= self.count


class SecurityHeaders:
    """Adds HEADERS, a CSP (unless the route set its own) and no-store caching to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", PAGE_POLICY.encode()))
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
