"""Instructor and student copies of the course notebooks: build them, check a submission, reset one.

::

    python -m setcourse.course build [--check]   # instructor/ -> course/; --check: report stale
    python -m setcourse.course check PATH [PATH ...] [--timeout SECONDS] [--fast] [--json FILE]
                                     [--instructor DIR] [--against NOTEBOOK]
    python -m setcourse.course reset NOTEBOOK [--no-backup]

- :mod:`~setcourse.course.build`: student copies (solutions and hidden tests replaced), stale
  copies, reset.
- :mod:`~setcourse.course.grade`: grade exercises: student cells in a fresh kernel, the checkers
  in the grading process (results that printed text cannot forge).
- :mod:`~setcourse.course.session`: the notebooks' shared setup (fast mode, data).
- :mod:`~setcourse.course.cli`: the command line (``__main__`` runs it).
"""
from .build import (HIDDEN_TESTS, INSTRUCTOR_ONLY, RAISES, SOLUTION, build, exercise_of,
                    find_root, instructor_only, notebooks_under, render, replace_regions, reset,
                    stale_copies, student_cell, student_copies, student_notebook)
from .cli import main, parser
from .grade import (DEFAULT_TIMEOUT, ExerciseResult, NotebookResult, check, check_notebook,
                    format_result)
from .session import fast_mode, setup

__all__ = ["DEFAULT_TIMEOUT", "ExerciseResult", "HIDDEN_TESTS", "INSTRUCTOR_ONLY", "NotebookResult",
           "RAISES", "SOLUTION", "build", "check", "check_notebook", "exercise_of", "fast_mode",
           "find_root", "format_result", "instructor_only", "main", "notebooks_under", "parser",
           "render", "replace_regions", "reset", "setup", "stale_copies", "student_cell",
           "student_copies", "student_notebook"]
