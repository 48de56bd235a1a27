"""The live service's web layer over HTTP: sign-in, CSRF, uploads, privacy, headers, the host's page,
the event streams, the vendored scripts and a bounded load.

The app runs without its dispatcher (`create_app(service, dispatch=False)`: nothing is graded) on a
fixed clock that a test moves by hand; the rate limits' clocks are fixed too, so no test depends
on the wall clock. Every refusal is checked to leave the store as it was (submissions, jobs,
files), and every response a test's clients received is checked, when the test ends, to carry
neither the signing secret nor a learner's or the host's token.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import html
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from grader.serve import live
from grader.serve.app import create_app
from grader.serve.client import multipart
from grader.serve.dispatch import report_path
from grader.serve.queue import Outcome
from grader.serve.security import HOST_COOKIE, SECRET_FILE, SESSION_COOKIE, Sessions
from grader.serve.service import DATABASE, Service, new_host_token, open_service

UTC = dt.timezone.utc
OPENS = dt.datetime(2027, 1, 8, 9, 0, tzinfo=UTC)
CLOSES = dt.datetime(2027, 1, 15, 17, 0, tzinfo=UTC)
DAY = dt.datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
UPLOAD_MAX = 20_000  # bytes: small, so a file over it stays far under the app-wide body limit
DAILY_CAP = 3
LEARNERS = ("alice", "bob", "carol")
STATIC = Path(__file__).resolve().parents[1] / "grader" / "serve" / "static"
TEMPLATES = STATIC.parent / "templates"
SOURCE = b"import keras\n\ndef build_model():\n    return keras.Sequential()\n"

HOST_FILE = """\
[serve]
title = "CNN week"
opens = {opens}
closes = {closes}
daily_cap = {daily_cap}
upload_max_bytes = {upload_max}
roster = "roster.csv"

[[challenges]]
name = "fashion"
profile = "quick"
"""


class Clock:
    """The service's clock: a fixed moment that a test moves by hand."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class World:
    """One live challenge: the service on a fixed clock, its app, the learners' tokens, and every
    response its clients received (to check for leaked secrets)."""

    root: Path
    service: Service
    clock: Clock
    tokens: dict[str, str]
    responses: list[httpx.Response] = field(default_factory=list)
    old_tokens: list[str] = field(default_factory=list)
    host_tokens: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = create_app(self.service, dispatch=False)

    @property
    def state_dir(self) -> Path:
        return self.service.state_dir

    def _record(self, response: httpx.Response) -> None:
        if "text/event-stream" not in response.headers.get("content-type", ""):
            response.read()
        self.responses.append(response)

    def browser(self, address: str = "testclient") -> TestClient:
        """A browser: asks for HTML, keeps cookies, does not follow redirects."""
        client = TestClient(
            self.app,
            headers={"accept": "text/html,application/xhtml+xml"},
            follow_redirects=False,
            raise_server_exceptions=False,
            client=(address, 50000),
        )
        client.event_hooks = {"request": [], "response": [self._record]}
        return client

    def api(self) -> TestClient:
        """A `grade submit --to` client: asks for JSON, no cookies of its own."""
        client = TestClient(
            self.app, headers={"accept": "application/json"}, follow_redirects=False, raise_server_exceptions=False
        )
        client.event_hooks = {"request": [], "response": [self._record]}
        return client

    def sign_in(self, learner: str) -> tuple[TestClient, str]:
        """A browser signed in as the learner, and the CSRF token of its upload form."""
        browser = self.browser()
        joined = browser.get(f"/join/{self.tokens[learner]}")
        assert joined.status_code == 303, joined.text
        page = browser.get("/me")
        assert page.status_code == 200, page.text
        return browser, csrf_of(page)

    def reissue(self, learner: str) -> str:
        self.old_tokens.append(self.tokens[learner])
        self.tokens[learner] = self.service.store.issue_token(learner)
        return self.tokens[learner]

    def counts(self) -> tuple[int, int, int]:
        """(submissions, jobs, files) in the store."""
        with self.service.store.read() as connection:
            submissions, jobs, files = (
                int(connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("submissions", "jobs", "files")
            )
        return submissions, jobs, files

    def secrets(self) -> list[bytes]:
        """What no response may carry: the signing secret in every usual spelling, and every token."""
        secret = (self.state_dir / SECRET_FILE).read_bytes()
        spelled = [
            secret,
            secret.hex().encode(),
            secret.hex().upper().encode(),
            base64.b64encode(secret).rstrip(b"="),
            base64.urlsafe_b64encode(secret).rstrip(b"="),
        ]
        tokens = [*self.tokens.values(), *self.old_tokens, *self.host_tokens]
        return spelled + [token.encode() for token in tokens]

    def assert_nothing_leaked(self) -> None:
        forbidden = self.secrets()
        for response in self.responses:
            headers = b"\n".join(k + b": " + v for k, v in response.headers.raw)
            body = b"" if "text/event-stream" in response.headers.get("content-type", "") else response.content
            for secret in forbidden:
                assert secret not in headers and secret not in body, f"{response.request.url.path} leaks a secret"


def write_host_file(folder: Path, learners: tuple[str, ...], *, daily_cap: int = DAILY_CAP) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "challenge.toml"
    path.write_text(
        HOST_FILE.format(opens=OPENS.isoformat(), closes=CLOSES.isoformat(), daily_cap=daily_cap, upload_max=UPLOAD_MAX)
    )
    (folder / "roster.csv").write_text(
        "learner,name\n" + "".join(f"{name},{name.title()} Example\n" for name in learners), encoding="utf-8"
    )
    return path


def make_world(root: Path, learners: tuple[str, ...] = LEARNERS) -> World:
    host_file = write_host_file(root / "course", learners)
    clock = Clock(DAY)
    service = open_service(host_file, state_dir=root / "course" / "state" / "live", clock=clock)
    # The rate limits' windows never pass in a test: their clocks stand still too.
    service.sign_ins.clock = service.uploads.clock = lambda: 0.0
    tokens = {learner: service.store.issue_token(learner) for learner in learners}
    return World(root, service, clock, tokens)


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    made = make_world(tmp_path)
    yield made
    made.assert_nothing_leaked()


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'<input type="hidden" name="csrf" value="([0-9a-f]{64})">', page.text)
    assert found, "the page has no CSRF field"
    return found.group(1)


