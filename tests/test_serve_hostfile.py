"""The host's challenge file and roster for `grade serve`: read into frozen objects, or refused with
a message that names the file, the key (or line) and what to do."""

from __future__ import annotations

import datetime as dt
import os
import textwrap

import pydantic
import pytest

from grader.serve.hostfile import HostFileError, load_host_file, read_roster

SERVE = """\
[serve]
title = "CNN week"
opens = 2027-01-08T09:00:00+01:00
closes = 2027-01-15T17:00:00+01:00
roster = "roster.csv"
"""
CHALLENGES = """
[[challenges]]
name = "fashion"

[[challenges]]
name = "digits"
profile = "full"
spec = "specs/digits.toml"
"""


def write_host(tmp_path, serve=SERVE, challenges=CHALLENGES, roster="learner,name\nerin,Erin\n"):
    (tmp_path / "roster.csv").write_text(roster)
    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "specs" / "digits.toml").write_text("")
    path = tmp_path / "challenge.toml"
    path.write_text(serve + challenges)
    return path


def refusal(path) -> str:
    with pytest.raises(HostFileError) as caught:
        load_host_file(path)
    return str(caught.value)


# --------------------------------------------------------------------------- the host file


def test_a_valid_file_is_read_with_its_defaults_and_paths_resolved_in_its_folder(tmp_path):
    host = load_host_file(write_host(tmp_path))
    assert host.serve.title == "CNN week"
    assert host.serve.opens == dt.datetime(2027, 1, 8, 8, 0, tzinfo=dt.timezone.utc)
    assert host.serve.closes.utcoffset() == dt.timedelta(hours=1)
    assert (host.serve.daily_cap, host.serve.selections, host.serve.board_names) == (5, 2, "display")
    assert host.serve.upload_max_bytes == 1_000_000
    assert [(c.name, c.profile) for c in host.challenges] == [("fashion", "quick"), ("digits", "full")]
    assert host.roster_path == tmp_path / "roster.csv"
    assert host.spec_path("digits") == tmp_path / "specs" / "digits.toml"
    assert host.spec_path("fashion") is None and host.challenge("nope") is None


def test_the_host_file_is_frozen(tmp_path):
    host = load_host_file(write_host(tmp_path))
    with pytest.raises(pydantic.ValidationError):
        host.serve.daily_cap = 50


def test_dates_given_as_quoted_text_are_read_too(tmp_path):
    serve = SERVE.replace("2027-01-15T17:00:00+01:00", '"2027-01-15T17:00:00+01:00"')
    assert load_host_file(write_host(tmp_path, serve=serve)).serve.closes.hour == 17


@pytest.mark.parametrize(("key", "moment"), [("opens", "2027-01-08T09:00:00"), ("closes", "2027-01-15T17:00:00")])
def test_a_date_without_a_time_zone_is_refused_with_the_key_and_an_example(tmp_path, key, moment):
    message = refusal(write_host(tmp_path, serve=SERVE.replace(moment + "+01:00", moment)))
    assert message.startswith(f"{tmp_path / 'challenge.toml'}: [serve] {key}: ")
    assert "give an ISO date with a time zone, like 2027-01-" in message
    assert len(message.splitlines()) == 1


def test_closes_must_come_after_opens(tmp_path):
    message = refusal(write_host(tmp_path, serve=SERVE.replace("2027-01-15T17", "2027-01-08T08")))
    assert "[serve] closes: 2027-01-08T08:00:00+01:00 is not after opens" in message
    assert "make closes later than opens" in message


@pytest.mark.parametrize(
    ("line", "key", "hint"),
    [
        ("daily_cap = 0", "daily_cap", "1 or more"),
        ("daily_cap = true", "daily_cap", "whole number"),
        ('daily_cap = "5"', "daily_cap", "whole number"),
        ("selections = 0", "selections", "1 or more"),
        ("upload_max_bytes = 20000001", "upload_max_bytes", "from 1 to 20000000"),
        ('board_names = "public"', "board_names", '"display"'),
        ('title = ""', "title", "title as text"),
    ],
)
def test_each_bad_value_names_its_key_and_what_to_give(tmp_path, line, key, hint):
    serve = "".join(kept + "\n" for kept in SERVE.splitlines() if not kept.startswith(f"{key} ")) + line + "\n"
    message = refusal(write_host(tmp_path, serve=serve))
    assert f"[serve] {key}:" in message and hint in message


def test_unknown_and_missing_keys_are_named(tmp_path):
    message = refusal(write_host(tmp_path, serve=SERVE.replace('title = "CNN week"', 'titel = "CNN week"')))
    assert "[serve] titel: unknown key: remove it or correct its spelling" in message
    assert "[serve] title: missing:" in message
    assert "theme: unknown key" in refusal(write_host(tmp_path, serve='theme = "dark"\n' + SERVE))
    assert "[[challenges]]: missing: add at least one [[challenges]]" in refusal(write_host(tmp_path, challenges=""))


