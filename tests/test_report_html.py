"""The HTML report: written by `grade submit` for every graded submission, self-contained, safe
with hostile learner text, and checked in a real browser (headless Chromium), which also takes
the screenshot kept in tests/artifacts/."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from grader.checks.result import failed, passed
from grader.cli import main
from grader.core.result import GradeResult
from grader.pipeline import grade
from grader.report import REPORT_FILE
from tests.grading import fashion_submission, tiny_spec

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium; CI installs it)"
)
PARTS = ("checks", "model-summary", "learning-curves", "confusion-matrix", "mistakes", "journey")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One real (tiny) grading of a correct Fashion-MNIST submission; its run folder has report.html."""
    tmp = tmp_path_factory.mktemp("report")
    spec = tiny_spec(tmp, "fashion", train_limit=512, epochs=2)
    result = grade(path=fashion_submission(tmp), spec_path=spec, profile="tiny", out_dir=tmp / "run")
    assert result.verdict == "passed", [c for c in result.checks if not c.passed]
    print(f"\nreport written in {result.durations['report']:.2f} s: {result.run_dir}/{REPORT_FILE}")
    return result


class Elements(HTMLParser):
    """Every element's tag and attributes, in document order (the stdlib parser, no extra dependency)."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, **wanted) -> list[dict[str, str]]:
        """Elements whose attributes have these values (class_ is class, data_part is data-part)."""
        wanted = {key.rstrip("_").replace("_", "-"): value for key, value in wanted.items()}
        return [attrs for _, attrs in self.elements if all(attrs.get(k) == v for k, v in wanted.items())]

    def tags(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.elements if name == tag]


def wrong_predictions(result: GradeResult) -> int:
    matrix = np.array(result.confusion_matrix)
    return int(matrix.sum() - np.trace(matrix))


# --------------------------------------------------------------------------- the page itself


def test_submit_writes_a_self_contained_report(graded):
    html = (Path(graded.run_dir) / REPORT_FILE).read_text()
    page = Elements(html)
    rows = page.find(class_="check passed") + page.find(class_="check failed")
    assert [r["data-check-id"] for r in rows] == [c.id for c in graded.checks]
    for part in PARTS:
        assert page.find(id=part), f"no element with id {part!r}"
    figures = [page.find(id=part)[0] for part in ("learning-curves", "confusion-matrix", "journey")]
    assert all(f["src"].startswith("data:image/png;base64,") for f in figures)
    mistakes = page.find(class_="mistake")
    assert len(mistakes) == min(12, wrong_predictions(graded)) > 0
    # Nothing is fetched from anywhere: every image is embedded, no stylesheet or script is linked.
    assert all(img["src"].startswith("data:") for img in page.tags("img"))
    assert not page.tags("link") and all("src" not in s for s in page.tags("script"))
    assert "default-src 'none'" in page.find(http_equiv="Content-Security-Policy")[0]["content"]
    # The same facts as result.json and the terminal report.
    assert f"{graded.score:g} / {graded.max_score:g} points" in html
    assert f"test accuracy {graded.metrics['test_accuracy']:.4f}" in html
    assert 0 < graded.durations["report"] < 15  # measured in the parent; about 1 s on a 2-core CPU


def test_confident_mistakes_come_first(graded):
    """The grid's captions, in order, show confidences that never increase."""
    html = (Path(graded.run_dir) / REPORT_FILE).read_text()
    shown = [int(p) for p in re.findall(r'class="predicted">predicted [^(<]+\((\d+)%\)', html)]
    assert len(shown) == len(Elements(html).find(class_="mistake"))
    assert shown == sorted(shown, reverse=True)


def test_mistakes_are_ranked_by_the_confidence_of_the_wrong_answer():
    from grader.report.mistakes import confident_mistakes

    # Binary: one output, the probability of class 1; predicting 0 with p = 0.05 is 95% sure.
    p = np.array([[0.9], [0.2], [0.6], [0.05], [0.45]])
    binary = confident_mistakes(p, (p[:, 0] >= 0.5).astype(int), np.array([0, 0, 0, 1, 1]), "binary")
    assert [(m.position, m.predicted, m.true) for m in binary] == [(3, 0, 1), (0, 1, 0), (2, 1, 0), (4, 0, 1)]
    assert [round(m.confidence, 2) for m in binary] == [0.95, 0.9, 0.6, 0.55]
    # Multiclass: the output of the predicted class; right answers never appear; ties keep test order.
    outputs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]])
    multi = confident_mistakes(outputs, outputs.argmax(axis=1), np.array([1, 1, 0, 0, 0]), "multiclass", limit=2)
    assert [(m.position, m.predicted, m.true) for m in multi] == [(3, 2, 0), (0, 0, 1)]