def said(response: httpx.Response) -> str:
    """What the response tells the person: the API's JSON error, or the page's message."""
    if response.headers.get("content-type", "").startswith("application/json"):
        document = response.json()
        assert set(document) == {"error"}, document
        return str(document["error"])
    found = re.findall(r'<p class="message[^"]*"[^>]*>(.*?)</p>', response.text, re.S)
    assert found, f"no message on the page:\n{response.text}"
    return html.unescape(" ".join(found))


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def complete(world: World, submission: int, *, public: float, private: float, key: str) -> None:
    """Grade one queued submission directly through the store, as a worker would."""
    claim = world.service.store.claim("test-worker", world.clock())
    assert claim is not None and claim.submission_id == submission
    outcome = Outcome(
        grading_key=key,
        verdict="passed",
        max_score=100.0,
        public_score=public,
        private_score=private,
        public_accuracy=public / 100,
        private_accuracy=private / 100,
        result={"score": public, "checks": []},
    )
    assert world.service.store.complete(claim.lease_id, outcome, world.clock() + dt.timedelta(minutes=2))


Uploader = Callable[..., httpx.Response]


def uploader(world: World, channel: str, learner: str = "alice") -> Uploader:
    """Uploads as the learner through the page (cookie + CSRF) or the API (bearer token)."""
    if channel == "page":
        browser, csrf = world.sign_in(learner)

        def through_page(name: str, content: bytes, challenge: str = "fashion") -> httpx.Response:
            return browser.post(
                "/me/submissions", data={"csrf": csrf, "challenge": challenge}, files={"file": (name, content)}
            )

        return through_page
    api = world.api()

    def through_api(name: str, content: bytes, challenge: str = "fashion") -> httpx.Response:
        return api.post(
            "/api/submissions",
            headers=bearer(world.tokens[learner]),
            data={"challenge": challenge},
            files={"file": (name, content)},
        )

    return through_api


CHANNELS = pytest.mark.parametrize("channel", ["page", "api"])


# --------------------------------------------------------------------------- 1. signing in


def test_a_personal_link_sets_a_strict_session_cookie_and_leads_to_my_page(world):
    browser = world.browser()
    joined = browser.get(f"/join/{world.tokens['alice']}")
    assert joined.status_code == 303 and joined.headers["location"] == "/me"
    cookie = joined.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert "secure" not in attributes  # plain http in the test; set only behind https
    page = browser.get("/me")
    assert page.status_code == 200
    assert "My submissions" in page.text and "Alice Example" in page.text


def test_an_unknown_link_answers_403_and_sets_no_cookie(world):
    before = world.counts()
    browser = world.browser()
    for token in ("not-a-token", world.tokens["alice"][:-1], "x" * 500):
        answer = browser.get(f"/join/{token}")
        assert answer.status_code == 403
        assert "personal link is not valid" in said(answer)
        assert "set-cookie" not in answer.headers
    assert browser.get("/me").status_code == 401
    assert world.counts() == before


def tampered_cookies(world: World, genuine: str) -> dict[str, str]:
    payload, signature = genuine.rsplit(".", 1)
    other = base64.urlsafe_b64encode(b'{"learner":"bob","token":"0000000000000000"}').rstrip(b"=").decode()
    fingerprint = hashlib.sha256(world.tokens["alice"].encode()).hexdigest()[:16]
    return {
        "signature changed": f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        "payload changed": f"{other}.{signature}",
        "unsigned": payload,
        "signed with another secret": Sessions(b"k" * 32).learner_cookie("alice", fingerprint),
        "garbage": "garbage",
        "too long": genuine + "A" * 1000,
    }


def test_a_forged_or_tampered_session_cookie_answers_401(world):
    browser = world.browser()
    genuine = browser.get(f"/join/{world.tokens['alice']}").cookies[SESSION_COOKIE]
    for name, cookie in tampered_cookies(world, genuine).items():
        forged = world.browser()
        forged.cookies.set(SESSION_COOKIE, cookie)
        answer = forged.get("/me")
        assert answer.status_code == 401, name
        assert "Sign in with the personal link" in said(answer), name
        assert forged.get("/me/rows").status_code == 401, name
    assert browser.get("/me").status_code == 200  # the genuine one still works


