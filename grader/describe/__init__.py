"""The describe step: the learner's code runs here, and only here, in a sandboxed child.

sandbox/   the child process, its isolation, limits and box (docs/security.md)
step.py    prepares the child's inputs and turns what it wrote back into facts"""
