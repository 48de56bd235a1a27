"""Defaults that the CLI, the pipeline and the tests share, kept in one place."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def kit_dir(part: str) -> Path:
    """A folder of the kit: "challenges", "datasets" or "docs".

    In a checkout (and an editable install) it is the folder at the top of the checkout; in an
    installed wheel the same files ship inside the package as grader/kit/<part>.
    """
    installed = Path(__file__).resolve().parent / "kit" / part
    # grader.kit.* are folders of data without __init__.py (namespace packages, for which
    # importlib.resources gives no plain path): they sit beside this module in the installed tree.
    # A checkout has no grader/kit: its folders are at the top (also inside the sandbox, which
    # mounts the challenges folder but not pyproject.toml).
    return installed if installed.is_dir() else REPO_ROOT / part


CHALLENGES_DIR = kit_dir("challenges")
# The reference solutions are the host's: in a checkout they are at its top; the wheel every
# learner installs has none, and a host points $GRADER_SOLUTIONS_DIR at a copy of the folder.
SOLUTIONS_DIR = Path(os.environ.get("GRADER_SOLUTIONS_DIR") or REPO_ROOT / "solutions")


def missing_solution(path: Path) -> str | None:
    """Why the reference solution `path` cannot be used (a learner's install has none); None: it can."""
    if Path(path).is_file():
        return None
    return (
        f"no reference solution at {path}: the reference solutions are for hosts and do not ship with the "
        f"kit a learner installs; run from a checkout of the kit's repository, set GRADER_SOLUTIONS_DIR to "
        f"its solutions/ folder, or give the file"
    )


DEFAULT_PROFILE = "quick"
DEVICES = ("auto", "cpu", "gpu")  # where a grading trains (grader/keras_support/backend.py)
DEFAULT_DEVICE = "auto"
DEFAULT_SEED = 1234


def runs_dir() -> Path:
    """Where `grade submit` writes its run folders when --out is not given: ./runs in the folder
    the command runs in (never inside an installed package), or $GRADER_RUNS_DIR. Read when
    asked: the warm helper (grader/warm/) grades for commands run in other folders."""
    return Path(os.environ.get("GRADER_RUNS_DIR", "runs")).absolute()


DEFAULT_RUNS_DIR = runs_dir()  # the leaderboard's and batch's defaults, in this process's folder

# How much of a submission's output is kept in the report: the first and last part.
OUTPUT_HEAD_BYTES = 16_384
OUTPUT_TAIL_BYTES = 16_384

# `grade check` builds the model but trains nothing, so it gets a short budget.
CHECK_TIME_BUDGET_S = 120

# `grade check --warm`: its helper (grader/warm/) stops after this long without a request.
WARM_IDLE_S = float(os.environ.get("GRADER_WARM_IDLE_S", 15 * 60))
# How many sets (a sandboxed child, a trainer) the warm helper keeps ready. Each holds Keras and
# TensorFlow in memory: the helper takes 0.9 GB with one set, 1.8 GB with two (measured). A second
# set serves a check that comes right after the last one (2.6 s against 4.3 s back to back, on
# 2 cores, bench/results.md), so it is for machines with memory to spare.
WARM_DEPTH = int(os.environ.get("GRADER_WARM_DEPTH", 1))
# `grade batch` and `grade serve` on this machine: each share of the cores has a warm worker that
# grades job after job with processes started ahead (grader/batch/warm.py); --cold: a fresh worker
# process per grading.
BATCH_WARM = True

# On TensorFlow the trainer runs this many batches per call into the compiled train step: the
# same weights, bitwise, with less Python overhead per batch
# (grader/keras_support/backend.py prepare_for_training; bench/results.md).
STEPS_PER_EXECUTION = 16

# The evaluation's batch size (large: inference only).
EVAL_BATCH_SIZE = 512
# Training accuracy is measured on at most this many training examples.
TRAIN_EVAL_LIMIT = 10_000
# After training, the trainer gets this long to evaluate the saved model (the grader's time,
# not the learner's budget); on the fashion reference it takes about 1 s.
EVALUATE_BUDGET_S = 300

RESULT_SCHEMA_VERSION = 4

# The leaderboard (`grade submit --learner`, `grade leaderboard`): the database (also $GRADER_DB),
# where host-signed records go (they hold the private score: never give them to learners), and
# graded submissions per learner, challenge and UTC day (None: no cap; also $GRADER_DAILY_CAP).
DEFAULT_LEADERBOARD_DB = DEFAULT_RUNS_DIR / "leaderboard.sqlite"
DEFAULT_SIGNED_DIR = DEFAULT_RUNS_DIR / "signed"
DEFAULT_DAILY_CAP: int | None = None
# How many submissions count in the final standings: those a learner selects, else their best
# public ones (Kaggle's rule: more submissions are not more draws at the private half).
FINAL_SELECTIONS = 2
# A busy database is waited for this long per attempt (SQLite's busy timeout), then retried.
LEADERBOARD_BUSY_TIMEOUT_S = 10.0
LEADERBOARD_WRITE_ATTEMPTS = 6

# Exit codes of `grade submit` / `grade check`.
EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_NOT_GRADED = 2
EXIT_INTERRUPTED = 130  # Ctrl-C (or SIGTERM in a batch), as shells report a command killed by SIGINT

# The trusted trainer's address-space limit on CPU (a model far too large fails there).
TRAINER_MEMORY_MB = 16_384
# Processes and threads of the trainer (a memory and pids cgroup where the host offers one: grader/train/runner.py).
TRAINER_PROCESSES = 4096

# Host-side input caps: a submission file larger than this is refused before anything runs.
MAX_SUBMISSION_BYTES = 1_000_000