def test_a_reissued_token_ends_the_old_session_and_the_old_link(world):
    browser, _ = world.sign_in("alice")
    old = world.tokens["alice"]
    new = world.reissue("alice")
    answer = browser.get("/me")
    assert answer.status_code == 401 and "replaced" in said(answer)
    assert world.browser().get(f"/join/{old}").status_code == 403
    assert world.api().get("/api/submissions/1", headers=bearer(old)).status_code == 401
    fresh = world.browser()
    assert fresh.get(f"/join/{new}").status_code == 303
    assert fresh.get("/me").status_code == 200


def test_twenty_failed_sign_ins_from_one_address_answer_429(world):
    browser = world.browser(address="203.0.113.7")
    for attempt in range(20):
        assert browser.get(f"/join/guess-{attempt}").status_code == 403
    blocked = browser.get(f"/join/{world.tokens['alice']}")  # even the right link, from that address
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in said(blocked)
    assert "set-cookie" not in blocked.headers
    assert browser.get("/host/join/guess").status_code == 429
    # Another address is not held back.
    assert world.browser(address="203.0.113.8").get(f"/join/{world.tokens['alice']}").status_code == 303


def test_wrong_bearer_tokens_count_against_the_address_too(world):
    api = world.api()
    for attempt in range(20):
        assert api.get("/api/submissions/1", headers=bearer(f"guess-{attempt}")).status_code == 401
    blocked = api.get("/api/submissions/1", headers=bearer(world.tokens["alice"]))
    assert blocked.status_code == 429 and "Too many attempts" in said(blocked)


def test_valid_sign_ins_and_api_calls_never_use_up_the_limit(world):
    """A classroom shares one address, and `grade submit --to` polls every 2 s with its token."""
    for learner in LEARNERS * 10:
        assert world.browser().get(f"/join/{world.tokens[learner]}").status_code == 303
    api = world.api()
    created = uploader(world, "api")("model.py", SOURCE)
    assert created.status_code == 201
    for _ in range(40):
        polled = api.get(f"/api/submissions/{created.json()['id']}", headers=bearer(world.tokens["alice"]))
        assert polled.status_code == 200 and polled.json()["status"] == "queued"


# --------------------------------------------------------------------------- 2. CSRF


def other_learners_csrf(world: World) -> str:
    return world.sign_in("bob")[1]


@pytest.mark.parametrize("given", ["missing", "wrong", "another learner's", "empty"])
def test_an_upload_without_this_sessions_csrf_token_answers_403_and_stores_nothing(world, given):
    browser, csrf = world.sign_in("alice")
    fields = {"challenge": "fashion"}
    if given == "wrong":
        fields["csrf"] = "0" * 64
    elif given == "another learner's":
        fields["csrf"] = other_learners_csrf(world)
        assert fields["csrf"] != csrf
    elif given == "empty":
        fields["csrf"] = ""
    before = world.counts()
    answer = browser.post("/me/submissions", data=fields, files={"file": ("model.py", SOURCE)})
    assert answer.status_code == 403
    assert "did not come from this site" in said(answer)
    assert world.counts() == before == (0, 0, 0)


def test_an_upload_with_the_pages_csrf_token_is_queued(world):
    browser, csrf = world.sign_in("alice")
    answer = browser.post(
        "/me/submissions", data={"csrf": csrf, "challenge": "fashion"}, files={"file": ("model.py", SOURCE)}
    )
    assert answer.status_code == 201
    assert re.search(r"Submission \d+ is queued for grading", said(answer))
    assert world.counts() == (1, 1, 1)
    with world.service.store.read() as connection:
        row = connection.execute("SELECT learner, challenge, filename, status FROM submissions").fetchone()
    assert tuple(row) == ("alice", "fashion", "model.py", "queued")
    assert world.service.store.submission_content(1) == SOURCE


def test_cancel_and_select_need_the_sessions_csrf_token_and_the_learners_own_submission(world):
    browser, csrf = world.sign_in("alice")
    assert uploader(world, "api")("model.py", SOURCE).status_code == 201
    bob, bob_csrf = world.sign_in("bob")
    for client, token in ((browser, "0" * 64), (browser, bob_csrf)):
        for action in ("cancel", "select"):
            answer = client.post(f"/me/submissions/1/{action}", data={"csrf": token, "selected": "1"})
            assert answer.status_code == 403 and "did not come from this site" in said(answer)
    # Bob, with his own valid token, cannot cancel Alice's submission.
    answer = bob.post("/me/submissions/1/cancel", data={"csrf": bob_csrf})
    assert answer.status_code == 404 and "no submission 1 of yours" in said(answer)
    with world.service.store.read() as connection:
        assert connection.execute("SELECT status FROM submissions WHERE id = 1").fetchone()[0] == "queued"
        assert connection.execute("SELECT state FROM jobs WHERE submission_id = 1").fetchone()[0] == "queued"
    # Alice can.
    assert browser.post("/me/submissions/1/cancel", data={"csrf": csrf}).status_code == 303
    with world.service.store.read() as connection:
        assert connection.execute("SELECT status FROM submissions WHERE id = 1").fetchone()[0] == "cancelled"


# --------------------------------------------------------------------------- 3. uploads


