"""The leaderboard: every `grade submit --learner ID` recorded in SQLite, ranked, and published.

    grade submit --learner ID -> record (db.py) -> rank (ranking.py) -> show / publish (site.py)
    another host: grade submit --sign -> signed record (signing.py) -> grade leaderboard import

The held-out test set of each challenge is split in two halves (split.py). Everything a learner
sees ranks and reports on the public half; the private half's accuracy goes only into the
database and into host-signed records, and appears only with `--final`.

Importing this package is cheap (no numpy, no Keras), so the CLI stays instant.
"""

from grader.leaderboard.errors import LeaderboardError

__all__ = ["LeaderboardError"]
