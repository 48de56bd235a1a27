"""Bridges to course platforms: Jupyter notebooks, nbgrader and Gradescope.

Each module is small and imports its heavy dependencies (nbformat, Keras) inside functions,
so `grade --help` stays fast.
"""