@pytest.fixture(scope="module")
def fifty_megabytes() -> Iterator[tuple[bytes, str]]:
    """A 50 MB multipart upload, built once for the module."""
    body, content_type = multipart({"challenge": "fashion"}, "file", "big.py", b"#" * (50 * 1024 * 1024))
    yield body, content_type
    del body


@CHANNELS
def test_a_50_mb_upload_answers_413_from_the_app_wide_limit(world, channel, fifty_megabytes):
    body, content_type = fifty_megabytes
    if channel == "page":
        client, headers = world.sign_in("alice")[0], {}
        path = "/me/submissions"
    else:
        client, headers = world.api(), bearer(world.tokens["alice"])
        path = "/api/submissions"
    before = world.counts()
    answer = client.post(path, content=body, headers={**headers, "content-type": content_type})
    assert answer.status_code == 413
    message = said(answer)
    assert "larger than this challenge takes" in message and f"{UPLOAD_MAX // 1000} KB" in message
    assert answer.headers["x-frame-options"] == "DENY"  # answered inside the security headers
    assert world.counts() == before == (0, 0, 0)


@CHANNELS
def test_a_body_over_the_limit_sent_without_a_length_answers_413(world, channel):
    """Chunked: no Content-Length to refuse up front, so the limit cuts the body off as it is read."""
    fields = {"challenge": "fashion"}
    if channel == "page":
        client, fields["csrf"] = world.sign_in("alice")
        headers: dict[str, str] = {}
        path = "/me/submissions"
    else:
        client, headers, path = world.api(), bearer(world.tokens["alice"]), "/api/submissions"
    body, content_type = multipart(fields, "file", "big.py", b"#" * 200_000)
    chunks = [body[start : start + 16_384] for start in range(0, len(body), 16_384)]
    answer = client.post(path, content=iter(chunks), headers={**headers, "content-type": content_type})
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert answer.status_code == 413
    assert "larger than this challenge takes" in said(answer)
    assert world.counts() == (0, 0, 0)


@CHANNELS
def test_a_file_over_the_hosts_limit_answers_413_with_both_sizes(world, channel):
    answer = uploader(world, channel)("model.py", b"#" * 30_000)
    assert answer.status_code == 413
    message = said(answer)
    assert "The file is 30 KB" in message and "at most 20 KB" in message
    assert world.counts() == (0, 0, 0)
    # Just over the limit never reads as equal to it.
    answer = uploader(world, channel)("model.py", b"#" * (UPLOAD_MAX + 1))
    assert answer.status_code == 413 and "The file is 21 KB" in said(answer)
    assert world.counts() == (0, 0, 0)


