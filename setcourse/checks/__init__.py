"""Checkers for the course's coding exercises: run the student's function, print ✓ or ✗ with a hint.

Each ``check_<exercise>(fn)`` calls ``fn`` on cases with known answers (edge cases
included), compares with the package's reference implementation, prints one friendly
report and returns True or False (see :mod:`~setcourse.checks.runner`). One module per
exercise, named after it:

- :mod:`~setcourse.checks.erdos_renyi_mask` (module 01),
- :mod:`~setcourse.checks.set_prune` (module 02),
- :mod:`~setcourse.checks.in_degrees` (module 03),
- :mod:`~setcourse.checks.recipe_kwargs`, :mod:`~setcourse.checks.summarize_history` and
  :mod:`~setcourse.checks.in_degree_pmf` (module 05, Tasks 1-3),
- :mod:`~setcourse.checks.free_energy` (module 06).

A new exercise ``foo`` is a module ``checks/foo.py`` with ``check_foo`` and a line here
(and ``reference_foo`` if a notebook goes on with :func:`answer_or_reference`).
"""
from .erdos_renyi_mask import check_erdos_renyi_mask
from .fallback import answer_or_reference
from .free_energy import check_free_energy, reference_free_energy
from .in_degree_pmf import check_in_degree_pmf, reference_in_degree_pmf
from .in_degrees import check_in_degrees, reference_in_degrees
from .recipe_kwargs import check_recipe_kwargs
from .runner import (ASCII_MARKS, FAILED, MARKS, NOT_ATTEMPTED, PASSED, Case, Mismatch, Verdict,
                     collect_verdicts, emit, parse_reports, report, run_checker, show)
from .set_prune import check_set_prune
from .summarize_history import check_summarize_history, reference_summary

__all__ = ["ASCII_MARKS", "FAILED", "MARKS", "NOT_ATTEMPTED", "PASSED", "Case", "Mismatch",
           "Verdict", "answer_or_reference", "check_erdos_renyi_mask", "check_free_energy", "check_in_degree_pmf", "check_in_degrees",
           "check_recipe_kwargs", "check_set_prune", "check_summarize_history",
           "collect_verdicts", "emit", "parse_reports", "reference_free_energy", "reference_in_degree_pmf",
           "reference_in_degrees", "reference_summary", "report", "run_checker", "show"]
