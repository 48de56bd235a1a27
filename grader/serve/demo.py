"""`grade serve --demo`: a demo challenge a newcomer can open in a browser.

Fashion-MNIST on the quick profile, open for a year, two learners on the roster: "reference" (the
kit's reference solution, uploaded as the first entry when the solutions are at hand, as in a
checkout) and "you", whose link is printed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from grader import config
from grader.serve.service import Service

DEMO_HOST_FILE = """# A demo live challenge, written by `grade serve --demo` (every key: grade docs serve).
[serve]
title = "Demo: Fashion-MNIST"
opens = {opens}
closes = {closes}
daily_cap = 10
selections = 1
roster = "roster.csv"

[[challenges]]
name = "fashion"
profile = "quick"
"""


def write_demo(folder: Path) -> Path:
    """The demo's host file and roster in `folder` (kept if they are there already)."""
    folder.mkdir(parents=True, exist_ok=True)
    host_file = folder / "challenge.toml"
    if not host_file.exists():
        today = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        opens, closes = today - dt.timedelta(days=1), today + dt.timedelta(days=365)
        host_file.write_text(DEMO_HOST_FILE.format(opens=opens.isoformat(), closes=closes.isoformat()))
    roster = folder / "roster.csv"
    if not roster.exists():
        roster.write_text("learner,name\nreference,The reference solution\nyou,You\n")
    return host_file


def demo_links(service: Service, url: str) -> list[str]:
    """Queue the reference as the first entry (once), and give "you" a fresh link."""
    lines = []
    now = service.now()
    reference = config.SOLUTIONS_DIR / "fashion.py"
    if not service.store.my_submissions("reference", now) and reference.is_file():
        service.store.submit("reference", "fashion", "fashion.py", reference.read_bytes(), now)
        lines.append("the reference solution is queued as the first entry")
    lines.append(f"open this link in a browser to submit as a learner: {url}/join/{service.store.issue_token('you')}")
    lines.append(f"the board: {url}/board/fashion")
    return lines