def file_tree(root: Path, leave_out: set[Path]) -> dict[str, str]:
    """Every file under root (but those left out) with its content's sha256."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path not in leave_out
    }


@CHANNELS
def test_an_uploaded_name_with_a_path_is_shown_without_it_and_never_written(world, channel):
    database = {world.state_dir / (DATABASE + suffix) for suffix in ("", "-wal", "-shm", "-journal")}
    before = file_tree(world.root, database)
    send = uploader(world, channel)
    answer = send("../../x.py", SOURCE)
    assert answer.status_code == 201
    assert send("../../course/state/y.py", SOURCE).status_code == 201
    assert send("..\\..\\course\\z.py", SOURCE).status_code == 201
    with world.service.store.read() as connection:
        names = [row[0] for row in connection.execute("SELECT filename FROM submissions ORDER BY id")]
    assert names == ["x.py", "y.py", "z.py"]
    mine = world.sign_in("alice")[0].get("/me/rows").text
    assert ">x.py<" in mine and "../" not in mine and "..\\" not in mine
    assert file_tree(world.root, database) == before
    assert not [path for name in ("x.py", "y.py", "z.py") for path in world.root.rglob(name)]
    assert world.counts() == (3, 3, 3)


REFUSALS = [
    # name, file name, content, challenge, moment, status, words of the message
    ("not UTF-8", "model.py", b"print('caf\xe9')\n", "fashion", DAY, 422, "not UTF-8"),
    ("notebook not JSON", "model.ipynb", b"{cells: oops", "fashion", DAY, 422, "not valid JSON"),
    ("notebook without cells", "model.ipynb", b'{"nbformat": 4}', "fashion", DAY, 422, "no cells"),
    ("a .txt", "model.txt", SOURCE, "fashion", DAY, 415, "Python file (.py)"),
    ("no suffix", "model", SOURCE, "fashion", DAY, 415, "Jupyter notebook (.ipynb)"),
    ("empty", "model.py", b"", "fashion", DAY, 422, "empty"),
    ("only blanks", "model.py", b"  \n\n", "fashion", DAY, 422, "empty"),
    ("a NUL byte", "model.py", b"print(1)\x00\n", "fashion", DAY, 422, "NUL byte"),
    ("unknown challenge", "model.py", SOURCE, "nope", DAY, 404, "no challenge 'nope'"),
    ("at the deadline", "model.py", SOURCE, "fashion", CLOSES, 403, "closed at 2027-01-15 17:00 UTC"),
    ("after the deadline", "model.py", SOURCE, "fashion", CLOSES + dt.timedelta(days=2), 403, "closed"),
    ("before it opens", "model.py", SOURCE, "fashion", OPENS - dt.timedelta(seconds=1), 403, "opens at"),
]


@CHANNELS
@pytest.mark.parametrize(
    ("filename", "content", "challenge", "moment", "status", "words"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_an_upload_that_cannot_be_graded_is_refused_and_stores_nothing(
    world, channel, filename, content, challenge, moment, status, words
):
    send = uploader(world, channel)  # signed in (and the form read) while the challenge is open
    world.clock.now = moment
    answer = send(filename, content, challenge)
    assert answer.status_code == status, said(answer)
    assert words in said(answer)
    assert world.counts() == (0, 0, 0)


@CHANNELS
def test_an_upload_over_the_daily_cap_answers_429_and_stores_nothing(world, channel):
    send = uploader(world, channel)
    for number in range(DAILY_CAP):
        assert send(f"model{number}.py", SOURCE).status_code == 201
    before = world.counts()
    answer = send("model.py", SOURCE)
    assert answer.status_code == 429
    message = said(answer)
    assert "daily limit reached" in message and f"the limit is {DAILY_CAP} per day" in message
    assert world.counts() == before == (DAILY_CAP, DAILY_CAP, DAILY_CAP)
    # The next UTC day takes uploads again.
    world.clock.now = DAY + dt.timedelta(days=1)
    assert send("model.py", SOURCE).status_code == 201


def test_more_than_six_uploads_a_minute_answer_429(world):
    send = uploader(world, "api")
    answers = [send("model.txt", SOURCE).status_code for _ in range(6)]  # refused, but counted
    assert answers == [415] * 6
    answer = send("model.py", SOURCE)
    assert answer.status_code == 429 and "Too many uploads in a minute" in said(answer)
    assert world.counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "Authorization: Bearer TOKEN"),
        ({"authorization": "Basic YWxpY2U6c2VjcmV0"}, "Authorization: Bearer TOKEN"),
        ({"authorization": "Bearer "}, "Authorization: Bearer TOKEN"),
        ({"authorization": "Bearer not-a-token"}, "not valid"),
    ],
    ids=["no header", "basic", "empty token", "wrong token"],
)
def test_the_api_without_a_valid_token_answers_401_json(world, headers, words):
    api = world.api()
    answer = api.post(
        "/api/submissions", headers=headers, data={"challenge": "fashion"}, files={"file": ("m.py", SOURCE)}
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/json"
    assert words in answer.json()["error"]
    assert api.get("/api/submissions/1", headers=headers).status_code == 401
    assert world.counts() == (0, 0, 0)


def test_the_api_accepts_an_upload_and_reports_its_status(world):
    created = uploader(world, "api")("model.py", SOURCE)
    assert created.status_code == 201 and created.json()["status"] == "queued"
    polled = world.api().get(f"/api/submissions/{created.json()['id']}", headers=bearer(world.tokens["alice"]))
    assert polled.status_code == 200
    assert polled.json()["challenge"] == "fashion" and polled.json()["status_text"].startswith("queued")


# --------------------------------------------------------------------------- 4. privacy


def test_another_learners_report_and_status_answer_403_like_a_missing_one(world):
    submission = uploader(world, "api", "alice")("model.py", SOURCE).json()["id"]
    report = report_path(world.state_dir, submission)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("<html><body>the report of alice</body></html>")
    alice = world.sign_in("alice")[0]
    own = alice.get(f"/me/submissions/{submission}/report")
    assert own.status_code == 200 and "the report of alice" in own.text

    bob = world.sign_in("bob")[0]
    others = bob.get(f"/me/submissions/{submission}/report")
    missing = bob.get("/me/submissions/999/report")
    for answer in (others, missing):
        assert answer.status_code == 403
        assert "not one of your submissions" in said(answer)
        assert "the report of alice" not in answer.text
    assert others.text == missing.text  # no existence oracle

    api = world.api()
    others = api.get(f"/api/submissions/{submission}", headers=bearer(world.tokens["bob"]))
    missing = api.get("/api/submissions/999", headers=bearer(world.tokens["bob"]))
    assert others.status_code == missing.status_code == 403
    assert others.json() == missing.json() == {"error": "This is not one of your submissions."}
    assert "model.py" not in bob.get("/me/rows").text
    assert world.counts() == (1, 1, 1)


@pytest.mark.parametrize("wrong", ["abc", "1.5", "1e3", "%20", "1;DROP", "0x10"])
def test_a_submission_id_that_is_not_a_number_answers_422_with_a_page(world, wrong):
    bob, csrf = world.sign_in("bob")
    page = bob.get(f"/me/submissions/{wrong}/report")
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "Not understood" in page.text and "not one the service knows" in said(page)
    answer = world.api().get(f"/api/submissions/{wrong}", headers=bearer(world.tokens["bob"]))
    assert answer.status_code == 422 and "not one the service knows" in said(answer)
    for path in (f"/me/submissions/{wrong}/cancel", f"/me/submissions/{wrong}/select"):
        assert bob.post(path, data={"csrf": csrf}).status_code == 422
        assert bob.post(path, data={"csrf": "x"}).status_code == 403  # the CSRF check comes first


@pytest.mark.parametrize("odd", ["-1", "0", "99999999999999999999999999"])
def test_odd_numeric_ids_answer_403_never_500(world, odd):
    bob = world.sign_in("bob")[0]
    assert bob.get(f"/me/submissions/{odd}/report").status_code == 403
    assert world.api().get(f"/api/submissions/{odd}", headers=bearer(world.tokens["bob"])).status_code == 403


def board_scores(fragment: str) -> list[tuple[str, str, str]]:
    return re.findall(
        r'<td class="learner">([^<]*)</td>\s*<td class="score">([^<]*)</td><td class="accuracy">([^<]*)</td>', fragment
    )


def test_the_public_board_never_shows_a_private_score_before_the_deadline(world):
    alice = uploader(world, "api", "alice")("model.py", SOURCE).json()["id"]
    bob = uploader(world, "api", "bob")("model.py", SOURCE).json()["id"]
    complete(world, alice, public=61.5, private=87.25, key="alice-1")
    complete(world, bob, public=70.0, private=12.75, key="bob-1")
    visitor = world.browser()
    before = world.counts()

    world.clock.now = CLOSES - dt.timedelta(microseconds=1)
    fragment = visitor.get("/board/fashion/rows")
    assert fragment.status_code == 200 and "Public half of the test set" in fragment.text
    assert board_scores(fragment.text) == [
        ("Bob Example", "70 / 100", "0.7000"),
        ("Alice Example", "61.5 / 100", "0.6150"),
    ]
    signed_in = world.sign_in("alice")[0]
    for page in (fragment.text, visitor.get("/board/fashion").text, signed_in.get("/me").text):
        for private in ("87.25", "0.8725", "12.75", "0.1275"):
            assert private not in page
    status = world.api().get(f"/api/submissions/{alice}", headers=bearer(world.tokens["alice"])).json()
    assert "87.25" not in str(status) and status["points"] == "61.5 / 100"

    world.clock.now = CLOSES
    final = visitor.get("/board/fashion/rows")
    assert final.status_code == 200 and "Final standings" in final.text
    assert board_scores(final.text) == [
        ("Alice Example", "87.25 / 100", "0.8725"),
        ("Bob Example", "12.75 / 100", "0.1275"),
    ]
    assert world.counts() == before


def test_an_unknown_board_answers_404(world):
    answer = world.browser().get("/board/nope/rows")
    assert answer.status_code == 404 and "no challenge 'nope'" in said(answer)


# --------------------------------------------------------------------------- 5. headers and secrets


def visit_everything(world: World) -> tuple[list[httpx.Response], httpx.Response]:
    """One response of each route and kind of answer; and the report's."""
    submission = uploader(world, "api")("model.py", SOURCE).json()["id"]
    report = report_path(world.state_dir, submission)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("<html><body><script>1</script>report</body></html>")
    world.host_tokens = [new_host_token(world.state_dir)]
    anonymous, api = world.browser(), world.api()
    alice, csrf = world.sign_in("alice")
    host = world.browser()
    responses = [
        anonymous.get("/"),
        anonymous.get("/board/fashion"),
        anonymous.get("/board/fashion/rows"),
        anonymous.get("/board/nope"),
        anonymous.get("/me"),
        anonymous.get("/me/events"),
        anonymous.get("/join/wrong"),
        anonymous.get(f"/join/{world.tokens['bob']}"),
        anonymous.get("/host"),
        anonymous.get("/host/join/wrong"),
        anonymous.get("/no/such/page"),
        anonymous.get("/static/serve.css"),
        anonymous.get("/static/htmx-2.0.11.min.js"),
        alice.get("/"),
        alice.get("/me"),
        alice.get("/me/rows"),
        alice.get("/me/submissions/abc/report"),
        alice.get("/me/submissions/999/report"),
        alice.post("/me/submissions", data={"challenge": "fashion"}, files={"file": ("m.py", SOURCE)}),
        alice.post("/me/submissions", data={"csrf": csrf, "challenge": "fashion"}, files={"file": ("m.txt", SOURCE)}),
        alice.post("/me/submissions", data={"csrf": csrf, "challenge": "fashion"}, files={"file": ("m.py", SOURCE)}),
        alice.post(f"/me/submissions/{submission}/select", data={"csrf": csrf, "selected": "1"}),
        alice.post(
            "/me/submissions", content=b"x" * 200_000, headers={"content-type": "multipart/form-data; boundary=x"}
        ),
        api.get(f"/api/submissions/{submission}", headers=bearer(world.tokens["alice"])),
        api.get("/api/submissions/abc", headers=bearer(world.tokens["alice"])),
        api.get("/api/submissions/1", headers=bearer("wrong")),
        api.post("/api/submissions", headers=bearer(world.tokens["alice"]), data={"challenge": "fashion"}),
        host.get(f"/host/join/{world.host_tokens[0]}"),
        host.get("/host"),
    ]
    return responses, alice.get(f"/me/submissions/{submission}/report")


