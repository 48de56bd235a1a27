"""Results from elsewhere are accepted only with proof: `grade leaderboard import` takes records signed with
this host's key, and refuses unsigned, altered, forged and foreign-key records, adding nothing at all."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.leaderboard import LeaderboardError
from grader.leaderboard.db import open_db
from grader.leaderboard.records import validate_record
from grader.leaderboard.signing import canonical_bytes, key_fingerprint, load_key, sign, verify
from tests.leaderboard_records import database_snapshot, make_record

HOST_KEY = "host-secret-0123456789abcdef"
OTHER_KEY = "another-host-secret-9876543210"


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    """A database with one submission already in it (so "unchanged" means something), and the host's key."""
    monkeypatch.setenv("GRADER_SECRET_KEY", HOST_KEY)
    path = tmp_path / "leaderboard.sqlite"
    with open_db(path, create=True) as db:
        db.add([validate_record(make_record("existing"), "test")], origin="local")
    return path


def write(path: Path, document) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


def import_files(db_path: Path, *files: Path, key_file: Path | None = None):
    options = ["--key-file", str(key_file)] if key_file else []
    return CliRunner().invoke(main, ["leaderboard", "import", *map(str, files), "--db", str(db_path), *options])


def learners(db_path: Path) -> list[str]:
    with open_db(db_path, create=False) as db:
        return sorted(s["learner"] for s in db.submissions())


def test_a_signature_covers_the_content_not_the_layout():
    record = make_record("alice")
    signed = sign(record, HOST_KEY.encode())
    reordered = json.loads(json.dumps(dict(reversed(list(signed.items())))))
    assert verify(reordered, HOST_KEY.encode(), "x") == record
    assert canonical_bytes(signed) == canonical_bytes(record)
    # The signature is HMAC-SHA256 over sorted keys without whitespace: checkable by anyone holding the key.
    expected = hmac.new(
        HOST_KEY.encode(), json.dumps(record, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256
    ).hexdigest()
    assert signed["signature"] == {
        "algorithm": "hmac-sha256",
        "key": key_fingerprint(HOST_KEY.encode()),
        "value": expected,
    }


def test_a_host_signed_record_is_imported(db_path, tmp_path):
    signed = write(tmp_path / "alice.json", sign(make_record("alice", private=(40, 0.77)), HOST_KEY.encode()))
    result = import_files(db_path, signed)
    assert result.exit_code == 0, result.output
    assert "imported 1 submission" in result.output
    assert learners(db_path) == ["alice", "existing"]
    with open_db(db_path, create=False) as db:
        alice = next(s for s in db.submissions() if s["learner"] == "alice")
    assert alice["origin"] == "import" and alice["private_accuracy"] == 0.77


def altered(record):
    signed = sign(record, HOST_KEY.encode())
    signed["private_accuracy"] = 0.99  # better than what was graded
    return signed


def forged_with_the_hosts_fingerprint(record):
    signed = sign(record, OTHER_KEY.encode())
    signed["signature"]["key"] = key_fingerprint(HOST_KEY.encode())  # claims to be the host's
    return signed


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda r: r, "unsigned: only results signed by a grading host are accepted"),
        (altered, "the signature does not match the content: the record was altered after it was signed"),
        (lambda r: sign(r, OTHER_KEY.encode()), "signed with another key"),
        (forged_with_the_hosts_fingerprint, "the signature does not match the content"),
        (lambda r: {**r, "signature": "trust me"}, "the signature is malformed"),
        (
            lambda r: {
                **sign(r, HOST_KEY.encode()),
                "signature": {**sign(r, HOST_KEY.encode())["signature"], "algorithm": "md5"},
            },
            "the signature is malformed",
        ),
    ],
)
def test_unsigned_altered_and_foreign_records_are_refused_and_nothing_is_added(db_path, tmp_path, make, message):
    good = write(tmp_path / "good.json", sign(make_record("bob"), HOST_KEY.encode()))
    bad = write(tmp_path / "bad.json", make(make_record("mallory")))
    before = database_snapshot(db_path)
    result = import_files(db_path, good, bad)  # one good file does not get in beside a bad one
    assert result.exit_code == 2
    assert "1 of 2 files refused, so nothing was added" in result.output
    assert f"{bad}: {message}" in result.output
    assert str(good) not in result.output
    assert database_snapshot(db_path) == before


def test_a_record_signed_with_the_host_key_file_is_checked_with_that_key(db_path, tmp_path, monkeypatch):
    key_file = tmp_path / "host.key"
    key_file.write_text(OTHER_KEY + "\n")  # trailing newline as an editor would leave it
    signed = write(tmp_path / "carol.json", sign(make_record("carol"), OTHER_KEY.encode()))
    assert import_files(db_path, signed).exit_code == 2  # $GRADER_SECRET_KEY is another key
    result = import_files(db_path, signed, key_file=key_file)
    assert result.exit_code == 0, result.output
    assert learners(db_path) == ["carol", "existing"]


def test_a_duplicate_import_is_refused_and_adds_nothing(db_path, tmp_path):
    first = write(tmp_path / "dave.json", sign(make_record("dave"), HOST_KEY.encode()))
    assert import_files(db_path, first).exit_code == 0
    before = database_snapshot(db_path)
    again = import_files(db_path, first)
    assert again.exit_code == 2
    assert f"already in the database, so nothing was added: {first} (submission" in again.output
    copy = write(tmp_path / "copy.json", json.loads(first.read_text()))
    new = write(tmp_path / "erin.json", sign(make_record("erin"), HOST_KEY.encode()))
    assert import_files(db_path, new, copy).exit_code == 2  # erin is not added beside the duplicate
    twice = import_files(db_path, new, new)
    assert twice.exit_code == 2 and "the same submission is given more than once" in twice.output
    assert database_snapshot(db_path) == before


def test_a_signed_but_malformed_record_is_refused(db_path, tmp_path):
    record = make_record("frank", public_accuracy=3.0)
    record.pop("seed")
    signed = write(tmp_path / "frank.json", sign(record, HOST_KEY.encode()))
    notjson = tmp_path / "notes.json"
    notjson.write_text("{not json")
    before = database_snapshot(db_path)
    result = import_files(db_path, signed, notjson, tmp_path / "missing.json")
    assert result.exit_code == 2 and "3 of 3 files refused" in result.output
    assert "missing field 'seed'" in result.output and "'public_accuracy' must be between 0 and 1" in result.output
    assert f"{notjson}: not a JSON file" in result.output and "missing.json: cannot read it" in result.output
    assert database_snapshot(db_path) == before


def test_missing_or_weak_keys_are_refused_with_a_message(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADER_SECRET_KEY", raising=False)
    with pytest.raises(LeaderboardError, match="no secret key: set GRADER_SECRET_KEY or pass --key-file"):
        load_key()
    monkeypatch.setenv("GRADER_SECRET_KEY", "short")
    with pytest.raises(LeaderboardError, match="too short"):
        load_key()
    with pytest.raises(LeaderboardError, match="cannot read the key file"):
        load_key(tmp_path / "nope.key")
    signed = write(tmp_path / "x.json", sign(make_record("x"), HOST_KEY.encode()))
    result = import_files(tmp_path / "db.sqlite", signed)
    assert result.exit_code == 2 and "too short" in result.output
    assert not (tmp_path / "db.sqlite").exists()
