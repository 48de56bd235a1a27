"""A live challenge end to end, as people use it: a real `grade serve` on 127.0.0.1 and a real
headless Chromium (Debian's, driven by Playwright; never a browser download).

Two learners sign in with their links and upload (a correct file, and one with a planted
mistake); each watches their status go queued -> running -> graded with no reload; a visitor
watches the public board change; one learner cannot open the other's report; when the host
closes the challenge, the final standings appear on the open board page.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.grading import SUBMISSIONS, fashion_submission
from tests.serving import GRADE, learner_links, start_server, write_challenge

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright drives the browser tests")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (setup.sh installs it)"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="the service grades only in the sandbox (bubblewrap)"),
]

PLANTED = ("layers.Dense(128", "layers.Dense(64")  # a planted mistake: the architecture checks find it


@pytest.fixture
def browser():
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


FINISHED = ("graded", "failed", "could not grade")


def statuses_until_graded(pages: dict, limit_s: float = 300) -> dict[str, list[str]]:
    """Every distinct status text each open page showed, until all say graded (no reload)."""
    seen: dict[str, list[str]] = {name: [] for name in pages}
    for _ in range(int(limit_s / 0.1)):
        for name, (page, _) in pages.items():
            text = page.locator("#mine td.status").first.inner_text()
            if not seen[name] or seen[name][-1] != text:
                seen[name].append(text)
        if all(texts[-1].startswith(FINISHED) for texts in seen.values()):
            return seen
        next(iter(pages.values()))[0].wait_for_timeout(100)
    raise AssertionError(f"still not graded; statuses seen: {seen}")


def test_two_learners_a_live_board_and_the_reveal(tmp_path, browser, data_dir):
    host_file = write_challenge(tmp_path / "host")
    correct = SUBMISSIONS / "fashion_ok.py"
    source = correct.read_text()
    assert PLANTED[0] in source
    (tmp_path / "alan").mkdir()
    mistaken = fashion_submission(tmp_path / "alan", *PLANTED)
    server = start_server(host_file, data_dir)
    try:
        links = learner_links(server)
        ada, alan, visitor = (browser.new_context() for _ in range(3))
        board = visitor.new_page()
        board.goto(f"{server.url}/board/fashion")
        assert "No graded submission yet" in board.inner_text("#board")
        assert "Public half" in board.inner_text("#board")

        pages = {}
        for name, context, path in (("ada", ada, correct), ("alan", alan, mistaken)):
            page = context.new_page()
            page.goto(links[name])
            assert page.url.endswith("/me"), page.url  # the link signed in and led to the learner's page
            page.set_input_files("input[name=file]", str(path))
            page.click("form.upload button[type=submit]")
            page.wait_for_selector("p.message", timeout=30_000)
            assert "queued for grading" in page.inner_text("p.message")
            navigations: list[str] = []
            page.on("framenavigated", lambda frame, seen=navigations: seen.append(frame.url))
            pages[name] = (page, navigations)

        # One worker: alan's file waits behind ada's, so his page shows all three states.
        seen = statuses_until_graded(pages)
        alan_seen, ada_seen = seen["alan"], seen["ada"]
        assert alan_seen[0].startswith("queued") and any(s.startswith("running") for s in alan_seen), alan_seen
        assert alan_seen[-1].startswith("graded: failed"), alan_seen
        assert ada_seen[-1] == "graded: passed", ada_seen
        assert [s for s in ada_seen if s.startswith("running")], ada_seen
        for _page, navigations in pages.values():
            assert navigations == [], f"the page reloaded: {navigations}"

        # Alan's page names what cost points, with the fix.
        reasons = pages["alan"][0].inner_text("#mine tr.reasons")
        assert "Hint" in reasons and "Dense" in reasons

        # The visitor's board changed by itself: both learners, Ada first.
        board.wait_for_function("document.querySelectorAll('#board td.learner').length == 2", timeout=60_000)
        names = board.locator("#board td.learner").all_inner_texts()
        assert names == ["Ada Lovelace", "Alan Turing"], names

        # Ada's report is hers; Alan gets 403 for it, whether or not he knows its number.
        ada_page = pages["ada"][0]
        report_link = ada_page.locator("#mine a", has_text="Report").first.get_attribute("href")
        assert report_link
        own = ada.new_page().goto(server.url + report_link)
        assert own is not None and own.status == 200
        other = alan.new_page().goto(server.url + report_link)
        assert other is not None and other.status == 403

        # The host closes the challenge: the open board shows the final standings, no reload.
        subprocess.run([*GRADE, "host", "close", str(host_file), "fashion"], check=True, capture_output=True)
        board.wait_for_selector("#board .final", timeout=30_000)
        assert "Final standings" in board.inner_text("#board")
        assert board.locator("#board td.learner").all_inner_texts()[0] == "Ada Lovelace"
    finally:
        server.stop()
    log = Path(server.log).read_text(errors="replace")
    assert "Traceback" not in log, log