def test_every_response_carries_the_strict_headers_and_the_report_is_sandboxed(world):
    responses, report = visit_everything(world)
    statuses = {response.status_code for response in responses}
    assert {200, 201, 303, 400, 401, 403, 404, 409, 413, 415, 422} <= statuses
    assert 500 not in statuses
    for response in [*responses, report]:
        where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
        headers = response.headers
        assert headers["x-frame-options"] == "DENY", where
        assert headers["referrer-policy"] == "no-referrer", where
        assert headers["x-content-type-options"] == "nosniff", where
        assert headers["cache-control"] == "no-store", where
        assert "frame-ancestors 'none'" in headers["content-security-policy"], where
    for response in responses:
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "sandbox" not in policy
        assert "unsafe-eval" not in policy
    assert report.status_code == 200 and "report" in report.text
    policy = report.headers["content-security-policy"]
    assert policy.startswith("sandbox ") and "allow-same-origin" not in policy
    assert "script-src 'unsafe-inline'" in policy and "connect-src" not in policy  # default-src 'none' covers it


def test_no_response_carries_the_signing_secret_or_a_token(world):
    responses, report = visit_everything(world)
    world.reissue("carol")  # an old token must not show up either
    world.sign_in("carol")
    assert len(world.responses) > len(responses)
    secret = (world.state_dir / SECRET_FILE).read_bytes()
    assert len(secret) >= 32
    world.assert_nothing_leaked()
    # The check can fail: a response that did carry the secret would be caught.
    leaky = httpx.Response(200, content=b"key=" + secret.hex().encode(), request=responses[0].request)
    world.responses.append(leaky)
    with pytest.raises(AssertionError, match="leaks a secret"):
        world.assert_nothing_leaked()
    world.responses.remove(leaky)