def test_learner_text_is_never_html(tmp_path):
    """Messages, hints and output come from the learner's code: shown as text, never run."""
    from grader.report.html import render_report

    attack = "<script>document.body.dataset.pwned = 'yes'</script>"
    result = GradeResult(
        challenge="fashion",
        profile="quick",
        mode="submit",
        submission_path="<b>x</b>.py",
        submission_sha256="0" * 64,
        seed=1,
        backend="tensorflow",
        run_dir=str(tmp_path),
    )
    result.checks = [
        failed("architecture.layers", "Layers", 10, f"found {attack}", hint="<i>hint</i>"),
        passed("compile", "compile()", 5, "ok"),
    ]
    result.output = "<img src=x onerror=\"document.body.dataset.pwned = 'img'\">"
    result.failure = {"stage": "train", "message": "<u>boom</u>", "hint": "", "detail": "</pre><script>1</script>"}
    html = render_report(result)
    assert "<script>document" not in html and "<img src=x" not in html and "<u>boom" not in html
    assert "&lt;script&gt;document.body.dataset.pwned" in html and "&lt;u&gt;boom&lt;/u&gt;" in html
    assert html.count("<script>") == 1  # ours only
    if CHROMIUM is not None:
        path = tmp_path / "hostile.html"
        path.write_text(html)
        dom = dump_dom(path, tmp_path / "profile")
        assert 'data-loaded="true"' in dom and "pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]


def test_a_reason_that_several_checks_share_is_said_once_in_both_reports(tmp_path):
    """An unwritten build_model() fails every check that needs the model for one reason: the
    reports say it once and point up to it; result.json keeps each check's words in full."""
    from rich.console import Console

    from grader.report.html import render_report
    from grader.report.rows import SAME_AS_ABOVE
    from grader.report.terminal import render

    todo = "build_model(): TODO 2: Build the CNN and compile it is not done yet (line 63)"
    fix = "replace the `raise NotImplementedError(...)` line with your code"
    result = GradeResult(
        challenge="fashion",
        profile="quick",
        mode="check",
        submission_path="fashion.py",
        submission_sha256="0" * 64,
        seed=1,
        backend="tensorflow",
        run_dir=str(tmp_path),
    )
    result.checks = [
        passed("preprocess", "preprocess()", 5, "scaled to [0, 1]"),
        failed("architecture.layers", "Layers and settings", 12, todo, fix),
        failed("architecture.shapes", "Output shapes", 6, todo, fix),
        failed("architecture.params", "Parameter counts", 9, todo, fix),
        passed("compile", "compile()", 5, "adam"),  # a passed row in between: said again below
        failed("callback", "Stop-at-target callback", 10, todo, fix),
    ]
    console = Console(record=True, width=300)
    render(result, console)
    text = console.export_text()
    assert text.count(todo) == 2 and text.count(fix) == 2 and text.count(SAME_AS_ABOVE) == 2
    page = Elements(render_report(result))
    assert len(page.find(class_="check failed")) == 4 and len(page.find(class_="hint")) == 2
    html = render_report(result)
    assert html.count(todo) == 2 and html.count(SAME_AS_ABOVE) == 2
    assert [c["message"] for c in result.to_dict()["checks"]].count(todo) == 4


def test_a_crashed_submission_still_gets_a_report(tmp_path):
    """A submission that fails to build: the report shows the failure and says why figures are missing."""
    spec = tiny_spec(tmp_path, "fashion", train_limit=128, epochs=1)
    broken = fashion_submission(
        tmp_path, "def build_model():\n", "def build_model():\n    raise ValueError('no model today')\n"
    )
    result = grade(path=broken, spec_path=spec, profile="tiny", out_dir=tmp_path / "run")
    assert result.verdict == "failed"
    html = (tmp_path / "run" / REPORT_FILE).read_text()
    page = Elements(html)
    assert page.find(id="failure") and "no model today" in html
    assert len(page.find(class_="check failed")) == sum(not c.passed for c in result.checks) > 0
    assert page.find(id="learning-curves", class_="note") and "No learning curves" in html
    assert page.find(id="confusion-matrix", class_="note") and page.find(id="journey", class_="note")
    assert not page.tags("img")


