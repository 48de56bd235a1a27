"""Jinja2 templates of the static leaderboard site (kept in Python so packaging needs no data files).

Every value is autoescaped. Cells carry classes (rank, learner, score, accuracy, gap, date) so
that tests and scripts can read the ranking back from the rendered page.
"""

from __future__ import annotations

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; }
.note { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0 2rem; }
th, td { padding: 0.35rem 0.6rem; border-bottom: 1px solid #ddd; text-align: left; }
td.rank, td.score, td.accuracy, td.gap, td.submissions { text-align: right; font-variant-numeric: tabular-nums; }
tr:first-child td.rank { font-weight: bold; }
.half { display: inline-block; padding: 0.1rem 0.5rem; border-radius: 0.3rem; background: #eef; }
.final { background: #efe; }
"""

BASE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %}</title>
<style>{{ style }}</style>
</head>
<body>
{% block body %}{% endblock %}
<p class="note">Generated {{ generated_at }} UTC by cnn-grader {{ grader_version }}.</p>
</body>
</html>
"""

INDEX = """{% extends "base.html" %}
{% block title %}Leaderboards{% endblock %}
{% block body %}
<h1>Leaderboards</h1>
<p class="note"><span class="half{{ ' final' if final else '' }}">{{ half_note }}</span></p>
{% if challenges %}
<ul id="challenges">
{% for item in challenges %}
  <li><a href="{{ item.name }}/index.html">{{ item.title }}</a> ({{ item.learners }} learner{{ '' if item.learners == 1 else 's' }})</li>
{% endfor %}
</ul>
{% else %}
<p id="empty">Nothing has been submitted yet.</p>
{% endif %}
<p class="note">Data: <a href="leaderboard.json">leaderboard.json</a>, <a href="leaderboard.csv">leaderboard.csv</a></p>
{% endblock %}
"""

CHALLENGE = """{% extends "base.html" %}
{% block title %}{{ title }}: leaderboard{% endblock %}
{% block body %}
<p><a href="../index.html">All leaderboards</a></p>
<h1>{{ title }}</h1>
<p class="note"><span class="half{{ ' final' if final else '' }}">{{ half_note }}</span></p>
{% for board in boards %}
<h2>Profile {{ board.profile }}</h2>
<table class="leaderboard" data-challenge="{{ board.challenge }}" data-profile="{{ board.profile }}" data-half="{{ board.half }}">
<thead><tr><th>Rank</th><th>Learner</th><th>Score</th><th>Accuracy</th><th>Gap</th><th>Date (UTC)</th><th>Entries</th></tr></thead>
<tbody>
{% for s in board.standings %}
<tr>
  <td class="rank">{{ s.rank }}</td>
  <td class="learner">{{ s.learner }}</td>
  <td class="score">{{ s.score | points }} / {{ s.max_score | points }}</td>
  <td class="accuracy">{{ s.accuracy | fraction }}</td>
  <td class="gap">{{ s.gap | signed }}</td>
  <td class="date">{{ s.submitted_at | date }}</td>
  <td class="submissions">{{ s.submissions }}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% endfor %}
<p class="note">Data: <a href="leaderboard.json">leaderboard.json</a>, <a href="leaderboard.csv">leaderboard.csv</a></p>
{% endblock %}
"""

TEMPLATES = {"base.html": BASE, "index.html": INDEX, "challenge.html": CHALLENGE}