# --------------------------------------------------------------------------- 6. the host's page


def test_the_host_page_needs_the_host_link(world):
    submission = uploader(world, "api", "bob")("model.py", SOURCE).json()["id"]
    anonymous = world.browser()
    answer = anonymous.get("/host")
    assert answer.status_code == 401 and "host link" in said(answer)
    assert anonymous.get("/host/join/anything").status_code == 403  # no host token made yet
    token = new_host_token(world.state_dir)
    world.host_tokens = [token]
    wrong = anonymous.get(f"/host/join/{token[:-1]}x")
    assert wrong.status_code == 403 and "host link is not valid" in said(wrong)
    assert "set-cookie" not in wrong.headers
    # A learner's session is not the host's.
    assert world.sign_in("alice")[0].get("/host").status_code == 401

    host = world.browser()
    joined = host.get(f"/host/join/{token}")
    assert joined.status_code == 303 and joined.headers["location"] == "/host"
    attributes = {part.strip().lower() for part in joined.headers["set-cookie"].split(";")[1:]}
    assert joined.headers["set-cookie"].startswith(f"{HOST_COOKIE}=") and {"httponly", "samesite=strict"} <= attributes
    page = host.get("/host")
    assert page.status_code == 200
    queued = re.search(r"<h2>Queued</h2>(.*?)</table>", page.text, re.S)
    assert queued and f"<td>{submission}</td><td>bob</td><td>fashion</td>" in queued.group(1)

    # A new host token ends the old host session.
    world.host_tokens.append(new_host_token(world.state_dir))
    assert host.get("/host").status_code == 401


