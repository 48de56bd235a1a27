"""The isolation layer itself, and the guarantees around it that the hostile corpus does not reach.

- the uid fallback (for hosts without user namespaces), run with the system's own Python;
- modes that refuse to run unisolated (leaderboard, --sign, Gradescope);
- host-side inputs: symlinked or oversized submissions, an --out folder that is not ours;
- trained weights that learner code cannot touch: a build_model() that trains, or a patched
  fit(), gives bitwise the same training as the honest file.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import config
from grader.cli import main as cli
from grader.core.text import clean, learner_output
from grader.describe.sandbox import isolation as iso
from grader.describe.sandbox.box import Box
from grader.describe.sandbox.limits import Limits
from grader.pipeline import grade
from tests.grading import SUBMISSIONS, fashion_submission, tiny_spec

SYSTEM_PYTHON = "/usr/bin/python3"
HOSTILE = Path(__file__).parent / "hostile"


RUN_IN_LIMITS = Limits(memory_mb=1024, processes=32)


def run_in(level: str, code: str, limits: Limits = RUN_IN_LIMITS) -> tuple[int, str]:
    box = Box()
    try:
        sandboxed = iso.start(
            [SYSTEM_PYTHON, "-c", code],
            isolation=iso.Isolation(level),
            work=box.work,
            inputs=box.inputs,
            extra_env={},
            limits=limits,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            output, _ = sandboxed.process.communicate(timeout=60)
        finally:
            sandboxed.close()
        return sandboxed.process.returncode, output.decode(errors="replace")
    finally:
        box.remove()


needs_root_and_python = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON), reason="the uid fallback needs root and /usr/bin/python3"
)


@needs_root_and_python
def test_uid_fallback_runs_as_an_unprivileged_user_who_cannot_read_or_write_the_hosts_files(tmp_path):
    secret = tmp_path / "key.txt"
    secret.write_text("the host's secret")
    os.chmod(secret, 0o600)
    code, output = run_in(
        "uid",
        f"""
import os
print("uid", os.getuid())
for action, path in (("read", {str(secret)!r}), ("write", {str(Path(iso.__file__))!r})):
    try:
        open(path, "r" if action == "read" else "a").close()
        print("could", action, path)
    except OSError:
        print("refused", action)
""",
    )
    assert code == 0, output
    uid = int(output.split("uid ")[1].split()[0])
    assert iso.FALLBACK_UID_BASE <= uid < iso.FALLBACK_UID_BASE + iso.FALLBACK_UID_COUNT
    assert "could" not in output and output.count("refused") == 2


@needs_root_and_python
def test_uid_fallback_leaves_no_process_and_limits_processes():
    # The corpus's own bounded fork bomb (300 sleepers at most), with its success marker defined.
    bomb = "def hostile_win(what):\n    print('HOSTILE-WIN', what)\n\n" + (HOSTILE / "fork_bomb.py").read_text()
    code, output = run_in("uid", bomb, Limits(memory_mb=1024, processes=16))
    started = int(output.split("forked ")[1].split()[0])
    assert started < 16 and "HOSTILE-WIN" not in output
    leased = range(iso.FALLBACK_UID_BASE, iso.FALLBACK_UID_BASE + iso.FALLBACK_UID_COUNT)
    running = [pid for pid in os.listdir("/proc") if pid.isdigit() and _uid_of(pid) in leased and not _zombie(pid)]
    assert running == []
    # What is left are zombies, killed and waiting for init to reap them: they go (bounded wait).
    for _ in range(200):
        if not [pid for pid in os.listdir("/proc") if pid.isdigit() and _uid_of(pid) in leased]:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("processes of the sandbox uids are still there after 10 s")


def _zombie(pid: str) -> bool:
    try:
        return open(f"/proc/{pid}/stat", "rb").read().rsplit(b")", 1)[1][1:2] == b"Z"
    except OSError:
        return False


def _uid_of(pid: str) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


@pytest.mark.skipif(iso.choose().level != "namespaces", reason="bubblewrap is not usable here")
def test_namespaces_show_only_the_sandbox_and_no_grader_variables(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_KEY", "not-for-the-child")
    code, output = run_in(
        "namespaces",
        """
