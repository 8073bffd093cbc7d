"""Instructor and student copies of the course notebooks: build them, check a submission, reset one.

::

    python -m setcourse.course build [--check]   # instructor/ -> course/; --check: report stale
    python -m setcourse.course check PATH [PATH ...] [--timeout SECONDS] [--fast] [--json FILE]
    python -m setcourse.course reset NOTEBOOK [--no-backup]

- :mod:`~setcourse.course.build`: student copies (solutions and hidden tests replaced), stale
  copies, reset.
- :mod:`~setcourse.course.grade`: run notebooks with nbval and grade their exercises.
- :mod:`~setcourse.course.plugin`: the pytest plugin that records each cell's outputs.
- :mod:`~setcourse.course.session`: the notebooks' shared setup (fast mode, data).
- :mod:`~setcourse.course.cli`: the command line (``__main__`` runs it).
"""
from .build import (HIDDEN_TESTS, RAISES, SOLUTION, build, exercise_of, find_root,
                    notebooks_under, render, replace_regions, reset, stale_copies, student_cell,
                    student_copies, student_notebook)
from .cli import main, parser
from .grade import (DEFAULT_TIMEOUT, ExerciseResult, NotebookResult, check, format_result,
                    run_nbval, summarize)
from .session import fast_mode, setup

__all__ = ["DEFAULT_TIMEOUT", "ExerciseResult", "HIDDEN_TESTS", "NotebookResult", "RAISES",
           "SOLUTION", "build", "check", "exercise_of", "fast_mode", "find_root",
           "format_result", "main", "notebooks_under", "parser", "render", "replace_regions",
           "reset", "run_nbval", "setup", "stale_copies", "student_cell", "student_copies",
           "student_notebook", "summarize"]