# --------------------------------------------------------------------------- 7. live streams and 9. load


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """The app under a real uvicorn server on 127.0.0.1 (an ephemeral port), in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=2, backlog=256
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(1000):  # at most 10 s for the server to start
            if server.started or not thread.is_alive():
                break
            time.sleep(0.01)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
    assert not thread.is_alive(), "the server did not stop"


def wait_for_subscriber(world: World, topic: str) -> None:
    for _ in range(500):  # at most 5 s
        with world.service.changes._lock:
            if world.service.changes._subscribers.get(topic):
                return
        time.sleep(0.01)
    raise AssertionError(f"nobody subscribed to {topic!r}")


def next_event(lines: Iterator[str]) -> list[str]:
    event: list[str] = []
    for line in lines:
        if not line:
            if event:
                return event
            continue
        if not line.startswith(":"):  # comments are keep-alive pings
            event.append(line)
    raise AssertionError("the stream ended")


def test_the_event_streams_answer_with_event_stream_and_mine_needs_a_session(world):
    assert world.browser().get("/me/events").status_code == 401
    with serving(world.app) as url, httpx.Client(base_url=url, timeout=5.0) as client:
        with client.stream("GET", "/events/board") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            # FastAPI's own value for a stream (it carries no figure: only "changed").
            assert stream.headers["cache-control"] in ("no-cache", "no-store")
            assert (
                stream.headers["x-frame-options"] == "DENY"
                and "script-src 'self'" in stream.headers["content-security-policy"]
            )
            wait_for_subscriber(world, live.BOARD)
            world.service.changes.publish(live.BOARD)
            assert next_event(stream.iter_lines()) == ["event: board", "data: changed"]  # never a figure

        refused = client.get("/me/events")
        assert refused.status_code == 401 and "Sign in" in refused.json()["error"]
        client.get(f"/join/{world.tokens['alice']}")
        assert SESSION_COOKIE in client.cookies
        with client.stream("GET", "/me/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            topic = live.learner_topic("alice")
            wait_for_subscriber(world, topic)
            world.service.changes.publish(live.learner_topic("bob"))  # someone else's: not heard
            world.service.changes.publish(topic)
            assert next_event(stream.iter_lines()) == ["event: mine", "data: changed"]


def test_fifty_learners_uploading_at_once_are_all_queued(tmp_path):
    learners = tuple(f"learner{number:02d}" for number in range(50))
    world = make_world(tmp_path, learners)
    answers: dict[str, httpx.Response | Exception] = {}
    start = threading.Barrier(len(learners))

    def upload(learner: str) -> None:
        try:
            with httpx.Client(timeout=30.0) as client:
                start.wait(timeout=30)
                answers[learner] = client.post(
                    f"{url}/api/submissions",
                    headers=bearer(world.tokens[learner]),
                    data={"challenge": "fashion"},
                    files={"file": (f"{learner}.py", SOURCE + f"# {learner}\n".encode())},
                )
        except Exception as error:
            answers[learner] = error

    with serving(world.app) as url:
        threads = [threading.Thread(target=upload, args=(learner,)) for learner in learners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    failures = {
        learner: answer if isinstance(answer, Exception) else (answer.status_code, answer.text)
        for learner, answer in answers.items()
        if isinstance(answer, Exception) or answer.status_code != 201
    }
    assert not failures and len(answers) == len(learners)
    ids = [answer.json()["id"] for answer in answers.values() if isinstance(answer, httpx.Response)]
    assert len(set(ids)) == len(learners)
    assert world.counts() == (50, 50, 50)
    with world.service.store.read() as connection:
        rows = connection.execute(
            "SELECT s.id, s.learner, j.id, j.state FROM submissions s JOIN jobs j ON j.submission_id = s.id"
        ).fetchall()
    assert sorted(row[0] for row in rows) == sorted(ids)
    assert len({row[2] for row in rows}) == 50 and {row[3] for row in rows} == {"queued"}
    assert sorted(row[1] for row in rows) == sorted(learners)
    for learner, answer in answers.items():
        assert isinstance(answer, httpx.Response)
        assert world.service.store.submission_content(answer.json()["id"]) == SOURCE + f"# {learner}\n".encode()
    world.assert_nothing_leaked()


def test_the_board_stays_consistent_with_the_database_while_gradings_land_under_load(tmp_path):
    """50 learners' gradings recorded by 4 worker threads while 8 readers fetch the board and their
    statuses through a real uvicorn: no read fails, and the board ends as the database ranks it."""
    learners = tuple(f"learner{number:02d}" for number in range(50))
    world = make_world(tmp_path, learners)
    store = world.service.store
    submissions = {}
    for learner in learners:  # a second apart: ties on the board go to the earlier upload
        world.clock.now += dt.timedelta(seconds=1)
        submissions[learner] = store.submit(learner, "fashion", "m.py", SOURCE, world.clock())
    # Distinct public scores with a few ties (ties go to the earlier submission).
    scores = {learner: float(40 + (number * 7) % 45) for number, learner in enumerate(learners)}
    problems: list[str] = []
    graded = threading.Event()

    def grade_some(worker: int) -> None:
        while (claim := store.claim(f"worker-{worker}", world.clock())) is not None:
            learner = claim.learner
            outcome = Outcome(
                grading_key=f"key-{claim.submission_id}", verdict="passed", max_score=100.0,
                public_score=scores[learner], private_score=0.0, public_accuracy=scores[learner] / 100,
            )  # fmt: skip
            if not store.complete(claim.lease_id, outcome, world.clock()):
                problems.append(f"{learner}: not recorded")

    def read_board(url: str, reader: int) -> None:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            while not graded.is_set():
                for answer in (
                    client.get("/board/fashion/rows"),
                    client.get(
                        f"/api/submissions/{submissions[learners[reader]]}",
                        headers=bearer(world.tokens[learners[reader]]),
                    ),
                ):
                    if answer.status_code != 200:
                        problems.append(f"{answer.request.url}: {answer.status_code}")

    with serving(world.app) as url:
        readers = [threading.Thread(target=read_board, args=(url, number)) for number in range(8)]
        workers = [threading.Thread(target=grade_some, args=(number,)) for number in range(4)]
        for thread in readers + workers:
            thread.start()
        for thread in workers:
            thread.join(timeout=120)
        graded.set()
        for thread in readers:
            thread.join(timeout=60)
        final = httpx.get(f"{url}/board/fashion/rows", timeout=30.0)
    assert not any(thread.is_alive() for thread in readers + workers)
    assert problems == []
    with store.read() as connection:
        rows = connection.execute(
            "SELECT learner, public_score, created_at, id FROM submissions WHERE status = 'graded'"
        ).fetchall()
    assert len(rows) == 50  # every grading recorded, once
    expected = sorted(rows, key=lambda row: (-row["public_score"], row["created_at"], row["id"]))
    shown = board_scores(final.text)
    assert [(name, score) for name, score, _ in shown] == [
        (f"{row['learner'].title()} Example", f"{row['public_score']:g} / 100") for row in expected
    ]


# --------------------------------------------------------------------------- 8. vendored scripts


def test_the_vendored_scripts_match_their_recorded_hashes():
    table = re.findall(
        r"^\| (\S+\.js) \|[^|]+\|[^|]+\| ([0-9a-f]{64}) \|$", (STATIC / "VENDORED.md").read_text(), re.MULTILINE
    )
    assert len(table) == 2
    for name, recorded in table:
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == recorded, name
    on_disk = {path.name for path in STATIC.glob("*.js")}
    assert on_disk == {name for name, _ in table}
    base = (TEMPLATES / "base.html").read_text()
    assert sorted(re.findall(r'<script src="/static/([^"]+)"></script>', base)) == sorted(on_disk)
