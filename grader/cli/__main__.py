"""`python -m grader.cli` is `grade` (grader/__init__.py keeps the starting folder off sys.path)."""

from grader.cli import main

main()
