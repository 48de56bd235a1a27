"""Reports of a grading: the terminal report (terminal.py) and the HTML report (html.py)."""

# The HTML report's name in a run folder, beside result.json.
REPORT_FILE = "report.html"
