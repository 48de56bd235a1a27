"""`python -m grader.cli` is `grade`."""

from grader.launch import drop_working_folder_from_path

# `python -m` put the folder it was started from first on sys.path: no learner file there may
# shadow a module that the grader imports later.
drop_working_folder_from_path()

from grader.cli import main  # noqa: E402

main()