@pytest.mark.parametrize("name", ["Fashion", "1fashion", "fash-ion", "f" * 41])
def test_a_challenge_name_must_be_a_lowercase_identifier(tmp_path, name):
    message = refusal(write_host(tmp_path, challenges=CHALLENGES.replace('"digits"', f'"{name}"')))
    assert "[[challenges]] #2 name:" in message and 'like "fashion"' in message
    assert len(message.splitlines()) == 1  # not also "too few challenges" once the bad one is left out


def test_two_challenges_of_one_name_are_refused(tmp_path):
    message = refusal(write_host(tmp_path, challenges=CHALLENGES.replace('"digits"', '"fashion"')))
    assert "entries 1 and 2 are both named 'fashion'" in message


@pytest.mark.parametrize(
    ("roster", "expected"),
    [
        ("/etc/passwd", "is an absolute path"),
        ("../roster.csv", "leaves the host file's folder"),
        ("sub/../../roster.csv", "leaves the host file's folder"),
        ("C:\\\\roster.csv", "is an absolute path"),
    ],
)
def test_a_path_that_leaves_the_folder_is_refused(tmp_path, roster, expected):
    message = refusal(write_host(tmp_path, serve=SERVE.replace('"roster.csv"', f'"{roster}"')))
    assert "[serve] roster:" in message and expected in message


def test_a_link_that_leads_outside_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("learner,name\nx,X\n")
    folder = tmp_path / "course"
    folder.mkdir()
    path = write_host(folder, serve=SERVE.replace('"roster.csv"', '"linked.csv"'))
    os.symlink(outside, folder / "linked.csv")
    message = refusal(path)
    assert "[serve] roster: 'linked.csv' leads outside the host file's folder" in message


def test_a_missing_roster_or_spec_is_named(tmp_path):
    assert "[serve] roster: 'nobody.csv' is not a file" in refusal(
        write_host(tmp_path, serve=SERVE.replace('"roster.csv"', '"nobody.csv"'))
    )
    message = refusal(write_host(tmp_path, challenges=CHALLENGES.replace("specs/digits.toml", "specs/none.toml")))
    assert "[[challenges]] #2 spec: 'specs/none.toml' is not a file" in message
    assert "leaves the host file's folder" in refusal(
        write_host(tmp_path, challenges=CHALLENGES.replace("specs/digits.toml", "../digits.toml"))
    )


def test_a_missing_file_and_broken_toml_are_explained(tmp_path):
    assert "no such file" in refusal(tmp_path / "absent.toml")
    path = tmp_path / "challenge.toml"
    path.write_text("[serve\ntitle = 1\n")
    assert "not valid TOML" in refusal(path)


# --------------------------------------------------------------------------- the roster


def roster(tmp_path, text: str, encoding: str = "utf-8"):
    path = tmp_path / "roster.csv"
    path.write_text(textwrap.dedent(text), encoding=encoding)
    return path


def roster_refusal(path) -> str:
    with pytest.raises(HostFileError) as caught:
        read_roster(path)
    return str(caught.value)


def test_a_roster_is_read_in_order_with_quoted_names_and_blank_lines(tmp_path):
    path = roster(tmp_path, 'learner,name\ns1234,"Doe, Jane"\n\nerin.b,Erin B\nx_9,\n', encoding="utf-8-sig")
    entries = read_roster(path)
    assert [(e.learner, e.name) for e in entries] == [("s1234", "Doe, Jane"), ("erin.b", "Erin B"), ("x_9", "x_9")]


def test_a_duplicate_learner_is_refused_with_both_lines_whatever_its_case(tmp_path):
    message = roster_refusal(roster(tmp_path, "learner,name\nerin,Erin\nbob,Bob\nERIN,Erin again\n"))
    assert "line 4: learner 'ERIN' is already on line 2" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("-erin,Erin", "learner '-erin' is not usable"),
        ("erin smith,Erin", "learner 'erin smith' is not usable"),
        ("e" * 65 + ",Erin", "is not usable"),
        ("erin," + "E" * 81, "at most 80 printable characters"),
        ("erin,Erin\tB", "some not printable"),
        ("erin,Erin,B", "3 columns"),
    ],
)
def test_a_bad_line_is_refused_with_its_number(tmp_path, line, expected):
    message = roster_refusal(roster(tmp_path, f"learner,name\nbob,Bob\n{line}\n"))
    assert "line 3:" in message and expected in message


def test_a_roster_needs_its_header_and_a_learner(tmp_path):
    assert "line 1: the header must be learner,name" in roster_refusal(roster(tmp_path, "id,name\nerin,Erin\n"))
    assert "no learners" in roster_refusal(roster(tmp_path, "learner,name\n\n"))
    assert "no such file" in roster_refusal(tmp_path / "absent.csv")
    (tmp_path / "latin.csv").write_bytes("learner,name\nerin,Ér\xefn\n".encode("latin-1"))
    assert "not UTF-8" in roster_refusal(tmp_path / "latin.csv")
