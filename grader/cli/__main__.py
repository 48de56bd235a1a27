"""`python -m grader.cli` is `grade`."""

from grader.cli import main

main()