def test_a_figure_that_fails_is_replaced_by_a_note(graded, monkeypatch):
    from grader.report import plots
    from grader.report.html import render_report

    def broken(*args, **kwargs):
        raise RuntimeError("the plotting library broke")

    monkeypatch.setattr(plots, "learning_curves_figure", broken)
    html = render_report(graded, max_gap=0.5)
    page = Elements(html)
    assert page.find(id="learning-curves", class_="note")
    assert "Could not draw this figure (RuntimeError: the plotting library broke)" in html
    assert page.find(id="confusion-matrix")[0]["src"].startswith("data:image/png")  # the rest is still drawn


def test_writing_the_report_never_stops_grading(graded, tmp_path, monkeypatch):
    """Even if the page cannot be written at all, the grading step only warns."""
    from grader import pipeline
    from grader.report import html
    from grader.spec import load_spec

    def unwritable(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(html, "write_report", unwritable)
    spec = load_spec("fashion")
    run = pipeline.Run(spec, spec.profile("quick"), Path("fashion.py"), tmp_path, 1, "cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipeline.write_report(graded, run)
    assert any("could not write the HTML report" in str(w.message) for w in caught)
    assert not (tmp_path / REPORT_FILE).exists()


def test_terminal_report_points_to_the_html_report(graded):
    from rich.console import Console

    from grader.report.terminal import render

    console = Console(record=True, width=200)
    render(graded, console)
    assert f"{graded.run_dir}/{REPORT_FILE}" in console.export_text()


def test_grade_journey_on_a_run_folder(graded):
    outcome = CliRunner().invoke(main, ["journey", graded.run_dir, "--images", "0,5", "--filter", "2"])
    assert outcome.exit_code == 0, outcome.output
    assert "conv2d 26x26x64" in outcome.output and "max_pooling2d_1 5x5x64" in outcome.output
    assert Image.open(Path(graded.run_dir) / "journey.png").format == "PNG"
    assert json.loads((Path(graded.run_dir) / "result.json").read_text())["challenge"] == "fashion"


# --------------------------------------------------------------------------- in a real browser


def run_chromium(arguments: list[str], profile: Path) -> subprocess.CompletedProcess:
    # A fresh profile each time: no state from an earlier run, nothing shared with a user's browser.
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


def dump_dom(page: Path, profile: Path) -> str:
    """The page's DOM after loading it from disk, scripts run (ours records what is visible)."""
    done = run_chromium(["--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()], profile)
    assert done.returncode == 0 and "<body" in done.stdout, done.stderr[-2000:]
    return done.stdout


@needs_chromium
def test_report_in_headless_chromium(graded, tmp_path):
    report = Path(graded.run_dir) / REPORT_FILE
    page = Elements(dump_dom(report, tmp_path / "profile-dom"))
    body = page.tags("body")[0]
    assert body.get("data-loaded") == "true", "the page's load script did not run"
    for part in PARTS:
        element = page.find(data_part=part)[0]
        assert element.get("data-visible") == "true", f"{part} is not visible"
    for name in ("learning-curves", "confusion-matrix", "journey"):
        width, height = map(int, page.find(data_part=name)[0]["data-natural-size"].split("x"))
        assert width > 200 and height > 200, (name, width, height)
    thumbnails = [a for a in page.tags("img") if a.get("data-part", "").startswith("mistake-")]
    assert len(thumbnails) == min(12, wrong_predictions(graded))
    assert all(a["data-visible"] == "true" and a["data-natural-size"] == "28x28" for a in thumbnails)
    rows = page.find(class_="check passed") + page.find(class_="check failed")
    assert len(rows) == len(graded.checks)

    # The whole page in one screenshot, kept for people to look at.
    height = int(body["data-page-height"])
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report-fashion.png"
    screenshot.unlink(missing_ok=True)
    done = run_chromium(
        [f"--window-size=1280,{height}", f"--screenshot={screenshot}", report.resolve().as_uri()],
        tmp_path / "profile-shot",
    )
    assert screenshot.is_file(), done.stderr[-2000:]
    print(f"\nscreenshot of the report: {screenshot}")
    picture = np.asarray(Image.open(screenshot).convert("RGB"))
    assert picture.shape[:2] == (height, 1280)
    # Rendered, not blank: the green 'passed' badge near the top, and the figures' many colours.
    green = (np.abs(picture[:200].astype(int) - [0x1A, 0x7F, 0x37]).max(axis=2) < 8).sum()
    assert green > 500
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 1000
