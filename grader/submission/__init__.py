"""The submission: its file and run folder (files), what its source says without running it
(source), a notebook read as a script (notebook)."""