import os
print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("env", sorted(k for k in os.environ if k.startswith("GRADER")))
print("uid", os.getuid())
""",
    )
    assert code == 0, output
    pids = eval(output.split("pids ")[1].splitlines()[0])
    assert len(pids) <= 3 and max(pids) < 10  # bwrap's init, the child, perhaps its own /proc reader
    assert "env []" in output and "uid 65534" in output


def test_modes_that_publish_refuse_to_run_unisolated(tmp_path):
    path = fashion_submission(tmp_path)
    for required in ("Gradescope mode (--format gradescope)", "--sign"):
        result = grade(path=path, isolation="none", require_isolation=required, out_dir=tmp_path / "run")
        assert result.error is not None and required in result.error and result.exit_code == config.EXIT_NOT_GRADED
    outcome = CliRunner().invoke(
        cli,
        [
            "submit",
            str(path),
            "--isolation",
            "none",
            "--format",
            "gradescope",
            "--results",
            str(tmp_path / "results.json"),
        ],
    )
    assert outcome.exit_code == config.EXIT_NOT_GRADED
    assert "needs an isolated sandbox" in (tmp_path / "results.json").read_text()


def test_symlinked_and_oversized_submissions_are_refused(tmp_path):
    real = fashion_submission(tmp_path)
    link = tmp_path / "link" / "fashion.py"
    link.parent.mkdir()
    link.symlink_to(real)
    assert "symbolic link" in grade(path=link, train=False).error
    big = tmp_path / "big" / "fashion.py"
    big.parent.mkdir()
    big.write_text(real.read_text() + "#" * config.MAX_SUBMISSION_BYTES)
    assert "more than the" in grade(path=big, train=False).error


def test_out_must_be_empty_new_or_a_previous_run(tmp_path):
    path = fashion_submission(tmp_path)
    foreign = tmp_path / "homework"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result = grade(path=path, train=False, out_dir=foreign)
    assert "not from a grader run" in result.error
    assert (foreign / "notes.txt").read_text() == "mine"


def test_learner_text_is_cleaned_and_secrets_redacted(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_KEY", "s3cr3t-value")
    shown = learner_output("ok\x1b[2J\x1b]0;title\x07 s3cr3t-value \r\u202eevil\x00\n")
    assert shown == "ok [redacted] evil\n"
    assert clean("x" * 50, 10) == "x" * 9 + "…"


@pytest.mark.slow
def test_training_inside_build_model_or_a_patched_fit_changes_nothing(tmp_path, shared_cache):
    """The trained weights come from the trusted trainer only: bitwise the same history."""
    spec = tiny_spec(tmp_path, "fashion", train_limit=512, epochs=2)
    base = (SUBMISSIONS / "fashion_ok.py").read_text()
    cheat = (
        base
        + """
_honest_build = build_model
_fit = keras.Model.fit


def _fit_longer(self, *args, **kwargs):
    kwargs["epochs"] = 30
    return _fit(self, *args, **kwargs)


keras.Model.fit = _fit_longer


def build_model():
    import numpy as np
    model = _honest_build()
    model.fit(np.random.rand(256, 28, 28, 1), np.random.randint(0, 10, 256), epochs=1, verbose=0)
    return model
"""
    )
    histories = []
    for name, source in (("honest", base), ("cheat", cheat)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "fashion.py").write_text(source)
        result = grade(path=folder / "fashion.py", spec_path=spec, profile="tiny", out_dir=folder / "run")
        assert result.error is None and result.failure is None, result.failure
        histories.append((result.history, result.metrics))
    assert histories[0] == histories[1]
    assert len(histories[0][0]["loss"]) == 2


def test_a_uid_lease_passes_over_uids_whose_processes_are_not_reaped_yet(monkeypatch):
    """Killed processes stay zombies until init reaps them, and they count against the next run's
    process limit on that uid: a lease takes a uid without any first."""
    monkeypatch.setattr(iso, "uids_with_processes", lambda: {iso.FALLBACK_UID_BASE, iso.FALLBACK_UID_BASE + 1})
    first = iso.UidLease()
    try:
        assert first.uid not in (iso.FALLBACK_UID_BASE, iso.FALLBACK_UID_BASE + 1)
    finally:
        first.release()


def test_cgroups_left_by_a_killed_grader_are_swept_and_live_ones_kept():
    """A grader killed with SIGKILL cannot remove its cgroups; the next one removes those that
    are empty and old, and never one that holds a process or was made a moment ago."""
    left = iso.SandboxCgroup({"pids": 16})
    if not left.paths:
        pytest.skip("this host lets the grader make no cgroup")
    busy = iso.SandboxCgroup({"pids": 16})
    sleeper = subprocess.Popen(["sleep", "30"], preexec_fn=busy.enter)
    try:
        assert iso.sweep_stale_cgroups() >= 0 and all(p.is_dir() for p in left.paths + busy.paths)  # young: kept
        assert iso.sweep_stale_cgroups(min_age_s=0) >= 1
        assert not any(p.exists() for p in left.paths)  # empty and old enough: swept
        assert all(p.is_dir() for p in busy.paths)  # a process in it: kept
        left.remove()  # its owner, had it lived, still ends cleanly
    finally:
        sleeper.kill()
        sleeper.wait()
        busy.remove()
    assert not any(p.exists() for p in busy.paths)
