"""Grading a whole course at once (`grade batch`): see grader/batch/run.py for the steps.

inputs.py     which submissions, whose (folder, CSV list, nbgrader course)
jobs.py       one grading: its key, and its worker process
worker.py     the process that grades one job
engines.py    where jobs run: this machine (--jobs N) or Ray tasks
run.py        the driver: plan, skip what is recorded, run, record, gradebook
gradebook.py  the CSV course tools import
progress.py   the live bar and the final table
"""
