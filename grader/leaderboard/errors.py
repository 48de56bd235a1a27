"""The one exception the leaderboard raises for bad input: its message says what is wrong and what to do."""

from __future__ import annotations


class LeaderboardError(Exception):
    """A database, record, key or output folder that cannot be used as asked. Nothing was changed."""
