"""`grade submit FILE --to URL`: upload to a live challenge, follow the grading, return the result.

Standard library only (urllib): a learner's install needs nothing of the service's extra. The
token comes from $GRADER_TOKEN or a file, never from the command line (where `ps` and the shell's
history would show it).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FINISHED = ("graded", "failed", "infrastructure", "cancelled")


class RemoteError(Exception):
    """The service refused, or could not be reached: the message says which and what to do."""


@dataclass(frozen=True)
class Remote:
    url: str  # the service's address, like http://127.0.0.1:8000
    token: str
    timeout_s: float = 30.0

    def request(self, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url.rstrip("/") + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise RemoteError(f"the service answered {err.code}: {_error_text(err)}") from None
        except (urllib.error.URLError, OSError) as err:
            raise RemoteError(f"cannot reach {self.url}: {getattr(err, 'reason', err)}; check the address") from None


def _error_text(err: urllib.error.HTTPError) -> str:
    try:
        document = json.loads(err.read())
        return str(document.get("error") or document.get("detail") or document)[:500]
    except (ValueError, AttributeError):
        return err.reason or "no reason given"


def read_token(token_file: Path | None, environment: dict[str, str]) -> str:
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise RemoteError(f"cannot read the token file {token_file}: {err.strerror}") from None
    else:
        token = environment.get("GRADER_TOKEN", "").strip()
    if not token:
        raise RemoteError("no token: set GRADER_TOKEN to the token your host gave you, or give --token-file")
    return token


def multipart(fields: dict[str, str], file_field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{safe_name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(remote: Remote, path: Path, challenge: str) -> int:
    try:
        content = path.read_bytes()
    except OSError as err:
        raise RemoteError(f"cannot read {path}: {err.strerror}") from None
    body, content_type = multipart({"challenge": challenge}, "file", path.name, content)
    answer = remote.request("POST", "/api/submissions", body=body, content_type=content_type)
    return int(answer["id"])


def follow(
    remote: Remote, submission_id: int, *, on_status: Callable[[str], None], poll_s: float = 2.0, limit_s: float = 7200
) -> dict[str, Any]:
    """Poll the submission's status until it is finished; each new status text goes to `on_status`."""
    last = None
    waited = 0.0
    while True:
        answer = remote.request("GET", f"/api/submissions/{submission_id}")
        if answer.get("status_text") != last:
            last = answer.get("status_text")
            on_status(str(last))
        if answer.get("status") in FINISHED:
            return answer
        if waited >= limit_s:
            raise RemoteError(f"submission {submission_id} is still {last} after {limit_s:.0f} s: look again later")
        time.sleep(poll_s)
        waited += poll_s
